"""The cloud app's pages in Debian's chromium against a real cloud: sign-in, the garden with
the hub's status words, the plant page (charts with read-out, photos, diagnoses, alerts),
editing thresholds, the account page, at phone and desktop widths."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.cloud.app.conftest import (
    PHONE,
    CloudSite,
    new_page,
    no_horizontal_scroll,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def test_garden_and_plant_pages(site: CloudSite, browser: Any) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, site.url)
    sign_in(page, site.garden.email)
    card = page.locator("article.card", has_text="Basil by the door")
    expect(card.locator('[data-metric="moisture"] .status')).to_have_text("↓ Too low")
    expect(page.locator(".hubs li", has_text="Balcony hub")).to_contain_text("Online")
    screenshot(page, "cloud-app-garden-desktop")
    card.get_by_role("link", name="Basil by the door").click()
    page.locator("body[data-ready=true]").wait_for()
    expect(page.locator('#tiles [data-metric="moisture"] .status')).to_have_text("↓ Too low")
    chart = page.locator('.chart[data-metric="moisture"]')
    assert int(chart.get_attribute("data-points") or 0) > 10
    chart.locator("svg").hover()
    expect(chart.locator("[data-role=readout]")).to_contain_text("%")
    expect(page.locator("#diagnosis article.diagnosis").first).to_be_visible()
    expect(page.locator("#plant-alerts [data-status=open]").first).to_contain_text(
        re.compile("moisture", re.I)
    )
    # The node's second temperature sensor (channel 1) has its tile and chart.
    expect(page.locator('#tiles [data-metric="temperature"][data-channel="1"]')).to_contain_text(
        "Temperature 2"
    )
    soil = page.locator('.chart[data-metric="temperature"][data-channel="1"]')
    expect(soil.locator("figcaption")).to_have_text("Temperature 2 (°C)")
    assert int(soil.get_attribute("data-points") or 0) > 10
    expect(page.locator('.chart[data-channel="1"]')).to_have_count(1)
    soil.scroll_into_view_if_needed()
    screenshot(page, "cloud-app-plant-channels")
    page.get_by_role("button", name="1 year").click()
    expect(chart).to_have_attribute("data-resolution", re.compile("hour|day"))
    screenshot(page, "cloud-app-plant-desktop")
    page.goto("/app/nodes")
    page.locator("body[data-ready=true]").wait_for()
    expect(page.locator('[data-role="adverts"] dd')).to_have_text(
        "1432 stored · 5790 duplicate · 3 wrong key"
    )
    screenshot(page, "cloud-app-nodes-desktop")
    assert not page.errors


def test_phone_width_has_no_horizontal_scroll(site: CloudSite, browser: Any) -> None:
    page = new_page(browser, site.url, PHONE)
    sign_in(page, site.garden.email)
    plant_id = site.garden.plants["Basil by the door"]["id"]
    for path, name in [
        ("/app/", "garden"),
        (f"/app/plants/{plant_id}", "plant"),
        (f"/app/plants/{plant_id}/edit", "edit"),
        ("/app/alerts", "alerts"),
        ("/app/nodes", "nodes"),
        ("/app/account", "account"),
    ]:
        page.goto(path)
        page.locator("body[data-ready=true]").wait_for()
        screenshot(page, f"cloud-app-{name}-phone")
        assert no_horizontal_scroll(page), path
    assert not page.errors


HOSTILE_PLANT = "<img src=x onerror=\"window.__pwned='img'\">Basil"
HOSTILE_NODE = '"><svg onload="window.__pwned=\'svg\'">node'
HOSTILE_LOCATION = "<script>window.__pwned='script'</script>sill"


def test_names_with_markup_render_as_text(site: CloudSite, browser: Any) -> None:
    from playwright.sync_api import expect

    user = site.garden.user_headers
    node = site.http.post(
        "/api/v1/nodes",
        json={"mac": "02:AA:BB:CC:DD:EE", "name": HOSTILE_NODE, "hub_id": site.garden.hub_id},
        headers=user,
    )
    assert node.status_code == 201, node.text
    plant = site.http.post(
        "/api/v1/plants",
        json={"name": HOSTILE_PLANT, "location": HOSTILE_LOCATION, "node_id": node.json()["id"]},
        headers=user,
    )
    assert plant.status_code == 201, plant.text
    page = new_page(browser, site.url)
    sign_in(page, site.garden.email)
    for path, shown in [
        ("/app/", HOSTILE_PLANT),
        (f"/app/plants/{plant.json()['id']}", HOSTILE_PLANT),
        (f"/app/plants/{plant.json()['id']}/edit", HOSTILE_LOCATION),
        ("/app/nodes", HOSTILE_NODE),
    ]:
        page.goto(path)
        page.locator("body[data-ready=true]").wait_for()
        if path.endswith("/edit"):
            expect(page.get_by_label("Where it grows (optional)")).to_have_value(shown)
        else:
            expect(page.get_by_text(shown, exact=False).first).to_be_visible()
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator('img[src="x"], svg[onload], [onerror]').count() == 0, path
    site.http.delete(f"/api/v1/plants/{plant.json()['id']}", headers=user)
    site.http.delete(f"/api/v1/nodes/{node.json()['id']}", headers=user)
    assert not page.errors


def test_offline_the_installed_app_opens_with_its_last_data_and_age(
    site: CloudSite, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, site.url, PHONE)
    sign_in(page, site.garden.email)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # installed: shell cached
    page.reload()  # now under the worker: this visit's API answers are kept
    page.locator("body[data-ready=true]").wait_for()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    plant_id = site.garden.plants["Basil by the door"]["id"]
    page.goto(f"/app/plants/{plant_id}")
    page.locator("body[data-ready=true]").wait_for()
    expect(page.locator("#offline")).to_be_hidden()

    page.context.set_offline(True)
    try:
        page.goto("/app/")
        page.locator("body[data-ready=true]").wait_for()
        banner = page.locator("#offline")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Offline — showing data from")
        expect(banner).to_contain_text("ago")
        assert int(banner.get_attribute("data-cached-at") or 0) > 0
        card = page.locator("article.card", has_text="Basil by the door")
        expect(card.locator('[data-metric="moisture"] .status')).to_have_text("↓ Too low")
        screenshot(page, "cloud-app-offline-phone")
        page.goto(f"/app/plants/{plant_id}")
        page.locator("body[data-ready=true]").wait_for()
        expect(page.locator('#tiles [data-metric="moisture"]')).to_contain_text("%")
        expect(page.locator("#offline")).to_be_visible()
    finally:
        page.context.set_offline(False)
    page.goto("/app/")
    page.locator("body[data-ready=true]").wait_for()
    expect(page.locator("#offline")).to_be_hidden()
    assert not page.errors
