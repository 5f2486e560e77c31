"""The garden's sync health (the items the hub reported unsent, its last sync error), light by
the day's integral on the garden and plant pages, and the daily e-mail digest on the account
page: on a phone, in dark mode, by keyboard, against a real cloud with an SMTP relay."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from shared.sync import SYNC_STATUS_PATH
from tests.cloud.app.conftest import (
    PHONE,
    CloudSite,
    cloud_settings,
    new_page,
    no_horizontal_scroll,
    screenshot,
    sign_in,
)
from tests.cloud.app.site import seed_garden, serve
from tests.cloud.conftest import create_database, drop_database
from tests.cloud.notifications.receivers import smtp_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, pg_server: Any, migrated_template: str
) -> Iterator[CloudSite]:
    """The app's site with an SMTP relay, so e-mail (and the digest) can be turned on."""
    from cloud.app import create_app

    database = create_database(pg_server, migrated_template)
    objects = tmp_path_factory.mktemp("app-objects")
    try:
        with (
            smtp_server() as mail,
            serve(
                lambda url: create_app(
                    cloud_settings(
                        pg_server.uri(database),
                        url,
                        objects,
                        smtp_host=mail.host,
                        smtp_port=mail.port,
                        smtp_starttls=False,
                    )
                )
            ) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            garden = seed_garden(http, "sync-health@example.org")
            yield CloudSite(url, garden, http)
    finally:
        with contextlib.suppress(psycopg.Error):
            drop_database(pg_server, database)


def dark_phone(browser: Any, url: str) -> Any:
    page = new_page(browser, url, PHONE)
    page.emulate_media(color_scheme="dark")
    return page


def test_garden_shows_pending_items_and_light_by_the_day(site: CloudSite, browser: Any) -> None:
    from playwright.sync_api import expect

    report = {
        "pending": {"readings": 1240, "image_bytes": 1, "alerts": 0},
        "oldest_pending_reading_at": "2026-12-03T06:00:00Z",
        "last_error": "readings: cloud answered 503 <b>busy</b>",
    }
    put = site.http.put(SYNC_STATUS_PATH, json=report, headers=site.garden.hub_headers)
    assert put.status_code == 204, put.text
    page = dark_phone(browser, site.url)
    sign_in(page, site.garden.email)
    hub = page.locator(".hubs li", has_text="Balcony hub")
    pending = hub.locator("[data-role=pending]")
    expect(pending).to_contain_text("Waiting to be sent: 1,240 readings, 1 photo to upload")
    expect(pending).to_have_attribute("data-total", "1241")
    # The error the hub reported renders as text, markup and all.
    expect(hub.locator("[data-role=sync-error]")).to_have_text(
        "⚠ Last sync failed: readings: cloud answered 503 <b>busy</b>"
    )
    assert hub.locator("b").count() == 0
    # Light: the day's integral against the plant's range, not the last reading.
    light = page.locator("article.card", has_text="Basil by the door").locator(
        '[data-metric="illuminance"]'
    )
    expect(light.locator(".range")).to_contain_text("DLI")
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    screenshot(page, "cloud-app-garden-sync-health-dark-phone")
    assert no_horizontal_scroll(page)
    page.locator("article.card", has_text="Basil by the door").get_by_role(
        "link", name="Basil by the door"
    ).click()
    page.locator("body[data-ready=true]").wait_for()
    panel = page.locator("#light")
    expect(panel.get_by_role("heading", name="Daily light")).to_be_visible()
    expect(panel.locator('[data-day="yesterday"]')).to_contain_text("mol/m²/day")
    assert no_horizontal_scroll(page)
    screenshot(page, "cloud-app-plant-daily-light-dark-phone")
    assert not page.errors


def test_the_daily_digest_is_turned_on_by_keyboard(site: CloudSite, browser: Any) -> None:
    from playwright.sync_api import expect

    page = dark_phone(browser, site.url)
    sign_in(page, site.garden.email)
    page.goto("/app/account")
    page.locator("body[data-ready=true]").wait_for()
    digest = page.get_by_label("Daily e-mail digest")
    expect(digest).not_to_be_checked()
    expect(page.locator("#email-digest-note")).to_contain_text("from 07:00, UTC time")
    digest.focus()
    page.keyboard.press("Space")
    expect(page.locator("#notifications [role=status]")).to_contain_text("Daily digest on")
    expect(digest).to_be_checked()
    # Turning it on took the browser's time zone for the gardener's day.
    me = site.http.get("/api/v1/auth/me", headers=site.garden.user_headers).json()
    zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert me["time_zone"] == zone
    prefs = site.http.get(
        "/api/v1/notifications/preferences", headers=site.garden.user_headers
    ).json()
    assert prefs["email_digest"] is True
    # The time zone is a field of the display form too.
    field = page.get_by_label("Time zone (e.g. Europe/Berlin)")
    field.fill("Europe/Berlin")
    page.locator("#display-form").get_by_role("button", name="Save").click()
    expect(page.locator("#display-form [role=status]")).to_contain_text("Saved")
    me = site.http.get("/api/v1/auth/me", headers=site.garden.user_headers).json()
    assert me["time_zone"] == "Europe/Berlin"
    field.fill("Mars/Olympus")
    page.locator("#display-form").get_by_role("button", name="Save").click()
    expect(page.locator("#display-form")).to_contain_text("time zone")
    assert no_horizontal_scroll(page)
    screenshot(page, "cloud-app-account-digest-dark-phone")
    assert not page.errors
