"""LocalObjectStore's signed URLs, served by cloud.storage.router."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from cloud.storage.keys import image_key
from cloud.storage.local import LocalObjectStore, SignatureError, SignatureExpired
from cloud.storage.ports import InvalidObjectKey, ObjectNotFound
from cloud.storage.router import router
from tests.cloud.storage.conftest import LOCAL_BASE_URL

DATA = b"\xff\xd8\xff\xe0" + os.urandom(3000)


def _key() -> str:
    return image_key(uuid.uuid4(), uuid.uuid4(), hashlib.sha256(DATA).hexdigest(), "image/jpeg")


@pytest.fixture
async def http(local_store: LocalObjectStore) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(router)
    app.state.object_store = local_store
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL) as client:
        yield client


async def test_upload_then_download(local_store: LocalObjectStore, http: httpx.AsyncClient) -> None:
    key = _key()
    upload = await local_store.signed_upload(key, "image/jpeg", 10_000, timedelta(minutes=5))
    assert upload.url.startswith(f"{LOCAL_BASE_URL}/api/v1/storage/objects/{key}?")
    put = await http.put(upload.url, content=DATA, headers=upload.headers)
    assert put.status_code == 200, put.text
    info = await local_store.head(key)
    assert (info.size, info.sha256) == (len(DATA), hashlib.sha256(DATA).hexdigest())

    download = await local_store.signed_download(key, timedelta(minutes=5))
    got = await http.get(download.url)
    assert got.status_code == 200
    assert got.content == DATA
    assert got.headers["content-type"] == "image/jpeg"


async def _put_error(http: httpx.AsyncClient, url: str, **kwargs: object) -> tuple[int, str]:
    response = await http.put(url, **kwargs)  # type: ignore[arg-type]
    return response.status_code, response.json()["error"]["code"]


async def test_tampered_signature_is_refused(
    local_store: LocalObjectStore, http: httpx.AsyncClient
) -> None:
    key = _key()
    upload = await local_store.signed_upload(key, "image/jpeg", 100, timedelta(minutes=5))
    raised = upload.url.replace("X-Plantvita-Max-Bytes=100", "X-Plantvita-Max-Bytes=100000")
    assert await _put_error(http, raised, content=DATA, headers=upload.headers) == (
        403,
        "signature_invalid",
    )
    other_key = upload.url.replace(key, _key())
    assert await _put_error(http, other_key, content=DATA, headers=upload.headers) == (
        403,
        "signature_invalid",
    )
    unsigned = upload.url.split("?")[0]
    assert await _put_error(http, unsigned, content=DATA, headers=upload.headers) == (
        403,
        "signature_invalid",
    )
    with pytest.raises(ObjectNotFound):
        await local_store.head(key)


async def test_expired_url_is_refused(
    local_store: LocalObjectStore, http: httpx.AsyncClient
) -> None:
    key = _key()
    upload = await local_store.signed_upload(key, "image/jpeg", 10_000, timedelta(seconds=-1))
    assert await _put_error(http, upload.url, content=DATA, headers=upload.headers) == (
        403,
        "signature_expired",
    )
    with pytest.raises(SignatureExpired):
        local_store.verify("PUT", key, dict(parse_qsl(urlsplit(upload.url).query)))


async def test_download_url_cannot_upload(
    local_store: LocalObjectStore, http: httpx.AsyncClient
) -> None:
    key = _key()
    download = await local_store.signed_download(key, timedelta(minutes=5))
    status, code = await _put_error(
        http, download.url, content=DATA, headers={"Content-Type": "image/jpeg"}
    )
    assert (status, code) == (403, "signature_invalid")


async def test_upload_over_the_limit_is_refused(
    local_store: LocalObjectStore, http: httpx.AsyncClient
) -> None:
    key = _key()
    upload = await local_store.signed_upload(key, "image/jpeg", len(DATA) - 1, timedelta(minutes=5))
    assert await _put_error(http, upload.url, content=DATA, headers=upload.headers) == (
        413,
        "too_large",
    )

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(DATA), 1000):  # no Content-Length: the cap applies while reading
            yield DATA[start : start + 1000]

    assert await _put_error(http, upload.url, content=chunks(), headers=upload.headers) == (
        413,
        "too_large",
    )
    with pytest.raises(ObjectNotFound):
        await local_store.head(key)


async def test_wrong_content_type_and_empty_body(
    local_store: LocalObjectStore, http: httpx.AsyncClient
) -> None:
    upload = await local_store.signed_upload(_key(), "image/jpeg", 10_000, timedelta(minutes=5))
    assert await _put_error(
        http, upload.url, content=DATA, headers={"Content-Type": "image/png"}
    ) == (400, "content_type_mismatch")
    assert await _put_error(http, upload.url, content=b"", headers=upload.headers) == (
        400,
        "empty_body",
    )


async def test_path_traversal_never_reaches_the_disk(
    local_store: LocalObjectStore, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    # Even a correctly signed traversal key is refused: the key check comes first.
    params = {
        "X-Plantvita-Method": "PUT",
        "X-Plantvita-Expires": "9999999999",
        "X-Plantvita-Max-Bytes": "100",
        "X-Plantvita-Content-Type": "image/jpeg",
        "X-Plantvita-Signature": "0" * 64,
    }
    for raw in ["owners/..%2F..%2Fescape", "%2E%2E/%2E%2E/escape", "owners/%2e%2e/x"]:
        url = f"/api/v1/storage/objects/{raw}?{urlencode(params)}"
        status, _code = await _put_error(
            http, url, content=b"x", headers={"Content-Type": "image/jpeg"}
        )
        assert status in (400, 404), raw
    with pytest.raises(InvalidObjectKey):
        local_store.verify("PUT", "../../escape", params)
    assert not any(p.name == "escape" for p in tmp_path.rglob("*"))  # noqa: ASYNC240


async def test_download_of_missing_object_and_bad_signature(
    local_store: LocalObjectStore, http: httpx.AsyncClient
) -> None:
    key = _key()
    download = await local_store.signed_download(key, timedelta(minutes=5))
    missing = await http.get(download.url)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "object_not_found")
    await local_store.put(key, DATA, "image/jpeg")
    forged = download.url[:-4] + "0000"
    response = await http.get(forged)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "signature_invalid")


def test_signing_key_must_be_long_enough(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        LocalObjectStore(tmp_path, b"short", LOCAL_BASE_URL)


def test_verify_rejects_incomplete_parameters(local_store: LocalObjectStore) -> None:
    with pytest.raises(SignatureError):
        local_store.verify("GET", _key(), {"X-Plantvita-Method": "GET"})
