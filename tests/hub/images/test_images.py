"""Images: uploads and node photos stored once by hash, thumbnails, metrics; bad uploads 4xx."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image as PILImage

from hub.ble.ports import ReceivedImage
from hub.hub_store import HubStore
from hub.settings import HubSettings
from tests.hub.factories import T0

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

MAC = "AA:BB:CC:DD:EE:01"


def create_jpeg(color: tuple[int, int, int] = (40, 160, 50), size: int = 400) -> bytes:
    """A JPEG photo of one colour, with some noise so it does not compress to nothing."""
    image = PILImage.new("RGB", (size, size), color)
    for x in range(0, size, 7):
        image.putpixel((x, x), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def store_of(client: httpx.AsyncClient) -> HubStore:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


async def plant_with_node(client: httpx.AsyncClient) -> str:
    await client.post("/api/v1/nodes", json={"mac": MAC})
    plant = await client.post("/api/v1/plants", json={"name": "Basil", "node_mac": MAC})
    return str(plant.json()["id"])


async def test_upload_stores_once_with_thumbnail_and_metrics(
    admin_client: httpx.AsyncClient,
) -> None:
    plant_id = await plant_with_node(admin_client)
    jpeg = create_jpeg()
    files = {"file": ("leaf.jpg", jpeg, "image/jpeg")}
    first = await admin_client.post("/api/v1/images", files=files, data={"plant_id": plant_id})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["byte_size"] == len(jpeg)
    assert body["metrics"]["canopy_cover"] > 0.9  # a green square
    assert body["sync_state"] == "pending"
    assert body["upload_state"] == "slot"
    again = await admin_client.post("/api/v1/images", files=files, data={"plant_id": plant_id})
    assert again.json()["id"] == body["id"]
    listed = (await admin_client.get(f"/api/v1/plants/{plant_id}/images")).json()
    assert [i["id"] for i in listed] == [body["id"]]
    original = await admin_client.get(body["file_url"])
    assert original.content == jpeg
    thumb = await admin_client.get(body["thumbnail_url"])
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(PILImage.open(io.BytesIO(thumb.content)).size) <= 320


async def test_node_photos_from_the_gateway_are_stored(store: HubStore) -> None:
    await store.pair_node(MAC)
    jpeg = create_jpeg((90, 90, 90))
    await store.store_image(ReceivedImage(MAC, 7, T0, jpeg))
    await store.store_image(ReceivedImage(MAC, 7, T0, jpeg))  # a resent transfer
    await store.store_image(ReceivedImage(MAC, 8, T0, b"\xff\xd8\xff garbage"))  # refused, logged
    from sqlalchemy import text

    async with store.read() as session:
        rows = (
            await session.execute(text("select node_image_id, source, metrics from images"))
        ).all()
    assert len(rows) == 1
    assert rows[0][0] == 7
    assert rows[0][1] == "ble"
    assert rows[0][2] is not None


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"hello, not a picture", 415, "unsupported_image"),
        (b"GIF89a" + bytes(100), 415, "unsupported_image"),
        ("truncated", 422, "invalid_image"),
    ],
)
async def test_bad_uploads_are_refused_and_nothing_is_stored(
    admin_client: httpx.AsyncClient, payload: bytes | str, status: int, code: str
) -> None:
    plant_id = await plant_with_node(admin_client)
    data = create_jpeg()[:1500] if payload == "truncated" else payload
    assert isinstance(data, bytes)
    response = await admin_client.post(
        "/api/v1/images", files={"file": ("x.jpg", data, "image/jpeg")}, data={"plant_id": plant_id}
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (await admin_client.get(f"/api/v1/plants/{plant_id}/images")).json() == []
    assert not list(store_of(admin_client).images.root.rglob("*.jpg"))


async def test_oversized_upload_is_413(hub_settings: HubSettings) -> None:
    from hub.app import create_app
    from tests.lifespan import LifespanManager

    settings = hub_settings.model_copy(update={"image_max_bytes": 4096})
    app = create_app(settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client,
    ):
        await client.post("/api/v1/auth/password", json={"password": "long enough"})
        client.auth = httpx.BasicAuth("admin", "long enough")
        await client.post("/api/v1/nodes", json={"mac": MAC})
        response = await client.post(
            "/api/v1/images",
            files={"file": ("big.jpg", create_jpeg(size=800), "image/jpeg")},
            data={"node_mac": MAC},
        )
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "image_too_large",
        "message": response.json()["error"]["message"],
        "details": {"limit": 4096},
    }


async def test_upload_needs_a_plant_or_node(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/api/v1/images", files={"file": ("x.jpg", create_jpeg(), "image/jpeg")}
    )
    assert response.status_code == 400
    unknown = await admin_client.post(
        "/api/v1/images",
        files={"file": ("x.jpg", create_jpeg(), "image/jpeg")},
        data={"plant_id": "no-such-plant"},
    )
    assert unknown.status_code == 404
