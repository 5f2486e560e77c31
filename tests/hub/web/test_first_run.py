"""A brand-new hub: the first change made in the browser asks the gardener to choose the admin
password, and the UI is logged in afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from hub.ble.emulator import EmulatedGarden
from hub.hub_store import HubStore
from hub.settings import Environment, HubSettings
from tests.hub.web.harness import RunningServers, start_servers

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def new_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServers]:
    """A hub with no admin password, one emulated node in range, no cloud."""
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path_factory.mktemp("hub-first-run"),
        ble_passive_scan=False,
        ble_status_interval_s=0.5,
    )

    async def nothing(_store: HubStore) -> None:
        return None

    garden = EmulatedGarden(1, speed=1.0, sampling_interval_s=10, photo_every_s=None)
    servers = start_servers(settings, garden=garden, seed=nothing)
    try:
        yield servers
    finally:
        servers.stop()


def test_first_change_asks_to_choose_the_admin_password(
    browser: Any, new_hub: RunningServers
) -> None:
    context = browser.new_context(base_url=new_hub.hub_url)
    page = context.new_page()
    try:
        page.goto("/")
        expect(page.locator("#cards")).to_contain_text("No plants yet")
        form = page.locator("#add-plant-form")
        form.get_by_label("Name").fill("Monstera")
        form.get_by_role("button", name="Add plant").click()
        dialog = page.get_by_role("dialog", name="Choose an admin password")
        expect(dialog).to_be_visible()
        password = dialog.get_by_label("Password", exact=True)
        password.fill("short")
        dialog.get_by_label("Repeat the password").fill("short")
        dialog.get_by_role("button", name="Continue").click()
        # The browser holds back a too-short password; a mismatch is explained in the dialog.
        assert password.evaluate("e => e.validity.tooShort") is True
        expect(dialog).to_be_visible()
        password.fill("my-first-garden")
        dialog.get_by_label("Repeat the password").fill("my-first-gardne")
        dialog.get_by_role("button", name="Continue").click()
        expect(dialog.get_by_role("alert")).to_have_text("The two passwords differ.")
        dialog.get_by_label("Password", exact=True).fill("my-first-garden")
        dialog.get_by_label("Repeat the password").fill("my-first-garden")
        dialog.get_by_role("button", name="Continue").click()
        expect(dialog).to_be_hidden()
        expect(page.locator("article.card")).to_have_count(1)
        expect(page.get_by_role("link", name="Monstera")).to_be_visible()
        auth = httpx.get(f"{new_hub.hub_url}/api/v1/auth", auth=("admin", "my-first-garden"))
        assert auth.json() == {"password_set": True, "authenticated": True}
        page.goto("/settings")
        expect(page.locator("#password-state")).to_contain_text("logged in")
    finally:
        context.close()
