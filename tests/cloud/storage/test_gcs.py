"""GcsObjectStore specifics: upload strategies and V4 signed URLs, with the real SDK."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from google.cloud import storage

from cloud.storage.gcs import CREATE_ONLY_HEADER, LENGTH_RANGE_HEADER, GcsObjectStore
from cloud.storage.keys import image_key
from cloud.storage.ports import ObjectNotFound, StorageError
from tests.cloud.storage.conftest import BUCKET, Emulator, SigningKey


def _key(data: bytes, content_type: str = "image/jpeg") -> str:
    return image_key(uuid.uuid4(), uuid.uuid4(), hashlib.sha256(data).hexdigest(), content_type)


def _upload_types(emulator: Emulator) -> list[str]:
    return [
        dict(parse_qsl(urlsplit(url).query)).get("uploadType", "")
        for method, url in emulator.requests_seen
        if method == "POST" and "/upload/" in url
    ]


async def test_small_upload_is_one_multipart_request(
    gcs_store: GcsObjectStore, emulator: Emulator
) -> None:
    data = os.urandom(100 * 1024)  # below the 300 KiB threshold of the fixture
    key = _key(data)
    await gcs_store.put(key, data, "image/jpeg")
    assert _upload_types(emulator) == ["multipart"]
    assert await gcs_store.get(key) == data


async def test_large_upload_goes_resumable_in_chunks(
    gcs_store: GcsObjectStore, emulator: Emulator
) -> None:
    data = os.urandom(700 * 1024)  # above the threshold: 3 chunks of at most 256 KiB
    key = _key(data)
    info = await gcs_store.put(key, data, "image/jpeg")
    assert _upload_types(emulator) == ["resumable"]
    chunk_puts = [url for method, url in emulator.requests_seen if method == "PUT"]
    assert len(chunk_puts) == 3
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert await gcs_store.get(key) == data


async def test_default_threshold_is_the_sdk_multipart_limit(
    gcs_client: storage.Client, emulator: Emulator
) -> None:
    store = GcsObjectStore(gcs_client, BUCKET)  # 8 MiB threshold and chunk
    data = os.urandom(8 * 1024 * 1024 + 1)
    key = _key(data)
    await store.put(key, data, "image/jpeg")
    assert _upload_types(emulator) == ["resumable"]
    assert (await store.head(key)).size == len(data)


def test_chunk_size_must_be_a_multiple_of_256_kib(gcs_client: storage.Client) -> None:
    with pytest.raises(ValueError, match="256 KiB"):
        GcsObjectStore(gcs_client, BUCKET, chunk_size=100_000)


async def test_head_reports_server_hashes(gcs_store: GcsObjectStore) -> None:
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(500)
    key = _key(data, "image/png")
    await gcs_store.put(key, data, "image/png")
    info = await gcs_store.head(key)
    assert info.content_type == "image/png"
    assert info.md5_b64
    assert info.crc32c_b64


def _verify_v4(url: str, method: str, headers: dict[str, str], signing_key: SigningKey) -> None:
    """Rebuild the V4 string-to-sign from the URL (per the GCS spec) and check the signature."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(query.pop("X-Goog-Signature"))
    canonical_query = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items())
    )
    all_headers = {"host": parts.netloc, **{k.lower(): v.strip() for k, v in headers.items()}}
    signed_names = query["X-Goog-SignedHeaders"].split(";")
    assert signed_names == sorted(all_headers)
    canonical_headers = "".join(f"{name}:{all_headers[name]}\n" for name in signed_names)
    canonical_request = "\n".join(
        [
            method,
            parts.path,
            canonical_query,
            canonical_headers,
            ";".join(signed_names),
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            query["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    signing_key.private_key.public_key().verify(
        signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


async def test_signed_upload_and_download_round_trip(
    gcs_store: GcsObjectStore, emulator: Emulator, signing_key: SigningKey
) -> None:
    data = b"\xff\xd8\xff" + os.urandom(4000)
    key = _key(data)
    before = datetime.now(UTC)
    upload = await gcs_store.signed_upload(key, "image/jpeg", 10_000, timedelta(minutes=10))

    assert upload.method == "PUT"
    assert upload.url.startswith(f"{emulator.endpoint}/{BUCKET}/{key}?")
    assert upload.headers == {
        "Content-Type": "image/jpeg",
        LENGTH_RANGE_HEADER: "0,10000",
        CREATE_ONLY_HEADER: "0",
    }
    assert (
        before + timedelta(minutes=9)
        < upload.expires_at
        <= datetime.now(UTC) + timedelta(minutes=10)
    )
    query = dict(parse_qsl(urlsplit(upload.url).query))
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Credential"].startswith("signer@plantvita-test.iam.gserviceaccount.com/")
    assert query["X-Goog-Credential"].endswith("/auto/storage/goog4_request")
    assert query["X-Goog-Expires"] == "600"
    assert (
        query["X-Goog-SignedHeaders"]
        == "content-type;host;x-goog-content-length-range;x-goog-if-generation-match"
    )
    _verify_v4(upload.url, "PUT", upload.headers, signing_key)

    async with httpx.AsyncClient() as http:
        put = await http.put(upload.url, content=data, headers=upload.headers)
        assert put.status_code == 200
        assert (await gcs_store.head(key)).size == len(data)

        download = await gcs_store.signed_download(key, timedelta(minutes=5), "leaf.jpg")
        _verify_v4(download.url, "GET", {}, signing_key)
        assert dict(parse_qsl(urlsplit(download.url).query))["X-Goog-Expires"] == "300"
        got = await http.get(download.url)
        assert got.status_code == 200
        assert got.content == data


async def test_a_tampered_signed_url_fails_verification(
    gcs_store: GcsObjectStore, signing_key: SigningKey
) -> None:
    key = _key(b"x")
    upload = await gcs_store.signed_upload(key, "image/jpeg", 10_000, timedelta(minutes=10))
    # Raising the size limit, dropping create-only or the expiry must invalidate the signature.
    with pytest.raises(InvalidSignature):
        _verify_v4(
            upload.url, "PUT", {**upload.headers, LENGTH_RANGE_HEADER: "0,99999999"}, signing_key
        )
    with pytest.raises(InvalidSignature):
        _verify_v4(upload.url, "PUT", {**upload.headers, CREATE_ONLY_HEADER: "1"}, signing_key)
    with pytest.raises(InvalidSignature):
        _verify_v4(
            upload.url.replace("X-Goog-Expires=600", "X-Goog-Expires=604800"),
            "PUT",
            upload.headers,
            signing_key,
        )


async def test_signed_download_of_a_missing_object_is_404(
    gcs_store: GcsObjectStore,
) -> None:
    download = await gcs_store.signed_download(_key(b"never stored"), timedelta(minutes=1))
    async with httpx.AsyncClient() as http:
        assert (await http.get(download.url)).status_code == 404
    with pytest.raises(ObjectNotFound):
        await gcs_store.get(_key(b"never stored"))


async def test_anonymous_credentials_cannot_sign(gcs_client: storage.Client) -> None:
    store = GcsObjectStore(gcs_client, BUCKET)
    with pytest.raises(StorageError, match="cannot sign"):
        await store.signed_download(_key(b"x"), timedelta(minutes=1))


async def test_check_reports_a_missing_bucket(gcs_client: storage.Client) -> None:
    with pytest.raises(StorageError, match="unreachable"):
        await GcsObjectStore(gcs_client, "no-such-bucket").check()
