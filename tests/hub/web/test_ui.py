"""The gardener's web UI in a real browser (Debian's chromium) against a running hub whose
gateway hears an emulated garden over the Bumble radio, with a real cloud beside it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.hub.web.conftest import PLANT_NAMES, Garden, login, screenshot

pytestmark = pytest.mark.browser


def test_overview_shows_every_plant_with_status_in_words(page: Any, garden: Garden) -> None:
    page.goto("/")
    cards = page.locator("article.card")
    expect(cards).to_have_count(len(PLANT_NAMES))
    for name in PLANT_NAMES:
        card = page.locator("article.card", has=page.get_by_role("link", name=name))
        expect(card).to_be_visible()
        # Live readings from the emulated node: a value and a worded status per metric.
        moisture = card.locator('li[data-metric="moisture"]')
        expect(moisture.locator(".value")).to_have_text(re.compile(r"^\d+ %$"))
        expect(moisture.locator(".status")).to_have_text(re.compile(r"OK|Too low|Too high"))
        expect(card.locator('[data-role="battery"]')).to_have_text(re.compile(r"^\d+ %$"))
    orchid = page.locator("article.card", has=page.get_by_role("link", name="Bog orchid"))
    # The orchid's species wants 97 % moisture: the emulated soil is drier, so it is low and alerts.
    expect(orchid.locator('li[data-metric="moisture"] .status')).to_have_text("↓ Too low")
    expect(orchid.locator(".alerts li").first).to_contain_text("moisture")
    basil = page.locator("article.card", has=page.get_by_role("link", name=PLANT_NAMES[0]))
    expect(basil.locator("img.thumb")).to_have_attribute("alt", f"Latest photo of {PLANT_NAMES[0]}")
    screenshot(page, "overview")
