"""A real cloud on loopback for the app's browser tests, and a garden seeded through the public
API the way a hub and a gardener would make one (device flow, sync pushes, photo uploads)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from PIL import Image, ImageDraw

from shared.sync import (
    DEVICE_APPROVE_PATH,
    DEVICE_CODE_GRANT,
    DEVICE_CODE_PATH,
    DEVICE_TOKEN_PATH,
    SYNC_ALERTS_PATH,
    SYNC_IMAGE_SLOTS_PATH,
    SYNC_NODES_PATH,
    SYNC_READINGS_PATH,
)
from tests.hub.loopback import free_port

PASSWORD = "app-gardener-pw-1"


@contextmanager
def serve(make_app: Callable[[str], Any]) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port; ``make_app(base_url)`` builds the app."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(make_app(url), host="127.0.0.1", port=port, log_level="warning")
    )
    server.config.timeout_graceful_shutdown = 2
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the cloud did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def jpeg(cover: float, seed: int) -> bytes:
    """A 320×240 photo: a green plant covering about ``cover`` of brown soil."""
    image = Image.new("RGB", (320, 240), (96, 72, 48))
    draw = ImageDraw.Draw(image)
    radius = int((cover * 320 * 240 / 3.1416) ** 0.5)
    draw.ellipse((160 - radius, 120 - radius, 160 + radius, 120 + radius), fill=(52, 150, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class SeededGarden:
    """What ``seed_garden`` made, with the tokens to make more."""

    email: str
    user_headers: dict[str, str]
    hub_headers: dict[str, str]
    hub_id: str
    node: dict[str, Any]
    plants: dict[str, dict[str, Any]]
    alert_ids: list[str]


def sign_up(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Register and sign in; the Authorization header."""
    http.post("/api/v1/auth/register", json={"email": email, "password": password})
    token = http.post("/api/v1/auth/token", data={"username": email, "password": password})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def link_hub(http: httpx.Client, user: dict[str, str], name: str) -> tuple[str, dict[str, str]]:
    """The device flow as a hub and its user do it: (hub id, hub headers)."""
    codes = http.post(DEVICE_CODE_PATH, json={"hub_name": name}).json()
    http.post(
        DEVICE_APPROVE_PATH, json={"user_code": codes["user_code"]}, headers=user
    ).raise_for_status()
    token = http.post(
        DEVICE_TOKEN_PATH,
        data={"grant_type": DEVICE_CODE_GRANT, "device_code": codes["device_code"]},
    ).json()
    return token["hub_id"], {"Authorization": f"Bearer {token['access_token']}"}


def push_readings(
    http: httpx.Client, hub: dict[str, str], mac: str, times: list[datetime], dry: bool = False
) -> None:
    """Readings at ``times`` in batches (moisture low at the end when ``dry``)."""
    rows = []
    for i, t in enumerate(sorted(times)):
        hour = t.hour + t.minute / 60
        moisture = 45 + 10 * ((t.toordinal() % 7) / 7) - 4 * ((hour % 12) / 12)
        if dry and i >= len(times) - 3:
            moisture = 12.0
        rows.append(
            {
                "node_mac": mac,
                "measured_at": t.isoformat(),
                "moisture": round(moisture, 1),
                "temperature": round(18 + 6 * abs(12 - hour) / 12, 1),
                "humidity": round(55 + 10 * hour / 24, 1),
                "illuminance": max(0.0, 8000 - 1000 * abs(13 - hour)),
                "battery": 80.0,
            }
        )
    for start in range(0, len(rows), 5000):
        pushed = http.post(
            SYNC_READINGS_PATH,
            json={"batch_id": str(uuid.uuid4()), "readings": rows[start : start + 5000]},
            headers=hub,
            timeout=120,
        )
        pushed.raise_for_status()


def upload_photo(
    http: httpx.Client,
    hub: dict[str, str],
    mac: str,
    data: bytes,
    taken: datetime,
    cover: float | None = None,
) -> str:
    """The hub's photo flow: slot, PUT to the signed URL, complete. The image id."""
    import hashlib

    slot = http.post(
        SYNC_IMAGE_SLOTS_PATH,
        json={
            "node_mac": mac,
            "captured_at": taken.isoformat(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "byte_size": len(data),
            "content_type": "image/jpeg",
            # The hub computes green-pixel metrics before it uploads (as a real hub does).
            "metrics": None
            if cover is None
            else {
                "canopy_cover": cover,
                "excess_green_mean": 40.0,
                "green_pixels": int(cover * 320 * 240),
                "brightness": 110.0,
            },
        },
        headers=hub,
    )
    slot.raise_for_status()
    body = slot.json()
    http.put(body["upload_url"], content=data, headers=body["upload_headers"]).raise_for_status()
    done = http.post(f"/api/v1/sync/images/{body['image_id']}/complete", headers=hub)
    done.raise_for_status()
    return str(body["image_id"])


def history_times(now: datetime, days: int) -> list[datetime]:
    """Every 3 h over ``days``, every 15 min over the last 2 days."""
    times = {now - timedelta(hours=3 * i) for i in range(1, days * 8)}
    times |= {now - timedelta(minutes=15 * i) for i in range(1, 2 * 96)}
    return sorted(times)


def seed_garden(
    http: httpx.Client,
    email: str,
    *,
    days: int = 30,
    plant_name: str = "Basil by the door",
    node_name: str = "Sill node",
    location: str = "Balcony",
    photos: int = 3,
) -> SeededGarden:
    """A user with one linked hub, one node watching a plant with ``days`` of readings (dry at
    the end, so a moisture alert opens), a second plant, and photos with diagnoses."""
    user = sign_up(http, email)
    hub_id, hub = link_hub(http, user, "Balcony hub")
    mac = "02:11:22:33:44:" + uuid.uuid4().hex[:2].upper()
    node = http.post(
        "/api/v1/nodes", json={"mac": mac, "name": node_name, "hub_id": hub_id}, headers=user
    )
    node.raise_for_status()
    plant = http.post(
        "/api/v1/plants",
        json={
            "name": plant_name,
            "species_id": 1,
            "location": location,
            "node_id": node.json()["id"],
        },
        headers=user,
    )
    plant.raise_for_status()
    other = http.post("/api/v1/plants", json={"name": "Fern"}, headers=user)
    other.raise_for_status()
    now = datetime.now(UTC)
    push_readings(http, hub, mac, history_times(now, days), dry=True)
    # The hub's inventory says what became of the node's adverts.
    counts = {"stored": 1432, "duplicate": 5790, "replayed": 0, "wrong_key": 3}
    http.put(
        SYNC_NODES_PATH,
        json={"nodes": [{"mac": mac, "name": node_name, "advert_counts": counts}]},
        headers=hub,
    ).raise_for_status()
    # The node has a second temperature sensor (channel 1, the soil) for the last two days.
    soil = [
        {
            "node_mac": mac,
            "channel": 1,
            "measured_at": (now - timedelta(minutes=30 * i)).isoformat(),
            "temperature": round(14 + (i % 48) / 12, 1),
        }
        for i in range(1, 96)
    ]
    http.post(
        SYNC_READINGS_PATH, json={"batch_id": str(uuid.uuid4()), "readings": soil}, headers=hub
    ).raise_for_status()
    alert = {
        "local_id": str(uuid.uuid4()),
        "node_mac": mac,
        "kind": "low",
        "metric": "moisture",
        "message": "moisture 12% below the plant's minimum",
        "opened_at": (now - timedelta(minutes=20)).isoformat(),
    }
    http.post(
        SYNC_ALERTS_PATH, json={"batch_id": str(uuid.uuid4()), "alerts": [alert]}, headers=hub
    ).raise_for_status()
    for i in range(photos):
        cover = 0.1 + 0.08 * i
        upload_photo(http, hub, mac, jpeg(cover, i), now - timedelta(days=photos - i), cover)
    alerts = http.get("/api/v1/alerts", headers=user).json()
    return SeededGarden(
        email=email,
        user_headers=user,
        hub_headers=hub,
        hub_id=hub_id,
        node=node.json(),
        plants={plant_name: plant.json(), "Fern": other.json()},
        alert_ids=[a["id"] for a in alerts],
    )
