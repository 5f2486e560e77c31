"""The daily e-mail digest: for each gardener who opted in, one message per day of theirs
(their account's time zone, else UTC) telling the day before: alerts opened and resolved,
diagnoses that came out, hubs that went offline.

``queue_due_digests`` runs on a schedule (``cloud.digest.tasks``). From
``digest_hour`` of the gardener's day it claims the (gardener, yesterday) digest row — unique,
so however often and on however many workers it runs, each day is queued once — and defers
its delivery as an ordinary e-mail notification job (event ``digest.daily``), which retries
like every other channel job. ``digest_subject`` writes the message when the job runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.alerts import service as alerts
from cloud.alerts.models import Alert
from cloud.auth.models import User
from cloud.db.session import raw_connection
from cloud.diagnosis import service as diagnoses
from cloud.digest import repository
from cloud.notifications.ports import Subject
from cloud.notifications.preferences import DAILY_DIGEST
from cloud.notifications.queueing import defer_events_sql
from cloud.registry import service as registry
from shared.alert_text import TemperatureUnit

MAX_LINES = 30  # per section: a digest is a summary, the app has the rest
KEEP_DAYS = 30  # digest rows kept (how each went); only yesterday's can still be claimed
_CLAIM = repository.claim_digests_sql(
    defer_events_sql(
        f"SELECT id, owner_id, '{DAILY_DIGEST}' FROM claimed",  # noqa: S608 - a constant
        only="email",
    )
)


def zone_of(name: str | None) -> ZoneInfo:
    """The account's time zone (UTC when unset or unknown to this system)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_day(zone: ZoneInfo, now: datetime, digest_hour: int) -> date | None:
    """The local day whose digest is due at ``now`` (yesterday, from ``digest_hour`` on)."""
    local = now.astimezone(zone)
    if local.hour < digest_hour:
        return None
    return local.date() - timedelta(days=1)


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC (23 or 25 hours long on a clock change)."""
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def queue_due_digests(engine: AsyncEngine, digest_hour: int, now: datetime) -> int:
    """Claim and queue every digest due at ``now``; how many were new."""
    async with AsyncSession(engine) as session, session.begin():
        # The ledger stays bounded: a month of rows per gardener at most.
        await repository.prune_digests(session, now.date() - timedelta(days=KEEP_DAYS))
        subscribers = await repository.digest_subscribers(session)
        owners, days, zones = [], [], []
        for owner_id, zone_name in subscribers:
            zone = zone_of(zone_name)
            day = due_day(zone, now, digest_hour)
            if day is not None:
                owners.append(owner_id)
                days.append(day)
                zones.append(zone.key)
        if not owners:
            return 0
        conn = await raw_connection(session)
        async with conn.cursor() as cur:
            await cur.execute(_CLAIM, {"owners": owners, "days": days, "zones": zones})
            row = await cur.fetchone()
    jobs = row[0] if row else None
    return len(jobs) if isinstance(jobs, list) else 0


def _clock(at: datetime, zone: ZoneInfo, day: date) -> str:
    local = at.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == day else f"{local:%Y-%m-%d %H:%M}"


def _section(title: str, lines: Sequence[str]) -> list[str]:
    shown = list(lines[:MAX_LINES])
    if len(lines) > MAX_LINES:
        shown.append(f"… and {len(lines) - MAX_LINES} more in the app")
    return [f"{title} ({len(lines)}):", *(f"- {line}" for line in shown), ""]


def compose(
    day: date,
    zone: ZoneInfo,
    unit: TemperatureUnit,
    alert_rows: Sequence[Alert],
    still_open: int,
    diagnosis_lines: Sequence[str],
    hub_lines: Sequence[str],
    plants: dict[uuid.UUID, str],
    window: tuple[datetime, datetime],
) -> tuple[str, str, dict[str, Any]]:
    """(title, text, counts) of one day's digest."""
    start, end = window

    def text_of(alert: Alert) -> str:
        name = plants.get(alert.plant_id) if alert.plant_id else None
        return alerts.alert_text(alert, name, unit)

    opened = [
        f"{_clock(a.opened_at, zone, day)} {text_of(a)}"
        for a in alert_rows
        if start <= a.opened_at < end
    ]
    resolved = [
        f"{_clock(a.resolved_at, zone, day)} {text_of(a)} (open since "
        f"{_clock(a.opened_at, zone, day)})"
        for a in alert_rows
        if a.resolved_at is not None and start <= a.resolved_at < end
    ]
    lines = [f"Your garden on {day:%A} {day.isoformat()} ({zone.key} time).", ""]
    quiet = not (opened or resolved or diagnosis_lines or hub_lines)
    if quiet:
        lines += ["A quiet day: no alert opened or resolved, no diagnosis, every hub online.", ""]
    else:
        if opened:
            lines += _section("Alerts opened", opened)
        if resolved:
            lines += _section("Alerts resolved", resolved)
        if diagnosis_lines:
            lines += _section("Diagnoses", diagnosis_lines)
        if hub_lines:
            lines += _section("Hubs", hub_lines)
    lines.append(f"Open alerts now: {still_open}." if still_open else "No alert is open now.")
    counts = {
        "alerts_opened": len(opened),
        "alerts_resolved": len(resolved),
        "diagnoses": len(diagnosis_lines),
        "hubs_offline": len(hub_lines),
        "alerts_open_now": still_open,
    }
    summary = (
        "a quiet day"
        if quiet
        else f"{len(opened)} alert{'s' if len(opened) != 1 else ''} opened, "
        f"{len(resolved)} resolved, {len(diagnosis_lines)} "
        f"diagnos{'e' if len(diagnosis_lines) != 1 else 'i'}s"
    )
    return f"Plant-Vita: your garden on {day.isoformat()} — {summary}", "\n".join(lines), counts


async def digest_subject(session: AsyncSession, digest_id: uuid.UUID) -> Subject | None:
    """The digest as the e-mail channel sends it (None when the account is gone)."""
    digest = await repository.digest_of(session, digest_id)
    if digest is None:
        return None
    owner = await session.get(User, digest.owner_id)
    if owner is None:
        return None
    zone = zone_of(digest.time_zone)
    window = day_window(digest.day, zone)
    unit: TemperatureUnit = "F" if owner.temperature_unit == "F" else "C"
    plants = await registry.plant_names(session, owner.id)
    alert_rows = await alerts.alerts_between(session, owner.id, *window)
    still_open = await alerts.open_alert_count(session, owner.id)
    diagnosis_lines = []
    for found in await diagnoses.finished_between(session, owner.id, *window):
        name = plants.get(found.plant_id, "A plant") if found.plant_id else "A plant"
        line = f"{name}: {diagnoses.verdict_words(found.health)}"
        if found.confidence is not None:
            line += f" ({found.confidence:.0%} sure)"
        if found.recommended_actions:
            line += f". First step: {found.recommended_actions[0]}"
        diagnosis_lines.append(line)
    hub_lines = []
    for hub in await registry.linked_hubs(session, owner.id):
        told = hub.offline_notified_at
        if told is None or not window[0] <= told < window[1]:
            continue
        back = hub.last_seen_at is not None and hub.last_seen_at > told
        seen = _clock(hub.last_seen_at, zone, digest.day) if hub.last_seen_at else "never"
        state = "back online, last sync" if back else "still offline, last sync"
        hub_lines.append(
            f"{hub.name} went offline (noticed at {_clock(told, zone, digest.day)}); {state} {seen}"
        )
    title, text, counts = compose(
        digest.day,
        zone,
        unit,
        alert_rows,
        still_open,
        diagnosis_lines,
        hub_lines,
        plants,
        window,
    )
    return Subject(
        kind="digest",
        owner_id=owner.id,
        title=title,
        text=text,
        payload={
            "digest_id": str(digest.id),
            "day": digest.day.isoformat(),
            "time_zone": zone.key,
            **counts,
        },
    )
