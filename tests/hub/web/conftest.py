"""Browser-test fixtures: one hub with an emulated garden and a real cloud per module, one
chromium (Debian's, through Playwright) per module, a fresh page per test."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from hub.ble.emulator import EmulatedGarden
from hub.ble.ports import DecodedReading
from hub.hub_store import HubStore
from hub.plants.models import Species
from hub.settings import Environment, HubSettings
from shared.metrics import Metric
from shared.sync import Thresholds
from tests.cloud.conftest import create_database, drop_database
from tests.conftest import CHROMIUM
from tests.hub.web.harness import RunningServers, history, start_servers, utc_now

ADMIN_PASSWORD = "garden-admin-pw"
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
PAIRED = 3  # the garden's first three nodes start paired; the fourth waits on the Nodes page
SPECIES = {
    1: (
        "Basil",
        "Ocimum basilicum",
        Thresholds(
            moisture_min=30,
            moisture_max=70,
            temperature_min=15,
            temperature_max=30,
            humidity_min=40,
            humidity_max=80,
            light_lux_min=2000,
            light_lux_max=40000,
        ),
    ),
    2: (
        "Bog orchid",
        "Platanthera dilatata",
        Thresholds(
            moisture_min=97,
            moisture_max=100,
            temperature_min=10,
            temperature_max=25,
        ),
    ),
}
PLANT_NAMES = ["Basil by the door", "Tomato bed", "Bog orchid"]


@dataclass
class Garden:
    """The running hub, its emulated garden and what the test seeded."""

    servers: RunningServers
    plants: dict[str, str]  # name -> id
    macs: list[str]  # every emulated node, paired ones first
    bindkeys: dict[str, bytes]
    cloud_http: httpx.Client
    cloud_token: str | None = None  # the linked gardener's cloud token, once linked

    @property
    def url(self) -> str:
        return self.servers.hub_url

    def api(self) -> httpx.Client:
        """An admin client for the hub's API."""
        return httpx.Client(base_url=self.url, auth=("admin", ADMIN_PASSWORD), timeout=30)


def jpeg(cover: float, seed: int) -> bytes:
    """A 320×240 photo: a green plant covering about ``cover`` of brown soil."""
    image = Image.new("RGB", (320, 240), (96, 72, 48))
    draw = ImageDraw.Draw(image)
    radius = int((cover * 320 * 240 / 3.1416) ** 0.5)
    cx, cy = 160 + seed % 7, 120 - seed % 5
    draw.ellipse(
        (cx - radius, cy - radius, cx + radius, cy + radius), fill=(52, 140 + seed % 20, 40)
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def garden(
    tmp_path_factory: pytest.TempPathFactory, pg_server: Any, migrated_template: str
) -> Iterator[Garden]:
    """A hub serving the UI with 4 emulated nodes (3 paired) and a real cloud beside it."""
    from cloud.app import create_app as create_cloud_app
    from cloud.settings import CloudSettings

    database = create_database(pg_server, migrated_template)
    objects = tmp_path_factory.mktemp("cloud-objects")

    def cloud_app(url: str) -> Any:
        return create_cloud_app(
            CloudSettings(
                database_url=pg_server.uri(database),
                stale_check_enabled=False,
                device_poll_interval_s=0,
                log_level="WARNING",
                db_pool_size=4,
                public_base_url=url,
                storage_dir=objects,
                diagnosis_enabled=False,
            )
        )

    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path_factory.mktemp("hub-ui"),
        sync_interval_s=3600,
        sync_backoff_base_s=0.01,
        sync_backoff_max_s=0.05,
        image_upload_bytes_per_s=None,
        alert_interval_s=1.0,
        alert_min_duration_s=0,
        ble_passive_scan=False,
        ble_status_interval_s=0.5,
    )
    emulated = EmulatedGarden(4, speed=1.0, sampling_interval_s=10, photo_every_s=None)
    macs = [node.mac for node in emulated.nodes]

    async def seed(store: HubStore) -> None:
        async def add_species(session: AsyncSession) -> None:
            for sid, (common, scientific, thresholds) in SPECIES.items():
                session.add(
                    Species(
                        id=sid,
                        common_name=common,
                        scientific_name=scientific,
                        thresholds=thresholds.model_dump_json(),
                    )
                )
            await session.flush()

        await store.write(add_species)
        now = utc_now()
        for index, mac in enumerate(macs[:PAIRED]):
            await store.pair_node(mac, bindkey=emulated.bindkeys[mac], name=f"Node {index + 1}")
            await store.store_readings(history(mac, now))
        # The tomato bed's node carries a second temperature sensor (channel 1: soil).
        await store.store_readings(
            [
                DecodedReading(
                    node_mac=macs[1],
                    measured_at=now - timedelta(minutes=15 * i),
                    values={Metric.TEMPERATURE: 14.0 + (i % 96) / 24},
                    seq=None,
                    channel=1,
                )
                for i in range(1, 2 * 96)
            ]
        )

    servers = start_servers(settings, garden=emulated, seed=seed, cloud_app=cloud_app)
    plants: dict[str, str] = {}
    try:
        with httpx.Client(base_url=servers.hub_url, timeout=30) as http:
            assert (
                http.post("/api/v1/auth/password", json={"password": ADMIN_PASSWORD}).status_code
                == 204
            )
            http.auth = ("admin", ADMIN_PASSWORD)
            species_ids = [1, None, 2]
            for name, mac, species_id in zip(PLANT_NAMES, macs[:PAIRED], species_ids, strict=True):
                body: dict[str, Any] = {"name": name, "node_mac": mac, "location": "Balcony"}
                if species_id is not None:
                    body["species_id"] = species_id
                created = http.post("/api/v1/plants", json=body)
                assert created.status_code == 201, created.text
                plants[name] = created.json()["id"]
            # Photos over ten days for the gallery and the canopy trend.
            basil = plants[PLANT_NAMES[0]]
            for day in range(5):
                taken = utc_now() - timedelta(days=10 - 2 * day, hours=1)
                uploaded = http.post(
                    "/api/v1/images",
                    data={"plant_id": basil, "captured_at": taken.isoformat()},
                    files={"file": (f"day{day}.jpg", jpeg(0.08 + 0.06 * day, day), "image/jpeg")},
                )
                assert uploaded.status_code == 201, uploaded.text
        with httpx.Client(base_url=servers.cloud_url or "", timeout=30) as cloud_http:
            yield Garden(servers, plants, macs, emulated.bindkeys, cloud_http)
    finally:
        servers.stop()
        # The database is a throwaway on the session's server; a server already gone is fine.
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


@pytest.fixture
def page(browser: Any, garden: Garden) -> Iterator[Any]:
    """A fresh browser context (no cookies) at a laptop-sized viewport."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, base_url=garden.url)
    context.set_default_timeout(15_000)
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login(page: Any) -> None:
    """Answer the admin password dialog the UI opens for a change."""
    dialog = page.get_by_role("dialog", name="Admin password")
    dialog.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    dialog.get_by_role("button", name="Continue").click()
    dialog.wait_for(state="hidden")


os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
