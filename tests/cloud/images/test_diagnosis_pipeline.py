"""The diagnosis pipeline end to end: upload → durable job → Gemini (respx) → stored verdict."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.diagnosis.service import DIAGNOSE_TASK
from cloud.jobs.queue import NAMESPACE, defer
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.diagnosis.gemini_fakes import GENERATE_URL, error_body, gemini_body, good_text
from tests.cloud.images.conftest import CAPTURED, Garden, RunJobs, photo, upload_photo


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """Gemini configured (its API mocked by respx), 3 attempts, immediate retries."""
    return {
        "storage_dir": tmp_path / "objects",
        "public_base_url": "http://cloud.test",
        "worker_inline": False,
        "gemini_api_key": "test-gemini-key",
        "gemini_model": "gemini-2.5-flash",
        "diagnosis_max_attempts": 3,
        "diagnosis_backoff_base_s": 0,
        "diagnosis_rpm": 100,
        "worker_poll_s": 0.1,
    }


@pytest.fixture
def gemini() -> Iterator[respx.Route]:
    """The Gemini generateContent endpoint, mocked; everything else is left alone."""
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as mock:
        yield mock.post(url__regex=GENERATE_URL)


async def _diagnoses(client: httpx.AsyncClient, garden: Garden) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/plants/{garden.plant['id']}/diagnoses", headers=garden.user.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


async def _push_dry_week(client: httpx.AsyncClient, garden: Garden) -> None:
    readings = [
        {
            "node_mac": garden.node["mac"],
            "measured_at": (CAPTURED - timedelta(days=day, hours=hour)).isoformat(),
            "moisture": 14.0 + hour,
            "temperature": 21.0,
        }
        for day in (1, 2)
        for hour in range(0, 6)
    ]
    response = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers=garden.hub.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(readings)


async def test_gemini_verdict_is_stored_with_the_plant_context(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route
) -> None:
    gemini.respond(200, json=gemini_body(good_text()))
    await _push_dry_week(client, garden)
    await upload_photo(
        client,
        garden,
        photo(20, green=0.55),
        captured_at="2026-11-20T09:00:00+00:00",
        metrics={
            "canopy_cover": 0.55,
            "excess_green_mean": 40,
            "green_pixels": 1,
            "brightness": 90,
        },
    )
    await run_jobs()
    data = photo(21)
    ack = await upload_photo(client, garden, data)
    assert ack["diagnosis_queued"] is True
    await run_jobs()

    body = json.loads(gemini.calls.last.request.content)
    parts = body["contents"][0]["parts"]
    assert base64.urlsafe_b64decode(parts[0]["inlineData"]["data"]) == data
    prompt = parts[1]["text"]
    assert "Plant: Living-room monstera" in prompt
    assert "Species: Monstera (Monstera deliciosa)" in prompt
    assert "- moisture: 25-55 %" in prompt
    assert "2026-11-25 moisture: 14 / 16.5 / 19 % (6 readings)" in prompt
    assert "2026-11-24 temperature: 21 / 21 / 21 °C (6 readings)" in prompt
    assert "2026-11-20 09:00: 55.0%" in prompt  # the earlier photo's canopy cover
    assert "This photo: canopy cover 40.0%" in prompt
    assert gemini.calls.last.request.headers["x-goog-api-key"] == "test-gemini-key"

    newest = (await _diagnoses(client, garden))[0]
    assert newest["image_id"] == ack["image_id"]
    assert newest["status"] == "succeeded"
    assert (newest["health"], newest["confidence"]) == ("stressed", 0.82)
    assert newest["findings"][0]["cause_type"] == "abiotic"
    assert newest["recommended_actions"][0] == "Water thoroughly until it drains"
    assert (newest["model"], newest["source"], newest["attempts"]) == (
        "gemini-2.5-flash",
        "gemini",
        1,
    )
    assert newest["tokens"] == {"prompt": 1290, "candidates": 184, "total": 1474}

    image = (
        await client.get(f"/api/v1/images/{ack['image_id']}", headers=garden.user.headers)
    ).json()
    assert image["latest_diagnosis"]["id"] == newest["id"]


async def test_429_then_success(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route
) -> None:
    gemini.side_effect = [
        httpx.Response(429, json=error_body(429, "RESOURCE_EXHAUSTED", "quota")),
        httpx.Response(200, json=gemini_body(good_text())),
    ]
    await upload_photo(client, garden, photo(22))
    await run_jobs()
    (diagnosis,) = await _diagnoses(client, garden)
    assert (diagnosis["status"], diagnosis["attempts"]) == ("succeeded", 2)
    assert diagnosis["last_error_code"] == "rate_limited"  # the history of the failed attempt
    assert gemini.call_count == 2


async def test_503_until_dead_letter(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route
) -> None:
    gemini.respond(503, json=error_body(503, "UNAVAILABLE", "The model is overloaded."))
    await upload_photo(client, garden, photo(23))
    await run_jobs()
    assert gemini.call_count == 3
    (listed,) = await _diagnoses(client, garden)
    detail = await client.get(f"/api/v1/diagnoses/{listed['id']}", headers=garden.user.headers)
    diagnosis = detail.json()
    assert diagnosis["status"] == "failed"
    assert diagnosis["attempts"] == 3
    assert diagnosis["last_error_code"] == "unavailable"
    assert "503" in diagnosis["last_error"]
    assert diagnosis["health"] is None  # never a stored verdict
    assert diagnosis["finished_at"] is not None
    assert diagnosis["job_status"] == "failed"


async def test_bad_answers_are_failed_attempts_never_verdicts(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route
) -> None:
    gemini.side_effect = [
        httpx.Response(200, json=gemini_body('{"health": "healthy", "confid')),
        httpx.Response(200, json=gemini_body(good_text(), finish="MAX_TOKENS")),
        httpx.Response(200, json=gemini_body(None, finish="SAFETY")),
    ]
    await upload_photo(client, garden, photo(24))
    await run_jobs()
    (diagnosis,) = await _diagnoses(client, garden)
    assert diagnosis["status"] == "failed"
    assert diagnosis["attempts"] == 3
    assert diagnosis["last_error_code"] == "blocked"
    assert diagnosis["health"] is None
    assert diagnosis["tokens"]["total"] == 3 * 1474  # failed attempts still cost tokens
    metrics = (await client.get("/metrics")).text
    assert (
        'plantvita_cloud_diagnosis_attempts_total{outcome="retry",source="gemini"} 2.0' in metrics
    )
    assert (
        'plantvita_cloud_diagnosis_attempts_total{outcome="dead_letter",source="gemini"} 1.0'
        in metrics
    )
    assert 'plantvita_cloud_diagnosis_tokens_total{kind="prompt"} 3870.0' in metrics


async def test_permanent_error_dead_letters_at_once(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route
) -> None:
    gemini.respond(400, json=error_body(400, "INVALID_ARGUMENT", "API key not valid."))
    await upload_photo(client, garden, photo(25))
    await run_jobs()
    (diagnosis,) = await _diagnoses(client, garden)
    assert (diagnosis["status"], diagnosis["attempts"], diagnosis["last_error_code"]) == (
        "failed",
        1,
        "rejected",
    )


async def test_requests_per_minute_are_shared(
    client: httpx.AsyncClient,
    garden: Garden,
    run_jobs: RunJobs,
    gemini: respx.Route,
    settings: Any,
    app: Any,
) -> None:
    gemini.respond(200, json=gemini_body(good_text()))
    async with app.state.engine.begin() as conn:  # the budget is one call this minute
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        await conn.execute(
            text("INSERT INTO diagnosis_rate_windows VALUES (:w, :n)"),
            {"w": now, "n": settings.diagnosis_rpm - 1},
        )
    await upload_photo(client, garden, photo(26))
    await upload_photo(client, garden, photo(27))
    await run_jobs()
    assert gemini.call_count == 1
    statuses = sorted(d["status"] for d in await _diagnoses(client, garden))
    assert statuses == ["queued", "succeeded"]
    waiting = next(d for d in await _diagnoses(client, garden) if d["status"] == "queued")
    assert waiting["attempts"] == 0  # a rate-limit wait is not a failed attempt
    assert datetime.fromisoformat(waiting["next_attempt_at"]) >= now + timedelta(minutes=1)
    detail = await client.get(f"/api/v1/diagnoses/{waiting['id']}", headers=garden.user.headers)
    assert detail.json()["job_status"] == "todo"


async def test_rediagnosis_is_deduplicated_while_queued(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route, app: Any
) -> None:
    gemini.respond(200, json=gemini_body(good_text()))
    ack = await upload_photo(client, garden, photo(28))
    path = f"/api/v1/images/{ack['image_id']}/diagnoses"
    pending = await client.post(path, headers=garden.user.headers)
    assert pending.status_code == 200  # the one queued on completion is reused
    await run_jobs()
    first = await client.post(path, headers=garden.user.headers)
    second = await client.post(path, headers=garden.user.headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "queued"
    async with app.state.engine.connect() as conn:
        jobs = await conn.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        )
    assert jobs == 1
    await run_jobs()
    history = await _diagnoses(client, garden)
    assert [d["status"] for d in history] == ["succeeded", "succeeded"]
    assert gemini.call_count == 2


async def test_a_photo_that_keeps_killing_workers_is_dead_lettered(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route, app: Any
) -> None:
    gemini.respond(200, json=gemini_body(good_text()))
    await upload_photo(client, garden, photo(29))
    async with app.state.engine.begin() as conn:  # as if three workers died mid-attempt
        await conn.execute(text("UPDATE diagnoses SET status = 'running', attempts = 3"))
    await run_jobs()
    (diagnosis,) = await _diagnoses(client, garden)
    assert (diagnosis["status"], diagnosis["last_error_code"]) == ("failed", "worker_lost")
    assert gemini.call_count == 0


async def test_concurrent_rediagnosis_requests_share_one_diagnosis(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route, app: Any
) -> None:
    gemini.respond(200, json=gemini_body(good_text()))
    ack = await upload_photo(client, garden, photo(30))
    await run_jobs()
    path = f"/api/v1/images/{ack['image_id']}/diagnoses"
    responses = await asyncio.gather(
        *(client.post(path, headers=garden.user.headers) for _ in range(6))
    )
    assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    async with app.state.engine.connect() as conn:
        active = await conn.scalar(text("SELECT count(*) FROM diagnoses WHERE status = 'queued'"))
    assert active == 1


async def test_a_photo_gone_from_the_store_fails_for_good(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route, app: Any
) -> None:
    gemini.respond(200, json=gemini_body(good_text()))
    ack = await upload_photo(client, garden, photo(31))
    async with app.state.engine.connect() as conn:
        key = await conn.scalar(
            text("SELECT object_key FROM images WHERE id = :id"), {"id": ack["image_id"]}
        )
    assert await app.state.object_store.delete(key)
    await run_jobs()
    (diagnosis,) = await _diagnoses(client, garden)
    assert (diagnosis["status"], diagnosis["last_error_code"]) == ("failed", "image_missing")
    assert gemini.call_count == 0


async def test_finished_jobs_are_pruned_but_diagnoses_stay(
    client: httpx.AsyncClient, garden: Garden, run_jobs: RunJobs, gemini: respx.Route, app: Any
) -> None:
    gemini.respond(200, json=gemini_body(good_text()))
    await upload_photo(client, garden, photo(32))
    await run_jobs()
    async with AsyncSession(app.state.engine) as session, session.begin():
        # As if the diagnosis finished long ago; then the daily prune comes round.
        await session.execute(text("UPDATE procrastinate_events SET at = at - interval '60 days'"))
        await defer(session, f"{NAMESPACE}:prune_finished_jobs", {"timestamp": 0})
    await run_jobs()
    async with app.state.engine.connect() as conn:
        jobs = await conn.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"),
            {"t": DIAGNOSE_TASK},
        )
    assert jobs == 0
    (diagnosis,) = await _diagnoses(client, garden)
    assert diagnosis["status"] == "succeeded"
    detail = await client.get(f"/api/v1/diagnoses/{diagnosis['id']}", headers=garden.user.headers)
    assert detail.json()["job_status"] is None  # the job is forgotten, the diagnosis is not
