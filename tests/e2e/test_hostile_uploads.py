"""Oversized and malformed uploads through the whole request path of both tiers.

The cloud runs in-process on real PostgreSQL with the local object store (its signed-URL PUT
is served by the cloud itself, so loopback would add nothing); the hub on its real SQLite and
image directory. What is already covered next to the code is not repeated here (announced size
over the limit, hash mismatch, fake JPEG magic, PNG announced as JPEG, missing upload: see
tests/cloud/images/test_upload_flow.py; body cap, 10 MB gzip bomb, unknown encodings:
tests/cloud/telemetry/test_ingest.py; hub GIF, truncated JPEG, over-limit photo:
tests/hub/images/test_images.py).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tracemalloc
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image as PILImage

from cloud.app import create_app as create_cloud_app
from cloud.settings import CloudSettings
from hub.app import create_app as create_hub_app
from hub.settings import Environment, HubSettings
from shared.errors import ErrorBody
from shared.sync import MAX_BATCH_ITEMS, SYNC_ALERTS_PATH, SYNC_READINGS_PATH
from tests.cloud.factories import create_hub, create_node, create_plant, create_user
from tests.cloud.images.conftest import Garden, announce, complete, photo, slot_body
from tests.lifespan import LifespanManager

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

IMAGE_LIMIT = 256 * 1024
BODY_LIMIT = 1024 * 1024


def refused(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """Assert a refusal in the project error body; return its ``error``."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    return ErrorBody.model_validate_json(response.content).error.model_dump()


def stored_objects(root: Path) -> list[Path]:
    """Visible objects of the local store (temp files are dot-named)."""
    objects = root / "objects"
    return [p for p in objects.rglob("*") if p.is_file() and not p.name.startswith(".")]


@dataclass
class Cloud:
    http: httpx.AsyncClient
    garden: Garden
    objects: Path


@asynccontextmanager
async def running_cloud(database_url: str, tmp_path: Path) -> AsyncIterator[Cloud]:
    """The cloud with small limits, a gardener with a linked hub, a node and a plant."""
    settings = CloudSettings(
        database_url=database_url,
        storage_dir=tmp_path / "objects",
        public_base_url="http://cloud.test",
        stale_check_enabled=False,
        device_poll_interval_s=0,
        log_level="ERROR",
        worker_inline=False,
        image_max_bytes=IMAGE_LIMIT,
        max_body_bytes=BODY_LIMIT,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    app = create_cloud_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://cloud.test",
        ) as http,
    ):
        user = await create_user(http)
        hub = await create_hub(http, user)
        node = await create_node(http, user, hub=hub)
        plant = await create_plant(http, user, "Fern", node=node)
        yield Cloud(http, Garden(user, hub, node, plant), settings.storage_dir)


async def slot_for(cloud: Cloud, data: bytes, **extra: Any) -> dict[str, Any]:
    response = await announce(
        cloud.http, cloud.garden.hub, slot_body(data, cloud.garden.node["mac"], **extra)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def plant_photos(cloud: Cloud) -> int:
    page = await cloud.http.get(
        f"/api/v1/plants/{cloud.garden.plant['id']}/images",
        params={"limit": 500},
        headers=cloud.garden.user.headers,
    )
    assert "link" not in page.headers  # every photo on one page
    return len(page.json())


def jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    return photo(seed, size=size)


def noise_jpeg(side: int) -> bytes:
    """A JPEG that compresses badly, so it is big for its pixel count."""
    image = PILImage.frombytes("RGB", (side, side), hashlib.shake_256(b"n").digest(side * side * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


async def test_cloud_refuses_oversized_photos_before_storing_them(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cloud(database_url, tmp_path) as cloud:
        big = noise_jpeg(600)
        assert len(big) > IMAGE_LIMIT
        error = refused(
            await announce(cloud.http, cloud.garden.hub, slot_body(big, cloud.garden.node["mac"])),
            413,
        )
        assert error["code"] == "image_too_large"

        # Announced small, then a streamed body (no Content-Length) far over the slot's size.
        small = jpeg(1)
        slot = await slot_for(cloud, small)

        async def endless() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"\xff" * 65536

        streamed = await cloud.http.put(
            slot["upload_url"], content=endless(), headers=slot["upload_headers"]
        )
        assert refused(streamed, 413)["code"] == "too_large"
        assert stored_objects(cloud.objects) == []
        assert (
            refused(await complete(cloud.http, cloud.garden.hub, slot["image_id"]), 409)["code"]
            == "upload_missing"
        )
        assert await plant_photos(cloud) == 0


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("text named .jpg", 415, "not_an_image"),
        ("truncated jpeg", 415, "not_an_image"),
        ("html with jpeg magic", 415, "not_an_image"),
        ("fewer bytes than announced", 422, "upload_mismatch"),
    ],
)
async def test_cloud_refuses_malformed_photos_at_complete_and_deletes_them(
    database_url: str, tmp_path: Path, case: str, status: int, code: str
) -> None:
    async with running_cloud(database_url, tmp_path) as cloud:
        good = jpeg(2)
        uploaded = {
            "text named .jpg": b"GIF89a? no: just text pretending to be photo.jpg\n" * 20,
            "truncated jpeg": good[: len(good) // 2],
            "html with jpeg magic": b"\xff\xd8\xff<html><script>alert(1)</script></html>" * 10,
            "fewer bytes than announced": good[:-100],
        }[case]
        announced = good if case == "fewer bytes than announced" else uploaded
        slot = await slot_for(cloud, announced)
        put = await cloud.http.put(
            slot["upload_url"], content=uploaded, headers=slot["upload_headers"]
        )
        assert put.status_code == 200, put.text
        error = refused(await complete(cloud.http, cloud.garden.hub, slot["image_id"]), status)
        assert error["code"] == code
        assert stored_objects(cloud.objects) == []
        assert await plant_photos(cloud) == 0


async def test_cloud_upload_slot_cannot_be_reused_to_replace_a_verified_photo(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cloud(database_url, tmp_path) as cloud:
        good = jpeg(3)
        forged = bytearray(good)
        forged[-50:-2] = b"\x00" * 48
        slot = await slot_for(cloud, good)
        # Wrong bytes left behind without a complete (a hub that died): a new slot starts over.
        stale = await cloud.http.put(
            slot["upload_url"], content=bytes(forged), headers=slot["upload_headers"]
        )
        assert stale.status_code == 200
        slot = await slot_for(cloud, good)
        put = await cloud.http.put(slot["upload_url"], content=good, headers=slot["upload_headers"])
        assert put.status_code == 200, put.text
        done = await complete(cloud.http, cloud.garden.hub, slot["image_id"])
        assert done.status_code == 200, done.text
        # The same bytes again (a retried PUT whose answer was lost) are harmless.
        again = await cloud.http.put(
            slot["upload_url"], content=good, headers=slot["upload_headers"]
        )
        assert again.status_code == 200
        # Other bytes of the same size through the still-valid URL must not replace the photo.
        reuse = await cloud.http.put(
            slot["upload_url"], content=bytes(forged), headers=slot["upload_headers"]
        )
        refused(reuse, 409)
        objects = [p for p in stored_objects(cloud.objects) if "thumbs" not in p.parts]
        assert len(objects) == 1
        assert (
            hashlib.sha256(objects[0].read_bytes()).hexdigest() == hashlib.sha256(good).hexdigest()
        )
        # Completing the same slot twice is idempotent, not a second photo.
        twice = await complete(cloud.http, cloud.garden.hub, slot["image_id"])
        assert twice.json()["image_id"] == slot["image_id"]
        assert await plant_photos(cloud) == 1


async def test_cloud_sync_bodies_bombs_and_malformed_input(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cloud(database_url, tmp_path) as cloud:
        hub_json = {**cloud.garden.hub.headers, "Content-Type": "application/json"}
        mac = cloud.garden.node["mac"]

        # 256 MiB of zeros, 256 KiB on the wire: inflating must stop at the cap, not at 256 MiB.
        bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
        wire = (
            bomb.compress(b'{"batch_id": "')
            + b"".join(bomb.compress(b"\x00" * (1 << 20)) for _ in range(256))
            + bomb.flush()
        )
        assert len(wire) < BODY_LIMIT
        tracemalloc.start()
        try:
            response = await cloud.http.post(
                SYNC_READINGS_PATH, content=wire, headers={**hub_json, "Content-Encoding": "gzip"}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert refused(response, 413)["code"] == "payload_too_large"
        assert peak < 8 * BODY_LIMIT, f"inflating the bomb peaked at {peak / 1e6:.0f} MB"

        # Malformed gzip: a cut stream, and a valid stream followed by garbage.
        whole = gzip.compress(
            b'{"batch_id": "' + str(uuid.uuid4()).encode() + b'", "readings": []}'
        )
        for label, body in {"cut": whole[:-8], "cut header": whole[:5]}.items():
            cut = await cloud.http.post(
                SYNC_READINGS_PATH, content=body, headers={**hub_json, "Content-Encoding": "gzip"}
            )
            assert refused(cut, 400)["code"] == "malformed_body", label

        # JSON nesting bombs on the hand-read sync body and on a FastAPI-parsed body.
        deep = b"[" * 100_000 + b"]" * 100_000
        for path, headers in (
            (SYNC_READINGS_PATH, hub_json),
            (SYNC_ALERTS_PATH, hub_json),
            ("/api/v1/plants", {**cloud.garden.user.headers, "Content-Type": "application/json"}),
        ):
            nested = await cloud.http.post(
                path, content=b'{"name": ' + deep + b"}", headers=headers
            )
            refused(nested, 400, 422)

        # Over the item limit: the whole batch is refused (nothing stored), small enough to read.
        now = datetime.now(UTC).isoformat()
        items = [{"node_mac": mac, "measured_at": now, "moisture": 1.0}] * (MAX_BATCH_ITEMS + 1)
        huge = orjson.dumps({"batch_id": str(uuid.uuid4()), "readings": items})
        assert len(huge) < BODY_LIMIT  # refused for its item count, not its size
        over = await cloud.http.post(SYNC_READINGS_PATH, content=huge, headers=hub_json)
        assert refused(over, 422)["code"] == "invalid_request"
        latest = await cloud.http.get("/api/v1/readings/latest", headers=cloud.garden.user.headers)
        assert latest.json() == []  # nothing of any refused batch was stored
        # Wrong content types: a form or plain text where JSON is expected.
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            wrong = await cloud.http.post(
                "/api/v1/plants",
                content=b'{"name": "Fern"}',
                headers={**cloud.garden.user.headers, "Content-Type": content_type},
            )
            refused(wrong, 400, 415, 422)
        # Not UTF-8 at all (an overlong "/" and a lone continuation byte).
        broken = await cloud.http.post(
            "/api/v1/plants",
            content=b'{"name": "\xc0\xaf\x80"}',
            headers={**cloud.garden.user.headers, "Content-Type": "application/json"},
        )
        refused(broken, 400, 422)


# --- the hub --------------------------------------------------------------------------------

HUB_PASSWORD = "hostile uploads admin password"
HUB_IMAGE_LIMIT = 64 * 1024


@asynccontextmanager
async def running_hub(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, HubSettings, str]]:
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path / "hub",
        cloud_url=None,
        ble_enabled=False,
        image_upload_bytes_per_s=None,
        image_max_bytes=HUB_IMAGE_LIMIT,
    )
    app = create_hub_app(settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://hub.test",
        ) as http,
    ):
        assert (
            await http.post("/api/v1/auth/password", json={"password": HUB_PASSWORD})
        ).status_code == 204
        assert (
            await http.post("/api/v1/auth/login", json={"password": HUB_PASSWORD})
        ).status_code == 204
        mac = "02:11:22:33:44:55"
        assert (await http.post("/api/v1/nodes", json={"mac": mac})).status_code in (200, 201)
        plant = await http.post("/api/v1/plants", json={"name": "Fern", "node_mac": mac})
        yield http, settings, plant.json()["id"]


def hub_files(settings: HubSettings) -> list[Path]:
    return (
        [p for p in settings.images_dir.rglob("*") if p.is_file()]
        if settings.images_dir.exists()
        else []
    )


async def test_hub_refuses_bad_uploads_and_bombs(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as (http, settings, plant_id):
        big = noise_jpeg(300)
        assert len(big) > HUB_IMAGE_LIMIT
        for label, data, status in (
            ("oversized", big, 413),
            ("text named .jpg", b"just text, named photo.jpg\n" * 40, 415),
            ("html with jpeg magic", b"\xff\xd8\xff<script>alert(1)</script>" * 10, 422),
            ("truncated", jpeg(4)[:900], 422),
            ("empty", b"", 415),
        ):
            response = await http.post(
                "/api/v1/images",
                files={"file": ("photo.jpg", data, "image/jpeg")},
                data={"plant_id": plant_id},
            )
            assert response.status_code == status, (label, response.status_code, response.text)
            refused(response, status)
        # Streamed (chunked, no Content-Length) far over the limit: cut off near the cap, not
        # read to its end and spooled to disk first.
        sent = 0

        async def endless() -> AsyncIterator[bytes]:
            nonlocal sent
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            yield b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff"
            for _ in range(256):
                sent += 65536
                yield b"\x00" * 65536
            yield b"\r\n--b--\r\n"

        streamed = await http.post(
            "/api/v1/images",
            content=endless(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert refused(streamed, 413)["code"] == "image_too_large"
        assert sent <= 4 * HUB_IMAGE_LIMIT, f"{sent} bytes read before the 413"
        # A declared length over the limit is refused before a byte of the body is read.
        sent = 0
        declared = await http.post(
            "/api/v1/images",
            content=endless(),
            headers={
                "Content-Type": "multipart/form-data; boundary=b",
                "Content-Length": str(256 * 65536 + 200),
            },
        )
        assert refused(declared, 413)["code"] == "image_too_large"
        assert sent == 0
        assert hub_files(settings) == []
        assert (await http.get(f"/api/v1/plants/{plant_id}/images")).json() == []

        # Many tiny form parts, and JSON nesting bombs on the hub's JSON routes.
        parts = (
            b"".join(
                b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i
                for i in range(5000)
            )
            + b"--b--\r\n"
        )
        many = await http.post(
            "/api/v1/images",
            content=parts,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        refused(many, 400, 413, 422)
        deep = b"[" * 100_000 + b"]" * 100_000
        for path in ("/api/v1/plants", "/api/v1/nodes", "/api/v1/auth/login"):
            nested = await http.post(
                path,
                content=b'{"name": ' + deep + b"}",
                headers={"Content-Type": "application/json"},
            )
            refused(nested, 400, 422)
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            wrong = await http.post(
                "/api/v1/plants",
                content=b'{"name": "Fern"}',
                headers={"Content-Type": content_type},
            )
            refused(wrong, 400, 415, 422)
