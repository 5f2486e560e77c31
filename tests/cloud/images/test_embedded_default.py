"""The embedded default: local store, heuristic diagnoser, inline worker in the API process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cloud.images.conftest import Garden, photo, upload_photo


@pytest.fixture
def settings_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Defaults except the temp store dir; no Gemini key anywhere in the environment."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("PLANTVITA_CLOUD_GEMINI_API_KEY", raising=False)
    return {
        "storage_dir": tmp_path / "objects",
        "public_base_url": "http://cloud.test",
        "worker_poll_s": 0.1,
    }


async def test_photo_is_diagnosed_by_the_inline_worker(
    client: httpx.AsyncClient, garden: Garden
) -> None:
    ready = (await client.get("/readyz")).json()
    assert ready == {"status": "ready", "database": "ok", "storage": "local", "replica": "none"}

    ack = await upload_photo(client, garden, photo(60))
    path = f"/api/v1/plants/{garden.plant['id']}/diagnoses"
    diagnosis: dict[str, Any] = {}
    for _ in range(100):  # the inline worker is woken by LISTEN/NOTIFY; allow it a moment
        diagnosis = (await client.get(path, headers=garden.user.headers)).json()[0]
        if diagnosis["status"] == "succeeded":
            break
        await asyncio.sleep(0.1)
    assert diagnosis["status"] == "succeeded"
    assert diagnosis["image_id"] == ack["image_id"]
    assert (diagnosis["model"], diagnosis["source"]) == ("heuristic-v1", "heuristic")
    assert diagnosis["tokens"]["total"] == 0
    assert "not from a vision model" in diagnosis["follow_up"]

    metrics = (await client.get("/metrics")).text
    assert 'plantvita_cloud_images_total{outcome="recorded"} 1.0' in metrics
    assert (
        'plantvita_cloud_diagnosis_attempts_total{outcome="succeeded",source="heuristic"} 1.0'
        in metrics
    )
