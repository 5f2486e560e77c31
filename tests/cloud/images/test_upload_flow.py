"""The hub's image upload flow on the local store, and Visual History reads."""

from __future__ import annotations

import hashlib
import io

import httpx
from PIL import Image as PILImage

from cloud.settings import CloudSettings
from tests.cloud.images.conftest import (
    Garden,
    RunJobs,
    announce,
    complete,
    make_garden,
    photo,
    slot_body,
    upload_photo,
)
from tests.cloud.paging import walk


async def test_full_flow_dedup_and_visual_history(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs
) -> None:
    data = photo(1)
    ack = await upload_photo(client, garden, data)
    assert ack["sha256"] == hashlib.sha256(data).hexdigest()
    assert ack["byte_size"] == len(data)
    assert ack["diagnosis_queued"] is True

    # Re-announcing the same photo: the stored record, nothing to upload.
    again = await announce(client, garden.hub, slot_body(data, garden.node["mac"]))
    assert again.json() == {
        "image_id": ack["image_id"],
        "complete": True,
        "upload_url": None,
        "upload_method": "PUT",
        "upload_headers": {},
        "expires_at": None,
    }
    # Completing twice is harmless.
    assert (await complete(client, garden.hub, ack["image_id"])).json()["image_id"] == ack[
        "image_id"
    ]

    await run_jobs()  # heuristic diagnosis (no Gemini key in these settings)

    page = await client.get(
        f"/api/v1/plants/{garden.plant['id']}/images", headers=garden.user.headers
    )
    assert page.status_code == 200, page.text
    (item,) = page.json()
    assert item["id"] == ack["image_id"]
    assert item["node_id"] == garden.node["id"]
    assert item["metrics"]["canopy_cover"] == 0.4
    assert (item["width"], item["height"]) == (320, 240)
    assert item["latest_diagnosis"]["status"] == "succeeded"
    assert item["latest_diagnosis"]["source"] == "heuristic"

    detail = (
        await client.get(f"/api/v1/images/{ack['image_id']}", headers=garden.user.headers)
    ).json()
    original = await client.get(detail["download_url"])
    assert original.status_code == 200
    assert original.content == data
    thumb = await client.get(detail["thumbnail_url"])
    with PILImage.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "JPEG"
        assert max(image.size) <= 320

    redirect = await client.get(
        f"/api/v1/images/{ack['image_id']}/thumbnail", headers=garden.user.headers
    )
    assert redirect.status_code == 307
    assert (await client.get(redirect.headers["location"])).content == thumb.content


async def test_pagination_is_newest_first(client: httpx.AsyncClient, garden: Garden) -> None:
    ids = []
    for day in range(3):
        ack = await upload_photo(
            client, garden, photo(10 + day), captured_at=f"2026-11-2{day}T08:00:00+00:00"
        )
        ids.append(ack["image_id"])
    path = f"/api/v1/plants/{garden.plant['id']}/images"
    pages = await walk(client, path, garden.user.headers, {"limit": 2})
    assert [[i["id"] for i in page] for page in pages] == [ids[:0:-1], ids[:1]]


async def _slot(client: httpx.AsyncClient, garden: Garden, data: bytes) -> dict[str, str]:
    response = await announce(client, garden.hub, slot_body(data, garden.node["mac"]))
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_hash_mismatch_is_refused_and_deleted(
    client: httpx.AsyncClient, garden: Garden, settings: CloudSettings
) -> None:
    data = photo(2)
    slot = await _slot(client, garden, data)
    tampered = bytearray(data)
    tampered[-10] ^= 0x55  # same size, other bytes
    await client.put(slot["upload_url"], content=bytes(tampered), headers=slot["upload_headers"])
    refused = await complete(client, garden.hub, slot["image_id"])
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "upload_mismatch"
    assert error["details"]["field"] == "sha256"
    assert not list((settings.storage_dir / "objects").rglob("*.jpg"))
    # The hub can upload the right bytes with a fresh slot and complete.
    retry = await _slot(client, garden, data)
    assert retry["image_id"] == slot["image_id"]
    await client.put(retry["upload_url"], content=data, headers=retry["upload_headers"])
    assert (await complete(client, garden.hub, slot["image_id"])).status_code == 200


async def test_not_an_image_is_refused(client: httpx.AsyncClient, garden: Garden) -> None:
    fake = b"\xff\xd8\xff" + b"this is not really a jpeg" * 20  # right magic, no JPEG inside
    slot = await _slot(client, garden, fake)
    await client.put(slot["upload_url"], content=fake, headers=slot["upload_headers"])
    refused = await complete(client, garden.hub, slot["image_id"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (415, "not_an_image")
    png_bytes = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(png_bytes, "PNG")
    png = png_bytes.getvalue()  # announced as JPEG, but a PNG
    slot = await _slot(client, garden, png)
    await client.put(slot["upload_url"], content=png, headers=slot["upload_headers"])
    refused = await complete(client, garden.hub, slot["image_id"])
    assert (refused.status_code, refused.json()["error"]["code"]) == (415, "not_an_image")


async def test_missing_upload_and_limits(
    client: httpx.AsyncClient, garden: Garden, settings: CloudSettings
) -> None:
    data = photo(3)
    slot = await _slot(client, garden, data)
    missing = await complete(client, garden.hub, slot["image_id"])
    assert (missing.status_code, missing.json()["error"]["code"]) == (409, "upload_missing")

    too_big = slot_body(data, garden.node["mac"], byte_size=settings.image_max_bytes + 1)
    refused = await announce(client, garden.hub, too_big)
    assert (refused.status_code, refused.json()["error"]["code"]) == (413, "image_too_large")

    # The signed URL only takes the announced size.
    over = await client.put(slot["upload_url"], content=data + b"x", headers=slot["upload_headers"])
    assert over.status_code == 413

    unknown = await announce(client, garden.hub, slot_body(photo(33), "02:00:00:00:00:01"))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_node")

    bad = await announce(
        client, garden.hub, {**slot_body(data, garden.node["mac"]), "sha256": "xyz"}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"


async def test_other_owners_see_nothing(client: httpx.AsyncClient, garden: Garden) -> None:
    ack = await upload_photo(client, garden, photo(4))
    stranger = await make_garden(client)
    image_path = f"/api/v1/images/{ack['image_id']}"
    for path in (
        image_path,
        f"{image_path}/thumbnail",
        f"/api/v1/plants/{garden.plant['id']}/images",
        f"/api/v1/plants/{garden.plant['id']}/diagnoses",
    ):
        response = await client.get(path, headers=stranger.user.headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert (
        await client.post(f"{image_path}/diagnoses", headers=stranger.user.headers)
    ).status_code == 404
    # Nor can a hub file a photo under someone else's plant, or read their diagnoses.
    foreign = await announce(
        client,
        stranger.hub,
        slot_body(photo(44), stranger.node["mac"], plant_id=garden.plant["id"]),
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "not_found")
    (diagnosis,) = (
        await client.get(
            f"/api/v1/plants/{garden.plant['id']}/diagnoses", headers=garden.user.headers
        )
    ).json()
    peek = await client.get(f"/api/v1/diagnoses/{diagnosis['id']}", headers=stranger.user.headers)
    assert peek.status_code == 404
    # Another hub cannot complete it, nor learn it exists.
    assert (await complete(client, stranger.hub, ack["image_id"])).status_code == 404
    # The same photo under another owner is a separate image with its own key.
    other_mac = stranger.node["mac"]
    theirs = await announce(client, stranger.hub, slot_body(photo(4), other_mac))
    assert theirs.json()["complete"] is False
    assert theirs.json()["image_id"] != ack["image_id"]
    assert str(stranger.user.id) in theirs.json()["upload_url"]
    # Sync routes need a hub token, not a user token.
    assert (
        await announce(client, garden.user, slot_body(photo(5), garden.node["mac"]))
    ).status_code == 401  # type: ignore[arg-type]


async def test_deleting_a_plant_purges_its_objects(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, settings: CloudSettings
) -> None:
    await upload_photo(client, garden, photo(6))
    objects = settings.storage_dir / "objects"
    assert len(list(objects.rglob("*.jpg"))) == 2  # photo + thumbnail
    deleted = await client.delete(
        f"/api/v1/plants/{garden.plant['id']}", headers=garden.user.headers
    )
    assert deleted.status_code == 204
    await run_jobs()
    assert list(objects.rglob("*.jpg")) == []


async def test_a_lost_thumbnail_is_made_again_on_demand(
    client: httpx.AsyncClient, garden: Garden, settings: CloudSettings
) -> None:
    ack = await upload_photo(client, garden, photo(7))
    (thumb,) = (settings.storage_dir / "objects").rglob("thumbs/*.jpg")
    thumb.unlink()
    redirect = await client.get(
        f"/api/v1/images/{ack['image_id']}/thumbnail", headers=garden.user.headers
    )
    assert redirect.status_code == 307
    again = await client.get(redirect.headers["location"])
    assert again.status_code == 200
    assert again.content.startswith(b"\xff\xd8")
