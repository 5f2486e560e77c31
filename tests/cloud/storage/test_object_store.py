"""The ObjectStore contract, run against GCS (real SDK + emulator) and the local store."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from cloud.storage.keys import image_key, owner_prefix, plant_prefix, thumbnail_key, validate_key
from cloud.storage.ports import (
    IntegrityMismatch,
    InvalidObjectKey,
    ObjectNotFound,
    ObjectStore,
    fetch_verified,
)

JPEG = b"\xff\xd8\xff\xe0" + os.urandom(2000) + b"\xff\xd9"


def _key(owner: uuid.UUID | None = None, data: bytes = JPEG) -> str:
    return image_key(
        owner or uuid.uuid4(), uuid.uuid4(), hashlib.sha256(data).hexdigest(), "image/jpeg"
    )


async def test_put_get_head_round_trip(store: ObjectStore) -> None:
    key = _key()
    written = await store.put(key, JPEG, "image/jpeg")
    assert written.size == len(JPEG)
    assert written.sha256 == hashlib.sha256(JPEG).hexdigest()

    assert await store.get(key) == JPEG
    info = await store.head(key)
    assert (info.key, info.size, info.content_type) == (key, len(JPEG), "image/jpeg")
    assert info.sha256 == hashlib.sha256(JPEG).hexdigest()


async def test_put_replaces_an_existing_object(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"first version", "image/jpeg")
    await store.put(key, JPEG, "image/jpeg")
    assert await store.get(key) == JPEG
    assert (await store.head(key)).size == len(JPEG)


async def test_missing_object(store: ObjectStore) -> None:
    key = _key()
    with pytest.raises(ObjectNotFound):
        await store.get(key)
    with pytest.raises(ObjectNotFound):
        await store.head(key)
    assert await store.delete(key) is False


async def test_delete(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, JPEG, "image/jpeg")
    assert await store.delete(key) is True
    with pytest.raises(ObjectNotFound):
        await store.head(key)


async def test_fetch_verified_accepts_the_announced_object(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, JPEG, "image/jpeg")
    data = await fetch_verified(store, key, len(JPEG), hashlib.sha256(JPEG).hexdigest())
    assert data == JPEG


async def test_fetch_verified_refuses_a_hash_mismatch(store: ObjectStore) -> None:
    key = _key()
    swapped = bytearray(JPEG)
    swapped[100] ^= 0xFF  # same size, different content: only the hash can tell
    await store.put(key, bytes(swapped), "image/jpeg")
    with pytest.raises(IntegrityMismatch) as caught:
        await fetch_verified(store, key, len(JPEG), hashlib.sha256(JPEG).hexdigest())
    assert caught.value.what == "sha256"
    assert caught.value.actual == hashlib.sha256(swapped).hexdigest()


async def test_fetch_verified_refuses_a_size_mismatch(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, JPEG + b"trailing", "image/jpeg")
    with pytest.raises(IntegrityMismatch) as caught:
        await fetch_verified(store, key, len(JPEG), hashlib.sha256(JPEG).hexdigest())
    assert (caught.value.what, caught.value.actual) == ("size", len(JPEG) + 8)


async def test_fetch_verified_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        await fetch_verified(store, _key(), 1, "0" * 64)


async def test_owners_never_share_keys_and_prefix_delete_stays_in_its_owner(
    store: ObjectStore,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    plant = uuid.uuid4()  # even the same plant id (impossible in practice) cannot collide
    sha = hashlib.sha256(JPEG).hexdigest()
    alice_key = image_key(alice, plant, sha, "image/jpeg")
    bob_key = image_key(bob, plant, sha, "image/jpeg")
    assert alice_key != bob_key
    assert alice_key.startswith(owner_prefix(alice))
    assert bob_key.startswith(owner_prefix(bob))

    await store.put(alice_key, JPEG, "image/jpeg")
    await store.put(thumbnail_key(alice, plant, sha), b"thumb", "image/jpeg")
    await store.put(bob_key, JPEG, "image/jpeg")

    assert await store.delete_prefix(plant_prefix(alice, plant)) == 2
    with pytest.raises(ObjectNotFound):
        await store.head(alice_key)
    with pytest.raises(ObjectNotFound):
        await store.head(thumbnail_key(alice, plant, sha))
    assert await store.get(bob_key) == JPEG
    assert await store.delete_prefix(plant_prefix(alice, plant)) == 0


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "/etc/passwd",
        "../secret",
        "owners/../x",
        "owners/./x",
        "a//b",
        "a\\b",
        "owners/x/",
        ".hidden",
        "owners/ü",
        "a/" + "b" * 600,
    ],
)
async def test_unsafe_keys_are_refused_everywhere(store: ObjectStore, bad: str) -> None:
    with pytest.raises(InvalidObjectKey):
        validate_key(bad)
    with pytest.raises(InvalidObjectKey):
        await store.put(bad, b"x", "image/jpeg")
    with pytest.raises(InvalidObjectKey):
        await store.get(bad)


@pytest.mark.parametrize("bad", ["owners", "/owners/", "owners/../", ""])
async def test_unsafe_prefixes_are_refused(store: ObjectStore, bad: str) -> None:
    with pytest.raises(InvalidObjectKey):
        await store.delete_prefix(bad)


def test_image_keys_refuse_bad_hashes_and_types() -> None:
    owner, plant = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(InvalidObjectKey):
        image_key(owner, plant, "../" + "a" * 61, "image/jpeg")
    with pytest.raises(InvalidObjectKey):
        image_key(owner, plant, "a" * 64, "image/gif")
    assert image_key(owner, None, "a" * 64, "image/png").endswith(
        "/plants/unassigned/" + "a" * 64 + ".png"
    )


async def test_check_passes_on_a_reachable_store(store: ObjectStore) -> None:
    await store.check()
