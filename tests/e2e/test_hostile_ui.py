"""Hostile names stored verbatim by the hub are shown as text by its UI, never run as HTML.

The hub runs on loopback (uvicorn in a thread); Debian's chromium renders the overview, the plant
page and the nodes page through Playwright. A name that would run script sets ``window.__pwned``
or adds an element; the checks look for both, and for the name shown literally.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image as PILImage

from hub.app import create_app
from hub.settings import Environment, HubSettings
from tests.conftest import CHROMIUM
from tests.hub.loopback import LoopbackServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

PASSWORD = "hostile ui admin password"
MAC = "02:AB:CD:EF:01:23"
PLANT_NAME = "<img src=x onerror=\"window.__pwned='img'\">Basil"
LOCATION = "<script>window.__pwned='script'</script>sill"
NODE_NAME = '"><svg onload="window.__pwned=\'svg\'">node'
INJECTED = 'img[src="x"], svg[onload], [onerror]'  # what the names would add as HTML
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, str]]:
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path / "hub",
        cloud_url=None,
        ble_enabled=False,
        image_upload_bytes_per_s=None,
    )
    with LoopbackServer(create_app(settings, run_scheduler=False)) as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.post("/api/v1/auth/password", json={"password": PASSWORD}).raise_for_status()
            http.auth = httpx.BasicAuth("admin", PASSWORD)
            http.post("/api/v1/nodes", json={"mac": MAC, "name": NODE_NAME}).raise_for_status()
            plant = http.post(
                "/api/v1/plants", json={"name": PLANT_NAME, "location": LOCATION, "node_mac": MAC}
            )
            plant.raise_for_status()
            assert plant.json()["name"] == PLANT_NAME
            out = io.BytesIO()
            PILImage.new("RGB", (64, 48), (60, 160, 50)).save(out, "JPEG")
            http.post(
                "/api/v1/images",
                files={"file": ("<b>photo</b>.jpg", out.getvalue(), "image/jpeg")},
                data={"plant_id": plant.json()["id"]},
            ).raise_for_status()
        yield server.url, plant.json()["id"]


def test_hostile_names_render_as_text(hub: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, plant_id = hub
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=url)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            checks: list[tuple[str, str]] = [
                ("/", PLANT_NAME),
                (f"/plants/{plant_id}", PLANT_NAME),
                ("/nodes", NODE_NAME),
            ]
            for path, shown in checks:
                page.goto(path)
                expect(page.get_by_text(shown, exact=False).first).to_be_visible(timeout=15_000)
                assert page.evaluate("() => window.__pwned") is None, path
                injected: Any = page.evaluate(
                    f"() => document.querySelectorAll('{INJECTED}').length"
                )
                assert injected == 0, path
            assert not errors, errors
        finally:
            browser.close()
