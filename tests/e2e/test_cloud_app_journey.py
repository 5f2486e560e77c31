"""The gardener's journey through the cloud app, on Debian's chromium, against a real cloud
(embedded PostgreSQL, inline worker, heuristic diagnoser) and a real hub with emulated nodes:

sign up → the hub starts linking and its verification_uri_complete opens the app's approval
page pre-filled → approve → the hub's nodes and readings arrive → add a plant on that node →
edit a threshold ("waiting for the hub") → the hub pulls it (and the badge goes) → an alert
opens → a Web Push message (decrypted by the test's push service with the browser's keys) and
an e-mail (to the test's SMTP server) arrive → a photo's diagnosis is visible with what to do →
acknowledge the alert.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.ble.emulator import EmulatedGarden
from hub.hub_store import HubStore
from hub.settings import Environment, HubSettings
from tests.cloud.app.conftest import CHROMIUM_ARGS, new_page, screenshot
from tests.cloud.app.site import jpeg
from tests.cloud.conftest import create_database
from tests.cloud.notifications.receivers import MailServer, PushService, push_service, smtp_server
from tests.conftest import CHROMIUM
from tests.hub.web.harness import RunningServers, history, start_servers, utc_now

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(420)]

ADMIN = ("admin", "journey-hub-admin-pw")
EMAIL = "journey@example.org"
PASSWORD = "journey-gardener-pw"


def eventually(
    check: Callable[[], Any], what: str, timeout: float = 120.0, every: float = 0.5
) -> Any:
    """``check()``'s first truthy answer; fails after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(every)


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[PushService, MailServer]]:
    with push_service() as push, smtp_server() as mail:
        yield push, mail


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: Any,
    migrated_template: str,
    receivers: tuple[PushService, MailServer],
) -> Iterator[RunningServers]:
    from cloud.app import create_app
    from cloud.settings import CloudSettings

    _push, mail = receivers
    database = create_database(pg_server, migrated_template)
    root: Path = tmp_path_factory.mktemp("journey")

    def cloud_app(url: str) -> Any:
        return create_app(
            CloudSettings(
                database_url=pg_server.uri(database),
                public_base_url=url,
                storage_dir=root / "objects",
                vapid_key_file=root / "vapid.pem",
                smtp_host=mail.host,
                smtp_port=mail.port,
                smtp_starttls=False,
                egress_allowed_networks=["127.0.0.0/8"],
                stale_check_enabled=False,
                device_poll_interval_s=0,
                alert_min_duration_s=0,
                argon2_time_cost=1,
                argon2_memory_kib=1024,
                log_level="WARNING",
                worker_poll_s=0.2,
            )
        )

    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=root / "hub",
        sync_interval_s=3600,
        sync_backoff_base_s=0.01,
        sync_backoff_max_s=0.05,
        image_upload_bytes_per_s=None,
        alert_interval_s=1.0,
        alert_min_duration_s=0,
        ble_passive_scan=False,
    )
    garden = EmulatedGarden(2, speed=1.0, sampling_interval_s=10, photo_every_s=None)

    async def seed(store: HubStore) -> None:
        now = utc_now()
        for index, node in enumerate(garden.nodes):
            await store.pair_node(
                node.mac, bindkey=garden.bindkeys[node.mac], name=f"Bed {index + 1}"
            )
            await store.store_readings(history(node.mac, now)[-200:])

    running = start_servers(settings, garden=garden, seed=seed, cloud_app=cloud_app)
    try:
        with httpx.Client(base_url=running.hub_url, timeout=30) as hub:
            assert hub.post("/api/v1/auth/password", json={"password": ADMIN[1]}).status_code == 204
        yield running
    finally:
        running.stop()


def test_journey(servers: RunningServers, receivers: tuple[PushService, MailServer]) -> None:
    from playwright.sync_api import expect, sync_playwright

    push, mail = receivers
    cloud_url = servers.cloud_url or ""
    hub = httpx.Client(base_url=servers.hub_url, auth=ADMIN, timeout=60)
    cloud = httpx.Client(base_url=cloud_url, timeout=60)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = new_page(browser, cloud_url)
        # Sign up.
        page.goto("/app/signup")
        page.get_by_label("E-mail").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url("**/app/")
        expect(page.get_by_text("No hub linked yet")).to_be_visible()

        # Notifications: e-mail on for every alert; this browser's push subscription (headless
        # chromium has no vendor push service, so the test's service stands in for it).
        page.goto("/app/account")
        page.get_by_label("An alert opens: E-mail").check()
        expect(page.locator("#notifications [role=status]")).to_have_text("Saved.")
        token = page.evaluate("JSON.parse(localStorage.getItem('plantvita.auth')).access_token")
        user = {"Authorization": f"Bearer {token}"}
        subscribed = cloud.post(
            "/api/v1/notifications/push/subscriptions", json=push.subscription(), headers=user
        )
        assert subscribed.status_code == 201, subscribed.text

        # The hub asks to be linked; its verification_uri_complete opens the approval page.
        started = hub.post("/api/v1/link/start", json={})
        assert started.status_code == 200, started.text
        pending = started.json()["pending"]
        assert pending["verification_uri_complete"].startswith(f"{cloud_url}/app/link?user_code=")
        page.goto(pending["verification_uri_complete"])
        expect(page.get_by_label("Code shown by the hub")).to_have_value(pending["user_code"])
        page.get_by_label("Name for the hub (optional)").fill("Allotment hub")
        screenshot(page, "cloud-app-link-desktop")
        page.get_by_role("button", name="Approve this hub").click()
        expect(page.locator("#link-status [data-result=approved]")).to_be_visible()
        eventually(lambda: hub.post("/api/v1/link/poll").json()["linked"], "the hub to link")
        assert hub.post("/api/v1/sync/now").status_code == 200

        # The garden shows the hub online; add a plant on one of its nodes.
        page.goto("/app/")
        expect(page.locator(".hubs li", has_text="Allotment hub")).to_contain_text("Online")
        page.get_by_role("link", name="Add a plant").click()
        page.get_by_label("Name").fill("Runner beans")
        node_select = page.get_by_label("Node watching it")
        bed = eventually(
            lambda: [t for t in node_select.locator("option").all_inner_texts() if "Bed 1" in t],
            "the hub's node in the list",
        )
        node_select.select_option(label=bed[0])
        page.get_by_role("button", name="Add plant").click()
        page.wait_for_url(re.compile(r"/app/plants/[0-9a-f-]{36}$"))
        plant_id = page.url.rsplit("/", 1)[-1]

        # Edit a threshold: soil moisture must stay above 97 % (the beds are drier).
        page.get_by_role("link", name="Edit plant and thresholds").click()
        page.locator('[data-metric="moisture"]').get_by_label("From (%)").fill("97")
        page.locator('[data-metric="moisture"]').get_by_label("Up to (%)").fill("99")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#save-status")).to_contain_text("waiting for the hub")
        page.goto("/app/")
        card = page.locator("article.card", has_text="Runner beans")
        expect(card.locator("[data-role=config-pending]")).to_be_visible()

        # The hub pulls the change (and confirms it on its next pull): the badge goes.
        assert hub.post("/api/v1/sync/now").status_code == 200
        hub_plants = hub.get("/api/v1/plants").json()
        beans = next(p for p in hub_plants if p["name"] == "Runner beans")
        assert beans["thresholds"]["moisture_min"] == 97
        assert hub.post("/api/v1/sync/now").status_code == 200
        page.reload()
        expect(card.locator("[data-role=config-pending]")).to_have_count(0)

        # New readings (below 97 %) reach the cloud: an alert opens, push and e-mail arrive.
        def alert_open() -> Any:
            hub.post("/api/v1/sync/now")
            answer = cloud.get(f"/api/v1/plants/{plant_id}/alerts", headers=user)
            assert answer.status_code == 200, answer.text
            alerts = answer.json()
            return [a for a in alerts if a["status"] == "open" and a["metric"] == "moisture"]

        alert = eventually(alert_open, "an open moisture alert", every=2)[0]
        pushed = eventually(
            lambda: [m for m in push.received if m.payload["event"] == "alert.opened"],
            "the push message",
        )
        assert "moisture" in pushed[0].payload["body"].lower()
        assert pushed[0].payload["url"] == f"/app/plants/{plant_id}#alerts"
        mails = eventually(
            lambda: [m for m in mail.inbox.messages if m["To"] == EMAIL], "the e-mail"
        )
        assert f"/app/plants/{plant_id}#alerts" in mails[0].get_payload(decode=True).decode()

        # A photo from the hub is diagnosed; the plant page shows it with what to do.
        uploaded = hub.post(
            "/api/v1/images",
            data={"plant_id": beans["id"]},
            files={"file": ("beans.jpg", jpeg(0.3, 5), "image/jpeg")},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert hub.post("/api/v1/sync/now").status_code == 200
        eventually(
            lambda: [
                d
                for d in cloud.get(f"/api/v1/plants/{plant_id}/diagnoses", headers=user).json()
                if d["status"] == "succeeded"
            ],
            "the photo's diagnosis",
        )
        page.goto(f"/app/plants/{plant_id}")
        page.locator("body[data-ready=true]").wait_for()
        diagnosis = page.locator("#diagnosis article.diagnosis[data-status=succeeded]").first
        expect(diagnosis).to_be_visible()
        expect(diagnosis.locator("h4", has_text="What to do")).to_be_visible()
        expect(diagnosis.locator(".actions-list li").first).to_be_visible()

        # Acknowledge the alert in the app.
        item = page.locator(f'#plant-alerts [data-alert-id="{alert["id"]}"]')
        expect(item).to_contain_text(re.compile("moisture", re.I))
        screenshot(page, "cloud-app-journey-plant")
        item.get_by_role("button", name="Acknowledge").click()
        expect(page.locator(f'#plant-alerts [data-alert-id="{alert["id"]}"]')).to_have_attribute(
            "data-status", "acknowledged"
        )
        assert cloud.get(f"/api/v1/alerts/{alert['id']}", headers=user).json()["status"] == (
            "acknowledged"
        )
        assert not page.errors
        browser.close()
