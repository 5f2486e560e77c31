"""Settings of the image pipeline, the factories, and the hub flow against GCS (emulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from cloud.diagnosis.factory import open_diagnoser
from cloud.diagnosis.gemini import GeminiDiagnoser
from cloud.diagnosis.heuristic import HeuristicDiagnoser
from cloud.settings import CloudSettings, InsecureSettingsError
from cloud.storage.factory import build_object_store
from cloud.storage.gcs import GcsObjectStore
from cloud.storage.local import LocalObjectStore
from tests.cloud.images.conftest import Garden, RunJobs, announce, complete, photo, slot_body
from tests.cloud.storage.conftest import BUCKET, Emulator, SigningKey


def test_production_needs_a_storage_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTVITA_CLOUD_ENVIRONMENT", "production")
    with pytest.raises(InsecureSettingsError, match="STORAGE_SIGNING_KEY"):
        CloudSettings(jwt_secret="x" * 40)
    with pytest.raises(InsecureSettingsError, match="STORAGE_SIGNING_KEY"):
        CloudSettings(jwt_secret="x" * 40, storage_signing_key="short")
    # GCS signs its own URLs: no local key needed.
    assert (
        CloudSettings(jwt_secret="x" * 40, storage_backend="gcs", gcs_bucket="b").gcs_bucket == "b"
    )


def test_gcs_needs_a_bucket() -> None:
    with pytest.raises(ValidationError, match="GCS_BUCKET"):
        CloudSettings(storage_backend="gcs")


def test_gemini_key_from_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANTVITA_CLOUD_GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "from-google-name")
    assert CloudSettings().gemini_api_key == "from-google-name"
    monkeypatch.setenv("PLANTVITA_CLOUD_GEMINI_API_KEY", "from-plantvita-name")
    assert CloudSettings().gemini_api_key == "from-plantvita-name"


async def test_diagnoser_follows_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("PLANTVITA_CLOUD_GEMINI_API_KEY", raising=False)
    async with open_diagnoser(CloudSettings()) as diagnoser:
        assert isinstance(diagnoser, HeuristicDiagnoser)
        assert (diagnoser.model, diagnoser.source) == ("heuristic-v1", "heuristic")
    async with open_diagnoser(CloudSettings(gemini_api_key="k", gemini_model="gemini-x")) as gem:
        assert isinstance(gem, GeminiDiagnoser)
        assert (gem.model, gem.source) == ("gemini-x", "gemini")


def test_store_follows_the_backend(tmp_path: Path) -> None:
    assert isinstance(build_object_store(CloudSettings(storage_dir=tmp_path)), LocalObjectStore)
    assert not (tmp_path / "objects").exists()  # building a store never touches the disk


def _key_file(tmp_path: Path, signing_key: SigningKey) -> Path:
    pem = signing_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "plantvita-test",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "signer@plantvita-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


@pytest.fixture
def settings_overrides(
    tmp_path: Path, gcs_emulator: Emulator, signing_key: SigningKey
) -> dict[str, Any]:
    """The app on GCS: the emulator, with a throwaway service-account key for signing."""
    gcs_emulator.server.wipe(keep_buckets=True)
    return {
        "storage_backend": "gcs",
        "gcs_bucket": BUCKET,
        "gcs_endpoint": gcs_emulator.endpoint,
        "gcs_credentials_file": _key_file(tmp_path, signing_key),
        "worker_inline": False,
    }


async def test_hub_flow_on_gcs(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gcs_emulator: Emulator, app: Any
) -> None:
    assert isinstance(app.state.object_store, GcsObjectStore)
    data = photo(50)
    slot = (await announce(client, garden.hub, slot_body(data, garden.node["mac"]))).json()
    assert slot["upload_url"].startswith(
        f"{gcs_emulator.endpoint}/{BUCKET}/owners/{garden.user.id}/plants/{garden.plant['id']}/"
    )
    assert "X-Goog-Signature=" in slot["upload_url"]
    assert slot["upload_headers"]["x-goog-content-length-range"] == f"0,{len(data)}"
    async with httpx.AsyncClient() as outside:  # the hub talks to the bucket directly
        put = await outside.put(slot["upload_url"], content=data, headers=slot["upload_headers"])
        assert put.status_code == 200
        done = await complete(client, garden.hub, slot["image_id"])
        assert done.status_code == 200, done.text
        assert done.json()["diagnosis_queued"] is True
        await run_jobs()

        detail = (
            await client.get(f"/api/v1/images/{slot['image_id']}", headers=garden.user.headers)
        ).json()
        assert detail["latest_diagnosis"]["status"] == "succeeded"
        assert (await outside.get(detail["download_url"])).content == data
        assert (await outside.get(detail["thumbnail_url"])).content.startswith(b"\xff\xd8")

    # With GCS the app's own signed-URL routes do not serve anything.
    response = await client.put(
        f"/api/v1/storage/objects/owners/{garden.user.id}/x.jpg", content=b"x"
    )
    assert response.status_code == 404
