"""Browser-test fixtures of the cloud app: a real cloud (embedded PostgreSQL) on loopback per
module with a seeded garden, Debian's chromium through Playwright, a signed-in page."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.cloud.app.site import PASSWORD, SeededGarden, seed_garden, serve
from tests.cloud.conftest import create_database, drop_database
from tests.conftest import CHROMIUM

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class CloudSite:
    """The running cloud and what was seeded in it."""

    url: str
    garden: SeededGarden
    http: httpx.Client


def cloud_settings(database_url: str, base_url: str, objects: Path, **extra: Any) -> Any:
    """Settings of a test cloud: the app's real configuration, quiet and quick."""
    from cloud.settings import CloudSettings

    return CloudSettings(
        database_url=database_url,
        stale_check_enabled=False,
        device_poll_interval_s=0,
        log_level="WARNING",
        db_pool_size=4,
        public_base_url=base_url,
        storage_dir=objects,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        **extra,
    )


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, pg_server: Any, migrated_template: str
) -> Iterator[CloudSite]:
    from cloud.app import create_app

    database = create_database(pg_server, migrated_template)
    objects = tmp_path_factory.mktemp("app-objects")
    try:
        with (
            serve(
                lambda url: create_app(cloud_settings(pg_server.uri(database), url, objects))
            ) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            garden = seed_garden(http, "gardener@example.org")
            yield CloudSite(url, garden, http)
    finally:
        with contextlib.suppress(psycopg.Error):
            drop_database(pg_server, database)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (never ``playwright install``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_page(browser: Any, url: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """A fresh context (no storage) and page; JavaScript errors collected in ``page.errors``."""
    context = browser.new_context(viewport=viewport, base_url=url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Through the sign-in form, landing on the garden."""
    page.goto("/app/signin")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/")
    page.locator("body[data-ready=true]").wait_for()


def screenshot(page: Any, name: str) -> None:
    """A full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def no_horizontal_scroll(page: Any) -> bool:
    """The page fits its viewport's width."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))
