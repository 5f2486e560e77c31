"""Web Push and e-mail end to end: the app subscribes a browser, an alert opens, the durable
delivery jobs run, and the push service decrypts the message with the browser's own keys
(RFC 8291) under a valid VAPID signature, while a real SMTP server receives the e-mail.
Preferences per event and channel decide who gets what; a gone subscription is forgotten."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from cloud.registry.service import check_offline_hubs
from shared.sync import SYNC_ALERTS_PATH
from tests.cloud.factories import create_hub, create_node, create_plant, create_user
from tests.cloud.images.conftest import make_garden, photo, upload_photo
from tests.cloud.notifications.conftest import RunJobs
from tests.cloud.notifications.receivers import MailServer, PushService


async def _open_alert(client: httpx.AsyncClient, hub: Any, node: dict[str, Any]) -> None:
    alert = {
        "local_id": str(uuid.uuid4()),
        "node_mac": node["mac"],
        "kind": "low",
        "metric": "moisture",
        "message": "moisture 12% below the plant's minimum 30%",
        "opened_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    pushed = await client.post(
        SYNC_ALERTS_PATH,
        json={"batch_id": str(uuid.uuid4()), "alerts": [alert]},
        headers=hub.headers,
    )
    assert pushed.status_code == 200, pushed.text


async def test_an_alert_arrives_by_push_and_email(
    client: httpx.AsyncClient, run_jobs: RunJobs, push: PushService, mail: MailServer
) -> None:
    push.received.clear()
    mail.inbox.messages.clear()
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    plant = await create_plant(client, user, name="Basil <b>", node=node)
    key = await client.get("/api/v1/notifications/push/key", headers=user.headers)
    assert key.status_code == 200
    assert len(key.json()["public_key"]) == 87  # a P-256 point, base64url
    subscribed = await client.post(
        "/api/v1/notifications/push/subscriptions", json=push.subscription(), headers=user.headers
    )
    assert subscribed.status_code == 201, subscribed.text
    assert subscribed.json()["push_service"] == "127.0.0.1"
    prefs = await client.get("/api/v1/notifications/preferences", headers=user.headers)
    assert prefs.json()["choices"]["push"]["alert.opened"] is True
    assert prefs.json()["choices"]["email"]["alert.opened"] is False  # e-mail is opt-in
    turned_on = await client.put(
        "/api/v1/notifications/preferences",
        json={"choices": {"email": {"alert.opened": True}}},
        headers=user.headers,
    )
    assert turned_on.json()["choices"]["email"]["alert.opened"] is True

    await _open_alert(client, hub, node)
    await run_jobs()

    assert len(push.received) == 1
    message = push.received[0]
    assert message.payload["event"] == "alert.opened"
    assert "moisture" in message.payload["body"]
    assert message.payload["url"] == f"/app/plants/{plant['id']}#alerts"
    assert message.vapid_claims["sub"].startswith("mailto:")
    assert int(message.headers["ttl"]) > 0
    assert len(mail.inbox.messages) == 1
    email = mail.inbox.messages[0]
    assert email["To"] == user.email
    assert email["From"] == "Plant-Vita <garden@plantvita.test>"
    assert "low alert" in email["Subject"]
    text = email.get_payload(decode=True).decode()
    assert "moisture 12%" in text
    assert f"http://cloud.test/app/plants/{plant['id']}#alerts" in text
    listed = await client.get("/api/v1/notifications/push/subscriptions", headers=user.headers)
    assert listed.json()[0]["last_status"] == "delivered"


async def test_preferences_turn_a_channel_off_per_event(
    client: httpx.AsyncClient, run_jobs: RunJobs, push: PushService, mail: MailServer
) -> None:
    push.received.clear()
    mail.inbox.messages.clear()
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await create_plant(client, user, node=node)
    await client.post(
        "/api/v1/notifications/push/subscriptions", json=push.subscription(), headers=user.headers
    )
    off = await client.put(
        "/api/v1/notifications/preferences",
        json={"choices": {"push": {"alert.opened": False}}},
        headers=user.headers,
    )
    assert off.status_code == 200
    await _open_alert(client, hub, node)
    await run_jobs()
    assert push.received == []
    assert mail.inbox.messages == []  # e-mail stayed off (the default)
    bad = await client.put(
        "/api/v1/notifications/preferences",
        json={"choices": {"pigeon": {"alert.opened": True}}},
        headers=user.headers,
    )
    assert bad.status_code == 422


async def test_a_gone_subscription_is_forgotten_and_a_failing_one_retried(
    client: httpx.AsyncClient, run_jobs: RunJobs, push: PushService, app: FastAPI
) -> None:
    push.received.clear()
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await create_plant(client, user, node=node)
    await client.post(
        "/api/v1/notifications/push/subscriptions", json=push.subscription(), headers=user.headers
    )
    push.answer_status = 503
    try:
        await _open_alert(client, hub, node)
        await run_jobs()
        listed = await client.get("/api/v1/notifications/push/subscriptions", headers=user.headers)
        assert listed.json()[0]["last_status"] == "failed"
        async with app.state.engine.connect() as conn:
            from sqlalchemy import text

            status = await conn.scalar(
                text(
                    "SELECT status::text FROM procrastinate_jobs "
                    "WHERE args->>'channel' = 'push' ORDER BY id DESC LIMIT 1"
                )
            )
        assert status == "todo"  # scheduled again with the channel's backoff
        push.answer_status = 410
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")
            )
        await run_jobs()
        gone = await client.get("/api/v1/notifications/push/subscriptions", headers=user.headers)
        assert gone.json() == []
    finally:
        push.answer_status = 201


async def test_push_endpoints_must_be_public(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    body = {
        "endpoint": "http://10.0.0.5/push/x",
        "keys": {"p256dh": "B" * 87, "auth": "A" * 22},
    }
    refused = await client.post(
        "/api/v1/notifications/push/subscriptions", json=body, headers=user.headers
    )
    assert refused.status_code == 422
    assert "public internet" in refused.text


async def _subscribe(client: httpx.AsyncClient, headers: dict[str, str], push: PushService) -> None:
    response = await client.post(
        "/api/v1/notifications/push/subscriptions", json=push.subscription(), headers=headers
    )
    assert response.status_code == 201, response.text


async def test_a_finished_diagnosis_is_pushed_with_its_first_step(
    client: httpx.AsyncClient, run_jobs: RunJobs, push: PushService
) -> None:
    push.received.clear()
    garden = await make_garden(client)
    await _subscribe(client, garden.user.headers, push)
    await upload_photo(client, garden, photo(3))
    await run_jobs()  # the diagnosis, which queues its notification
    await run_jobs()
    ready = [m for m in push.received if m.payload["event"] == "diagnosis.ready"]
    assert len(ready) == 1
    assert garden.plant["name"] in ready[0].payload["title"]
    assert ready[0].payload["url"] == f"/app/plants/{garden.plant['id']}"
    diagnoses = await client.get(
        f"/api/v1/plants/{garden.plant['id']}/diagnoses", headers=garden.user.headers
    )
    assert diagnoses.json()[0]["status"] == "succeeded"


async def test_a_silent_hub_is_told_once_per_outage(
    client: httpx.AsyncClient, run_jobs: RunJobs, push: PushService, app: FastAPI
) -> None:
    from sqlalchemy import text

    push.received.clear()
    user = await create_user(client)
    hub = await create_hub(client, user, name="Shed hub")
    await _subscribe(client, user.headers, push)

    async def last_seen(ago: timedelta) -> None:
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("UPDATE hubs SET last_seen_at = :t WHERE id = :h"),
                {"t": datetime.now(UTC) - ago, "h": hub.id},
            )

    await last_seen(timedelta(minutes=5))
    await check_offline_hubs(app.state.engine, 900)
    await run_jobs()
    assert push.received == []  # seen 5 min ago: online
    await last_seen(timedelta(hours=2))
    for _ in range(2):
        await check_offline_hubs(app.state.engine, 900)
        await run_jobs()
    offline = [m for m in push.received if m.payload["event"] == "hub.offline"]
    assert len(offline) == 1
    assert "Shed hub" in offline[0].payload["title"]
    # It called in after that notice (told 3 h ago, seen 1 h ago), then fell silent again: a
    # new outage, told again.
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE hubs SET offline_notified_at = :t WHERE id = :h"),
            {"t": datetime.now(UTC) - timedelta(hours=3), "h": hub.id},
        )
    await last_seen(timedelta(hours=1))
    await check_offline_hubs(app.state.engine, 900)
    await run_jobs()
    assert len([m for m in push.received if m.payload["event"] == "hub.offline"]) == 2
