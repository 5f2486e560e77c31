"""Object-store fixtures: one in-process emulator per session, a local store per test."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from cloud.storage.gcs import GcsObjectStore
from cloud.storage.local import LocalObjectStore
from cloud.storage.ports import ObjectStore

BUCKET = "plantvita-test"


@dataclass
class Emulator:
    """A running emulator and the requests the storage client sent to it."""

    server: Any
    endpoint: str
    requests_seen: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[Emulator]:
    """gcp-storage-emulator on a free port, in memory, with the test bucket."""
    logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
    server = create_server("127.0.0.1", 0, in_memory=True, default_bucket=BUCKET)
    server.start()
    port = server._api._httpd.server_address[1]
    try:
        yield Emulator(server, f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def emulator(gcs_emulator: Emulator) -> Emulator:
    """The session emulator, emptied (bucket kept) and with a fresh request log."""
    gcs_emulator.server.wipe(keep_buckets=True)
    gcs_emulator.requests_seen.clear()
    return gcs_emulator


@pytest.fixture
def gcs_client(emulator: Emulator) -> storage.Client:
    """The real SDK client, anonymous, pointed at the emulator; logs every HTTP request."""
    session = requests.Session()

    def log(response: requests.Response, *args: object, **kwargs: object) -> None:
        emulator.requests_seen.append((str(response.request.method), str(response.request.url)))

    session.hooks["response"].append(log)
    return storage.Client(
        project="plantvita-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.endpoint},
        _http=session,
    )


@dataclass(frozen=True)
class SigningKey:
    """A throwaway service-account key made for this test run."""

    private_key: rsa.RSAPrivateKey
    credentials: service_account.Credentials


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    """An RSA key and service-account credentials built from it (never a real account)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "plantvita-test",
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": "signer@plantvita-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return SigningKey(key, service_account.Credentials.from_service_account_info(info))


@pytest.fixture
def gcs_store(gcs_client: storage.Client, signing_key: SigningKey) -> GcsObjectStore:
    """A GCS store on the emulator, with small resumable settings so chunking stays cheap."""
    return GcsObjectStore(
        gcs_client,
        BUCKET,
        signing_credentials=signing_key.credentials,
        resumable_threshold=300 * 1024,
        chunk_size=256 * 1024,
    )


LOCAL_BASE_URL = "http://cloud.test"


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    """A local store in a temp dir, its signed URLs pointing at ``LOCAL_BASE_URL``."""
    return LocalObjectStore(tmp_path / "store", secrets.token_bytes(32), LOCAL_BASE_URL)


@pytest.fixture(params=["gcs", "local"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each ``ObjectStore`` implementation in turn, for the contract tests."""
    name = "gcs_store" if request.param == "gcs" else "local_store"
    result: ObjectStore = request.getfixturevalue(name)
    return result
