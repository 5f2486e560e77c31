"""The optional signed alert webhook: set/rotate/clear through the API (owner-scoped), and
durable deliveries by the job worker to a receiver outside the project (respx)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import text

from cloud.alerts.service import check_stale_nodes
from cloud.egress import Egress
from cloud.errors import InvalidRequestError
from cloud.notifications import service as notification_service
from cloud.notifications import signing
from cloud.notifications.queueing import DELIVER_TASK
from cloud.notifications.webhook import WebhookChannel
from cloud.settings import CloudSettings, Environment
from cloud.worker import WorkerDeps, build_job_app, run_worker
from shared.sync import SYNC_ALERTS_PATH, SYNC_READINGS_PATH
from tests.cloud.factories import HubAuth, UserAuth, create_hub, create_node, create_user

WEBHOOK_PATH = "/api/v1/alerts/webhook"
RECEIVER = "https://hooks.example.org/plantvita"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Jobs run when the test says so, not by the inline worker.
    return {"worker_inline": False, "low_battery_pct": 15}


RunJobs = Callable[[], Awaitable[None]]
_READY = (
    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
    "AND (scheduled_at IS NULL OR scheduled_at <= now())"
)


@pytest.fixture
def run_jobs(app: FastAPI, settings: CloudSettings) -> RunJobs:
    """One worker pass over the jobs that are ready now."""

    async def run() -> None:
        job_app = build_job_app(settings.database_url or "", max_connections=3)
        deps = WorkerDeps(
            engine=app.state.engine,
            store=app.state.object_store,
            diagnoser=app.state.diagnoser,
            settings=settings,
            egress=app.state.egress,
        )
        async with job_app.open_async():
            await run_worker(job_app, deps, name=f"test-{uuid.uuid4().hex[:6]}", wait=False)

    return run


async def webhook_jobs(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    """(status, args) of every webhook job."""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT status::text, args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"
            ),
            {"t": DELIVER_TASK},
        )
        return [(row[0], row[1]) for row in rows]


async def garden(client: httpx.AsyncClient) -> tuple[UserAuth, HubAuth, str]:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    return user, hub, node["mac"]


async def push_battery(
    client: httpx.AsyncClient, hub: HubAuth, mac: str, rows: list[tuple[int, float]]
) -> None:
    items = [
        {"node_mac": mac, "measured_at": (T0 + timedelta(minutes=m)).isoformat(), "battery": b}
        for m, b in rows
    ]
    response = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": items},
        headers=hub.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(rows)


async def set_webhook(client: httpx.AsyncClient, user: UserAuth, url: str = RECEIVER) -> str:
    response = await client.put(WEBHOOK_PATH, json={"url": url}, headers=user.headers)
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    return secret


async def test_set_show_rotate_and_clear(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    assert (await client.get(WEBHOOK_PATH, headers=user.headers)).status_code == 404
    created = await client.put(WEBHOOK_PATH, json={"url": RECEIVER}, headers=user.headers)
    assert created.status_code == 200
    secret = created.json()["secret"]
    assert secret.startswith(signing.SECRET_PREFIX)
    assert len(secret) > 40
    shown = (await client.get(WEBHOOK_PATH, headers=user.headers)).json()
    assert (shown["url"], "secret" in shown, shown["last_delivery"]) == (RECEIVER, False, None)
    moved = await client.put(
        WEBHOOK_PATH, json={"url": "https://other.example.org/h"}, headers=user.headers
    )
    assert moved.status_code == 200
    assert "secret" not in moved.json()  # shown once only
    rotated = await client.post(f"{WEBHOOK_PATH}/rotate-secret", headers=user.headers)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (secret, None)
    assert (await client.delete(WEBHOOK_PATH, headers=user.headers)).status_code == 204
    gone = await client.delete(WEBHOOK_PATH, headers=user.headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("url", ["not a url", "ftp://hooks.example.org/x", "https://", ""])
async def test_bad_url_is_422_with_error_body(client: httpx.AsyncClient, url: str) -> None:
    user = await create_user(client)
    response = await client.put(WEBHOOK_PATH, json={"url": url}, headers=user.headers)
    assert response.status_code == 422
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert (await client.get(WEBHOOK_PATH, headers=user.headers)).status_code == 404


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.org/x", True),
        ("http://hooks.example.org/x", False),
        ("https://127.0.0.1/x", False),
        ("https://10.1.2.3/x", False),
        ("https://169.254.169.254/latest", False),
        ("https://localhost:8443/x", False),
        ("https://[::1]/x", False),
        ("https://unknown.example.org/x", False),  # does not resolve
    ],
)
async def test_outside_development_https_to_public_hosts_only(
    url: str, allowed: bool, egress: Egress
) -> None:
    production = CloudSettings.model_construct(environment=Environment.PRODUCTION)
    if allowed:
        await notification_service.check_webhook_url(url, production, egress)
    else:
        with pytest.raises(InvalidRequestError):
            await notification_service.check_webhook_url(url, production, egress)


async def test_another_user_cannot_see_or_change_it(client: httpx.AsyncClient) -> None:
    owner = await create_user(client)
    await set_webhook(client, owner)
    other = await create_user(client)
    assert (await client.get(WEBHOOK_PATH, headers=other.headers)).status_code == 404
    assert (await client.delete(WEBHOOK_PATH, headers=other.headers)).status_code == 404
    rotate = await client.post(f"{WEBHOOK_PATH}/rotate-secret", headers=other.headers)
    assert rotate.status_code == 404
    await set_webhook(client, other, "https://elsewhere.example.org/h")
    assert (await client.get(WEBHOOK_PATH, headers=owner.headers)).json()["url"] == RECEIVER
    assert (await client.get(WEBHOOK_PATH)).status_code == 401


async def test_signed_events_when_an_alert_opens_and_resolves(
    client: httpx.AsyncClient, app: FastAPI, run_jobs: RunJobs
) -> None:
    user, hub, mac = await garden(client)
    secret = await set_webhook(client, user)
    await push_battery(client, hub, mac, [(0, 40), (1, 12)])  # opens a low-battery alert
    [alert] = (await client.get("/api/v1/alerts", headers=user.headers)).json()
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    with respx.mock(assert_all_called=True) as mock:
        mock.post(RECEIVER).mock(side_effect=receiver)
        await run_jobs()
        await push_battery(client, hub, mac, [(2, 30)])  # back past the band: resolved
        await run_jobs()
    assert len(received) == 2
    events = []
    for request in received:
        headers = request.headers
        assert signing.verify(
            secret,
            headers[signing.TIMESTAMP_HEADER],
            headers[signing.SIGNATURE_HEADER],
            request.content,
            now=time.time(),
        )
        assert not signing.verify(
            "whsec_wrong",
            headers[signing.TIMESTAMP_HEADER],
            headers[signing.SIGNATURE_HEADER],
            request.content,
            now=time.time(),
        )
        body = orjson.loads(request.content)
        assert headers[signing.EVENT_HEADER] == body["type"]
        assert headers[signing.DELIVERY_HEADER] == body["id"]
        events.append((body["type"], body["alert"]["id"], body["alert"]["status"]))
    assert events == [
        ("alert.opened", alert["id"], "open"),
        ("alert.resolved", alert["id"], "resolved"),
    ]
    shown = (await client.get(WEBHOOK_PATH, headers=user.headers)).json()
    delivery = shown["last_delivery"]
    assert (delivery["event"], delivery["status"], delivery["http_status"]) == (
        "alert.resolved",
        "delivered",
        200,
    )
    assert delivery["attempts"] == 1
    assert [status for status, _ in await webhook_jobs(app)] == ["succeeded", "succeeded"]


async def test_stale_and_manual_resolutions_are_events_too(
    client: httpx.AsyncClient, app: FastAPI, running_app: Any, run_jobs: RunJobs
) -> None:
    user, hub, mac = await garden(client)
    secret = await set_webhook(client, user)
    await push_battery(client, hub, mac, [(0, 50)])  # an hour ago: stale by now
    assert await check_stale_nodes(app.state.engine, app.state.settings, app.state.metrics) == 1
    await push_battery(client, hub, mac, [(59, 50)])  # the node reports: stale alert resolved
    await push_battery(client, hub, mac, [(60, 10)])  # low battery opens...
    low = await client.get("/api/v1/alerts", params={"status": "open"}, headers=user.headers)
    [alert] = low.json()
    resolved = await client.post(f"/api/v1/alerts/{alert['id']}/resolve", headers=user.headers)
    assert resolved.status_code == 200  # ...and the gardener resolves it by hand
    with respx.mock() as mock:
        route = mock.post(RECEIVER).mock(return_value=httpx.Response(200))
        await run_jobs()
    bodies = [orjson.loads(call.request.content) for call in route.calls]
    assert all(
        signing.verify(
            secret,
            call.request.headers[signing.TIMESTAMP_HEADER],
            call.request.headers[signing.SIGNATURE_HEADER],
            call.request.content,
            now=time.time(),
        )
        for call in route.calls
    )
    assert sorted((body["alert"]["kind"], body["type"]) for body in bodies) == [
        ("low_battery", "alert.opened"),
        ("low_battery", "alert.resolved"),
        ("stale", "alert.opened"),
        ("stale", "alert.resolved"),
    ]


async def test_hub_pushed_alerts_are_events_once(
    client: httpx.AsyncClient, run_jobs: RunJobs
) -> None:
    user, hub, mac = await garden(client)
    await set_webhook(client, user)
    alert = {
        "local_id": str(uuid.uuid4()),
        "node_mac": mac,
        "kind": "high",
        "metric": "temperature",
        "message": "hot in the greenhouse",
        "opened_at": T0.isoformat(),
    }
    resolved = {**alert, "resolved_at": (T0 + timedelta(minutes=30)).isoformat()}
    for items in ([alert], [alert], [resolved], [resolved]):  # re-sent items: no new events
        batch = {"batch_id": str(uuid.uuid4()), "alerts": items}
        response = await client.post(SYNC_ALERTS_PATH, json=batch, headers=hub.headers)
        assert response.status_code == 200, response.text
    with respx.mock() as mock:
        route = mock.post(RECEIVER).mock(return_value=httpx.Response(200))
        await run_jobs()
    bodies = [orjson.loads(call.request.content) for call in route.calls]
    assert sorted((body["type"], body["alert"]["source"]) for body in bodies) == [
        ("alert.opened", "hub"),
        ("alert.resolved", "hub"),
    ]  # the worker runs jobs two at a time: arrival order is not fixed


async def test_retries_on_503_with_backoff_then_delivers_with_the_same_delivery_id(
    client: httpx.AsyncClient, app: FastAPI, run_jobs: RunJobs
) -> None:
    user, hub, mac = await garden(client)
    await set_webhook(client, user)
    await push_battery(client, hub, mac, [(0, 10)])
    with respx.mock() as mock:
        route = mock.post(RECEIVER).mock(side_effect=[httpx.Response(503), httpx.Response(204)])
        await run_jobs()
        first = (await client.get(WEBHOOK_PATH, headers=user.headers)).json()["last_delivery"]
        assert (first["status"], first["http_status"], first["attempts"]) == ("retrying", 503, 1)
        async with app.state.engine.begin() as conn:
            wait = await conn.scalar(
                text(
                    "SELECT extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs "
                    "WHERE task_name = :t AND status = 'todo'"
                ),
                {"t": DELIVER_TASK},
            )
            assert 5 < wait <= 13  # the first backoff step, 10 s with jitter
            await conn.execute(
                text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE task_name = :t"),
                {"t": DELIVER_TASK},
            )
        await run_jobs()
    assert route.call_count == 2
    ids = {call.request.headers[signing.DELIVERY_HEADER] for call in route.calls}
    assert len(ids) == 1  # one event, however many attempts
    done = (await client.get(WEBHOOK_PATH, headers=user.headers)).json()["last_delivery"]
    assert (done["status"], done["http_status"], done["attempts"]) == ("delivered", 204, 2)
    assert [status for status, _ in await webhook_jobs(app)] == ["succeeded"]


async def test_timeouts_retry_and_delivery_gives_up_after_the_last_attempt(
    client: httpx.AsyncClient, app: FastAPI, run_jobs: RunJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WebhookChannel, "backoff_base_s", 0.0)
    monkeypatch.setattr(WebhookChannel, "max_attempts", 3)
    user, hub, mac = await garden(client)
    await set_webhook(client, user)
    await push_battery(client, hub, mac, [(0, 10)])
    with respx.mock() as mock:
        route = mock.post(RECEIVER).mock(
            side_effect=[httpx.ReadTimeout("slow"), httpx.Response(500), httpx.Response(502)]
        )
        for _ in range(10):  # no backoff: each retry is due at once
            await run_jobs()
            if [status for status, _ in await webhook_jobs(app)] != ["todo"]:
                break
            await asyncio.sleep(0.05)
    assert route.call_count == 3
    last = (await client.get(WEBHOOK_PATH, headers=user.headers)).json()["last_delivery"]
    assert (last["status"], last["http_status"], last["attempts"]) == ("failed", 502, 3)
    assert [status for status, _ in await webhook_jobs(app)] == ["succeeded"]


async def test_a_4xx_is_not_retried(client: httpx.AsyncClient, run_jobs: RunJobs) -> None:
    user, hub, mac = await garden(client)
    await set_webhook(client, user)
    await push_battery(client, hub, mac, [(0, 10)])
    with respx.mock() as mock:
        route = mock.post(RECEIVER).mock(return_value=httpx.Response(410))
        await run_jobs()
        await run_jobs()
    assert route.call_count == 1
    last = (await client.get(WEBHOOK_PATH, headers=user.headers)).json()["last_delivery"]
    assert (last["status"], last["http_status"], last["error"]) == ("failed", 410, "HTTP 410")


async def test_a_redirect_is_not_followed(client: httpx.AsyncClient, run_jobs: RunJobs) -> None:
    user, hub, mac = await garden(client)
    await set_webhook(client, user)
    await push_battery(client, hub, mac, [(0, 10)])
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(RECEIVER).mock(
            return_value=httpx.Response(307, headers={"Location": "http://169.254.169.254/"})
        )
        inside = mock.route(host="169.254.169.254").mock(return_value=httpx.Response(200))
        await run_jobs()
    assert (route.call_count, inside.call_count) == (1, 0)
    last = (await client.get(WEBHOOK_PATH, headers=user.headers)).json()["last_delivery"]
    assert (last["status"], last["http_status"]) == ("failed", 307)


async def test_no_delivery_without_a_webhook(
    client: httpx.AsyncClient, app: FastAPI, run_jobs: RunJobs
) -> None:
    user, hub, mac = await garden(client)
    other = await create_user(client)
    await set_webhook(client, other)  # someone else's webhook must not fire for this user
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(RECEIVER).mock(return_value=httpx.Response(200))
        await push_battery(client, hub, mac, [(0, 40), (1, 10)])
        await run_jobs()
    assert len((await client.get("/api/v1/alerts", headers=user.headers)).json()) == 1
    assert route.call_count == 0
    assert await webhook_jobs(app) == []


async def test_cleared_webhook_drops_queued_events(
    client: httpx.AsyncClient, app: FastAPI, run_jobs: RunJobs
) -> None:
    user, hub, mac = await garden(client)
    await set_webhook(client, user)
    await push_battery(client, hub, mac, [(0, 10)])
    assert (await client.delete(WEBHOOK_PATH, headers=user.headers)).status_code == 204
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(RECEIVER).mock(return_value=httpx.Response(200))
        await run_jobs()
    assert route.call_count == 0
    assert [status for status, _ in await webhook_jobs(app)] == ["succeeded"]


def test_receiver_check_refuses_replays_and_tampering() -> None:
    secret = signing.new_secret()
    body = b'{"id": "x"}'
    stamp = 1_800_000_000
    header = signing.signature(secret, stamp, body)
    assert signing.verify(secret, str(stamp), header, body, now=stamp + 10)
    assert not signing.verify(secret, str(stamp), header, body, now=stamp + 301)  # replayed later
    assert not signing.verify(secret, str(stamp + 60), header, body, now=stamp + 60)  # re-stamped
    assert not signing.verify(secret, str(stamp), header, body + b" ", now=stamp)
    assert not signing.verify(secret, "soon", header, body, now=stamp)
    assert signing.verify(secret, str(stamp), f"v1=00, {header}", body, now=stamp)
