"""The daily e-mail digest against a real SMTP server (aiosmtpd): one message per opted-in
gardener per day of theirs (the account's time zone), telling the day before in their units;
queueing it again, on the same day or from another worker, sends nothing more."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from email.header import decode_header, make_header
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.digest import tasks as digest_tasks
from cloud.digest.service import day_window, queue_due_digests
from cloud.jobs.queue import NAMESPACE, defer
from cloud.worker import build_job_app
from shared.sync import SYNC_ALERTS_PATH, SYNC_READINGS_PATH
from tests.cloud.factories import create_user
from tests.cloud.images.conftest import make_garden, photo, upload_photo
from tests.cloud.notifications.conftest import RunJobs
from tests.cloud.notifications.receivers import MailServer

TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9, no daylight saving time
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    # One reading past a limit opens an alert: the test's day has few readings.
    return {**settings_overrides, "alert_min_duration_s": 0, "digest_hour": 7}


def subject_of(message: Message) -> str:
    """The Subject header decoded (RFC 2047: it holds a dash that is not ASCII)."""
    return str(make_header(decode_header(message["Subject"])))


def checking_at() -> datetime:
    """10:00 UTC today: 19:00 in Tokyo (digest due), 02:00 or 03:00 in Los Angeles (not yet)."""
    return datetime.combine(datetime.now(UTC).date(), time(10), UTC)


async def _opt_in(client: httpx.AsyncClient, headers: dict[str, str], zone: str) -> None:
    me = await client.patch(
        "/api/v1/auth/me", json={"time_zone": zone, "temperature_unit": "F"}, headers=headers
    )
    assert me.status_code == 200, me.text
    assert me.json()["time_zone"] == zone
    prefs = await client.put(
        "/api/v1/notifications/preferences", json={"email_digest": True}, headers=headers
    )
    assert prefs.status_code == 200, prefs.text
    assert prefs.json()["email_digest"] is True
    assert prefs.json()["digest_hour"] == 7


async def test_the_digest_tells_the_day_before_once_per_local_day(
    client: httpx.AsyncClient,
    app: FastAPI,
    run_jobs: RunJobs,
    mail: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The test queues the digests itself at chosen times; the worker's own ten-minute schedule,
    # which runs inside run_jobs on the real clock, would find Tokyo's next morning after 22:00
    # UTC and send that day's digest too (the schedule has its own test below).
    async def schedule_off(engine: object, hour: int, now: datetime) -> int:
        return 0

    monkeypatch.setattr(digest_tasks, "queue_due_digests", schedule_off)
    mail.inbox.messages.clear()
    garden = await make_garden(client)
    await _opt_in(client, garden.user.headers, "Asia/Tokyo")
    patched = await client.patch(
        f"/api/v1/plants/{garden.plant['id']}",
        json={"name": "Monstera <i>", "overrides": {"temperature_min": 15, "temperature_max": 25}},
        headers=garden.user.headers,
    )
    assert patched.status_code == 200, patched.text
    now = checking_at()
    day = now.astimezone(TOKYO).date() - timedelta(days=1)
    start, end = day_window(day, TOKYO)
    assert end - start == timedelta(days=1)

    # In the cloud: too warm at 02:00 Tokyo time, fine again at 03:00.
    warm, cool = start + timedelta(hours=2), start + timedelta(hours=3)
    readings = [
        {"node_mac": garden.node["mac"], "measured_at": warm.isoformat(), "temperature": 31.0},
        {"node_mac": garden.node["mac"], "measured_at": cool.isoformat(), "temperature": 20.0},
    ]
    pushed = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers=garden.hub.headers,
    )
    assert pushed.status_code == 200, pushed.text
    # From the hub: warm again at 05:00, still open; and one from an older hub (no value).
    hub_alert = {
        "local_id": str(uuid.uuid4()),
        "node_mac": garden.node["mac"],
        "plant_id": garden.plant["id"],
        "kind": "high",
        "metric": "temperature",
        "message": "Monstera: temperature 30.0 °C above 25.0 °C",
        "opened_at": (start + timedelta(hours=5)).isoformat(),
        "value": 30.0,
        "bound": 25.0,
    }
    older_hub_alert = {
        "local_id": str(uuid.uuid4()),
        "node_mac": garden.node["mac"],
        "plant_id": garden.plant["id"],
        "kind": "low",
        "metric": "moisture",
        "message": "Monstera: soil moisture 12 % below 30 %",
        "opened_at": (start + timedelta(hours=6)).isoformat(),
        "resolved_at": (start + timedelta(hours=7)).isoformat(),
    }
    sent = await client.post(
        SYNC_ALERTS_PATH,
        json={"batch_id": str(uuid.uuid4()), "alerts": [hub_alert, older_hub_alert]},
        headers=garden.hub.headers,
    )
    assert sent.status_code == 200, sent.text
    # A diagnosis that came out at 09:00, and the hub noticed offline at 20:00, never back.
    await upload_photo(client, garden, photo(5))
    await run_jobs()
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE diagnoses SET finished_at = :t WHERE owner_id = :o"),
            {"t": start + timedelta(hours=9), "o": garden.user.id},
        )
        await conn.execute(
            text("UPDATE hubs SET last_seen_at = :seen, offline_notified_at = :told WHERE id = :h"),
            {
                "seen": start + timedelta(hours=19, minutes=45),
                "told": start + timedelta(hours=20),
                "h": garden.hub.id,
            },
        )
    mail.inbox.messages.clear()  # the diagnosis' own notices are not under test here

    # Neighbours: one opted in whose morning has not come, one who never opted in.
    later = await create_user(client)
    await _opt_in(client, later.headers, "America/Los_Angeles")
    await create_user(client)

    engine = app.state.engine
    assert await queue_due_digests(engine, 7, now) == 1
    assert await queue_due_digests(engine, 7, now) == 0  # the same day: claimed already
    assert await queue_due_digests(engine, 7, now + timedelta(hours=3)) == 0
    await run_jobs()

    assert len(mail.inbox.messages) == 1
    message = mail.inbox.messages[0]
    assert message["To"] == garden.user.email
    assert subject_of(message) == (
        f"Plant-Vita: your garden on {day.isoformat()} — 3 alerts opened, 2 resolved, 1 diagnosis"
    )
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert f"Your garden on {day:%A} {day.isoformat()} (Asia/Tokyo time)." in body
    # The cloud's alert in the gardener's °F, named by the plant's current name, as text.
    assert "Alerts opened (3):\n- 02:00 Monstera <i>: temperature 87.8 °F above 77.0 °F" in body
    assert "Alerts resolved (2):\n- 03:00 Monstera <i>: temperature 87.8 °F above 77.0 °F" in body
    assert "(open since 02:00)" in body
    # The hub's alerts: one with its value, in °F too; one without, in its own words.
    assert "- 05:00 Monstera <i>: temperature 86.0 °F above 77.0 °F\n" in body
    assert "- 07:00 Monstera: soil moisture 12 % below 30 % (open since 06:00)\n" in body
    assert "Diagnoses (1):\n- Monstera <i>: " in body
    assert "% sure)" in body
    assert "Hubs (1):" in body
    assert "went offline (noticed at 20:00); still offline, last sync 19:45" in body
    assert "Open alerts now: 1." in body
    assert "http://cloud.test/app/" in body
    assert "daily digest because it is on" in body
    # Its row says it went out; the Los Angeles gardener's digest is not claimed yet.
    async with engine.begin() as conn:
        rows = (
            await conn.execute(text("SELECT owner_id, day, status, sent_at FROM email_digests"))
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [(garden.user.id, day, "delivered")]
    assert rows[0][3] is not None
    # The ledger is bounded: a row older than a month goes at the next check.
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO email_digests (id, owner_id, day, time_zone, queued_at) "
                "VALUES (gen_random_uuid(), :o, :d, 'UTC', now())"
            ),
            {"o": garden.user.id, "d": day - timedelta(days=40)},
        )
    assert await queue_due_digests(engine, 7, now) == 0
    async with engine.begin() as conn:
        days = (await conn.execute(text("SELECT day FROM email_digests"))).scalars().all()
    assert days == [day]

    # The next morning in Tokyo: a new day, a new message (that day was quiet); still night
    # in Los Angeles.
    mail.inbox.messages.clear()
    next_morning = now + timedelta(days=1)
    assert await queue_due_digests(engine, 7, next_morning) == 1
    await run_jobs()
    assert [m["To"] for m in mail.inbox.messages] == [garden.user.email]
    quiet = mail.inbox.messages[0].get_payload(decode=True).decode().replace("\r\n", "\n")
    assert (day + timedelta(days=1)).isoformat() in subject_of(mail.inbox.messages[0])
    assert "A quiet day" in quiet
    assert "Open alerts now: 1." in quiet
    # 08:00 in Los Angeles (01:00 the day after in Tokyo): the other gardener's turn.
    mail.inbox.messages.clear()
    la_morning = next_morning + timedelta(hours=6)
    assert await queue_due_digests(engine, 7, la_morning) == 1
    await run_jobs()
    la_day = la_morning.astimezone(LOS_ANGELES).date() - timedelta(days=1)
    assert [(m["To"], subject_of(m).split(" — ")[0]) for m in mail.inbox.messages] == [
        (later.email, f"Plant-Vita: your garden on {la_day.isoformat()}")
    ]


async def test_turning_the_digest_off_stops_it_and_bad_choices_are_refused(
    client: httpx.AsyncClient, app: FastAPI, run_jobs: RunJobs, mail: MailServer
) -> None:
    mail.inbox.messages.clear()
    user = await create_user(client)
    prefs = (await client.get("/api/v1/notifications/preferences", headers=user.headers)).json()
    assert prefs["email_digest"] is False  # opt-in
    await _opt_in(client, user.headers, "Asia/Tokyo")
    off = await client.put(
        "/api/v1/notifications/preferences", json={"email_digest": False}, headers=user.headers
    )
    assert off.json()["email_digest"] is False
    assert await queue_due_digests(app.state.engine, 7, checking_at()) == 0
    await run_jobs()
    assert [m for m in mail.inbox.messages if m["To"] == user.email] == []
    for bad in ({"email_digest": "daily"}, {"email_digest": True, "hour": 6}):
        refused = await client.put(
            "/api/v1/notifications/preferences", json=bad, headers=user.headers
        )
        assert refused.status_code == 422, bad
    for zone in ("Mars/Olympus", "../../etc/passwd", "x" * 65, ""):
        refused = await client.patch(
            "/api/v1/auth/me", json={"time_zone": zone}, headers=user.headers
        )
        assert refused.status_code == 422, zone
    cleared = await client.patch("/api/v1/auth/me", json={"time_zone": None}, headers=user.headers)
    assert cleared.json()["time_zone"] is None


def test_a_day_is_the_gardeners_own_even_across_a_clock_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = day_window(date(2026, 10, 25), berlin)  # summer time ends: a 25-hour day
    assert (start, end - start) == (datetime(2026, 10, 24, 22, tzinfo=UTC), timedelta(hours=25))


async def test_the_worker_queues_due_digests_on_its_schedule(
    client: httpx.AsyncClient, app: FastAPI, run_jobs: RunJobs, mail: MailServer
) -> None:
    """The periodic task itself (every 10 minutes), run by the worker: a gardener whose digest
    hour has passed gets yesterday's digest, once."""
    periodic = {
        task.periodic_id: task.cron
        for task in build_job_app(
            "postgresql://unused/db"
        ).periodic_registry.periodic_tasks.values()
    }
    assert periodic["queue_email_digests"] == "*/10 * * * *"
    mail.inbox.messages.clear()
    user = await create_user(client)
    now = datetime.now(UTC)
    # A zone where it is now well past the digest hour and not near midnight.
    zone = next(
        z
        for z in (ZoneInfo(f"Etc/GMT{-k:+d}") for k in range(-12, 15))
        if 9 <= now.astimezone(z).hour <= 21
    )
    await _opt_in(client, user.headers, zone.key)
    for _ in range(2):  # two rounds of the schedule: the second finds the day claimed
        async with AsyncSession(app.state.engine) as session, session.begin():
            await defer(session, f"{NAMESPACE}:queue_email_digests", {"timestamp": 0})
        await run_jobs()
        await run_jobs()
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    mine = [m for m in mail.inbox.messages if m["To"] == user.email]
    assert [subject_of(m).split(" — ")[0] for m in mine] == [
        f"Plant-Vita: your garden on {yesterday.isoformat()}"
    ]
