"""Alert logic: evaluation at ingest, the periodic stale-node check, the user's alert actions,
and alerts pushed by hubs."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
import orjson
import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.alerts import repository
from cloud.alerts.models import Alert
from cloud.alerts.schemas import AlertPublic
from cloud.auth.models import Hub, User
from cloud.db.session import raw_connection
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.ingest import batches
from cloud.ingest.context import NodeContext
from cloud.ingest.validation import NodeReadings, utc_from_micros
from cloud.notifications.ports import Subject
from cloud.notifications.queueing import Event, notify
from cloud.observability import CloudMetrics
from cloud.pagination import Page, PageRequest
from cloud.registry.models import Plant
from cloud.settings import CloudSettings
from shared.alert_text import TemperatureUnit, describe
from shared.alerts import (
    DLI,
    MetricState,
    Transition,
    days_to_judge,
    evaluate,
    judge_daily_light,
    limits,
    min_duration_of,
)
from shared.metrics import DLI as DAILY_LIGHT
from shared.metrics import METRIC_NAMES, SPECS, Metric
from shared.sync import (
    AlertBatch,
    AlertIn,
    AlertKind,
    BatchAck,
    ItemRejection,
    RejectReason,
    Thresholds,
    time_problem,
)

_log = structlog.get_logger("cloud.alerts")
_POSITION = {name: position for position, name in enumerate(METRIC_NAMES)}  # in a reading row

# A node's (low, high) limits per metric.
_Limits = dict[Metric, tuple[float | None, float | None]]


OPENED: Final = "alert.opened"
RESOLVED: Final = "alert.resolved"


def alert_public(alert: Alert) -> AlertPublic:
    """Response model of an alert."""
    return AlertPublic.model_validate(alert, from_attributes=True)


@functools.lru_cache(maxsize=4096)
def _parsed_thresholds(species: bytes, overrides: bytes) -> Thresholds:
    base = Thresholds.model_validate(orjson.loads(species))
    extra = orjson.loads(overrides)
    return base.merged(Thresholds.model_validate(extra) if extra else None)


@functools.lru_cache(maxsize=4096)
def _parsed_limits(species: bytes, overrides: bytes, low_battery: float) -> _Limits:
    return limits(_parsed_thresholds(species, overrides), low_battery)


def _keys(context: NodeContext) -> tuple[bytes, bytes] | None:
    if context.plant_id is None or not (context.species or context.overrides):
        return None
    overrides = context.overrides or None
    return orjson.dumps(context.species or {}), orjson.dumps(overrides, option=orjson.OPT_SORT_KEYS)


def _thresholds(context: NodeContext) -> Thresholds | None:
    """The node's plant's ranges (species merged with overrides), if it has a plant. Many
    nodes share a species and few override it: parsed once per distinct species and
    overrides, not per node and batch (the models are frozen)."""
    keys = _keys(context)
    return None if keys is None else _parsed_thresholds(*keys)


def _limits(context: NodeContext, low_battery: float) -> _Limits:
    """``shared.alerts.limits`` of the node's thresholds, cached as ``_thresholds`` is."""
    keys = _keys(context)
    return limits(None, low_battery) if keys is None else _parsed_limits(*keys, low_battery)


def _unit(metric: Metric) -> str:
    """The unit as written after a number in alert texts: "%" and "°C" close up, "lx" spaced."""
    unit = SPECS[metric].unit
    return unit if unit in ("%", "°C") else f" {unit}"


def _message(metric: Metric | str, transition: Transition, plant: bool) -> tuple[str, str]:
    if metric == DLI:
        side = "below" if transition.breach == "low" else "above"
        return transition.breach, (
            f"daily light integral {transition.value:g} mol/m²/day on "
            f"{transition.at.astimezone(UTC):%Y-%m-%d} {side} the plant's "
            f"{'minimum' if transition.breach == 'low' else 'maximum'} {transition.threshold:g}"
        )
    metric = Metric(metric)
    if metric is Metric.BATTERY:
        return AlertKind.LOW_BATTERY.value, (
            f"battery at {transition.value:g}% (below {transition.threshold:g}%)"
        )
    unit = _unit(metric)
    side = "below" if transition.breach == "low" else "above"
    subject = "plant" if plant else "node"
    return transition.breach, (
        f"{metric.value} {transition.value:g}{unit} {side} the {subject}'s "
        f"{'minimum' if transition.breach == 'low' else 'maximum'} "
        f"{transition.threshold:g}{unit} since "
        f"{transition.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )


@dataclass(frozen=True, slots=True)
class IngestedBatch:
    """One batch's part of an evaluation: its owner, nodes, staged readings and stored states
    (``telemetry.repository.begin_group`` read the nodes and states)."""

    owner_id: uuid.UUID
    contexts: dict[str, NodeContext]
    by_node: dict[str, NodeReadings]
    states: dict[tuple[uuid.UUID, str], tuple[Any, ...]]


async def evaluate_ingested(
    conn: Any,
    settings: CloudSettings,
    metrics: CloudMetrics,
    ingested: Sequence[IngestedBatch],
    now: datetime,
) -> None:
    """Run the threshold state machines over the batches' readings and persist the result, in
    one set of statements for all of them (an ingest group's; their nodes do not overlap).

    Only readings newer than each state's watermark and than the node's newest reading
    stored before this batch count, so a re-sent or back-filled row never re-opens an alert.
    A quiet state (no breach, no alert, every value inside the limits) is not written: the
    node's ``last_reading_at``, which the same transaction moves forward, is its watermark.
    That spares a row version per metric and batch (most of them, in a healthy garden).
    Battery is judged on each node's newest reading.
    """
    min_duration = timedelta(seconds=settings.alert_min_duration_s)
    state_rows: list[tuple[Any, ...]] = []
    to_open: list[dict[str, Any]] = []
    to_resolve: list[tuple[uuid.UUID, datetime]] = []
    resolve_owners: list[uuid.UUID] = []  # whose each of ``to_resolve`` is
    stored: dict[tuple[uuid.UUID, str], tuple[Any, ...]] = {}
    for batch in ingested:
        owner_id, contexts, states = batch.owner_id, batch.contexts, batch.states
        stored.update(states)
        for mac, readings in batch.by_node.items():
            context = contexts[mac]
            node_id = context.node_id
            # Each metric's smallest and largest value in one pass (NaN: the metric is absent),
            # as Python floats: the checks below are a few comparisons per metric.
            lowest = np.fmin.reduce(readings.metrics, axis=0).tolist()
            highest = np.fmax.reduce(readings.metrics, axis=0).tolist()
            for metric, (low, high) in _limits(context, settings.low_battery_pct).items():
                name = metric.value
                position = _POSITION[name]
                if math.isnan(lowest[position]):
                    continue
                held = states.get((node_id, name))
                if _quiet(held, lowest[position], highest[position], low, high):
                    continue
                state = (
                    MetricState(held[2], held[3], held[4], held[5], held[6])
                    if held
                    else MetricState()
                )
                values = readings.metrics[:, position]
                rows = np.flatnonzero(~np.isnan(values)).tolist()
                duration = min_duration_of(metric, min_duration)
                state.last_evaluated_at = _watermark(
                    state.last_evaluated_at, context.last_reading_at
                )
                series = [(readings.at(row), float(values[row])) for row in rows]
                outcome = evaluate(state, metric, low, high, duration, series, uuid.uuid4)
                if not outcome.changed:
                    continue
                _collect(
                    outcome.transitions, metric, context, owner_id, state, now, to_open, to_resolve
                )
                state_rows.append(_state_row(node_id, name, state))
        state_rows += await _daily_light(
            conn, owner_id, contexts, batch.by_node, states, now, to_open, to_resolve
        )
        resolve_owners += [owner_id] * (len(to_resolve) - len(resolve_owners))
    events = [
        Event(alert_id, owner, RESOLVED)
        for (alert_id, _), owner in zip(to_resolve, resolve_owners, strict=True)
    ]
    resolve_later = to_resolve
    if to_open:
        # An alert resolved by this batch frees its node, kind and metric for one it opens.
        await repository.resolve_alerts(conn, to_resolve)
        resolve_later = []
        stored_ids = await repository.insert_cloud_alerts(conn, to_open)
        state_rows = [(*row[:5], stored_ids.get(row[5], row[5]), row[6]) for row in state_rows]
        for alert in to_open:
            if stored_ids.get(alert["id"]) == alert["id"]:
                metrics.alerts_opened.labels(alert["kind"], "cloud").inc()
                events.append(Event(alert["id"], alert["owner_id"], OPENED))
                if alert["status"] == "resolved":
                    events.append(Event(alert["id"], alert["owner_id"], RESOLVED))
    # A stable order of writes; the batch's node locks (telemetry LOCK_NODES) keep batches apart.
    state_rows.sort(key=lambda row: (row[0], row[1]))
    await repository.save_evaluation(conn, resolve_later, events, state_rows, stored)


def _collect(
    transitions: list[Transition],
    metric: Metric | str,
    context: NodeContext,
    owner_id: uuid.UUID,
    state: MetricState,
    now: datetime,
    to_open: list[dict[str, Any]],
    to_resolve: list[tuple[uuid.UUID, datetime]],
) -> None:
    """Turn state-machine transitions into alert rows to insert and alert ids to resolve (an
    alert opened and resolved in the same batch is inserted resolved)."""
    for transition in transitions:
        if transition.action == "resolve":
            same_batch = next((a for a in to_open if a["id"] == transition.alert_id), None)
            if same_batch is not None:
                same_batch["status"], same_batch["resolved_at"] = "resolved", transition.at
            elif isinstance(transition.alert_id, uuid.UUID):
                to_resolve.append((transition.alert_id, transition.at))
            continue
        kind, message = _message(metric, transition, context.plant_id is not None)
        alert: dict[str, Any] = {
            "id": transition.alert_id,
            "owner_id": owner_id,
            "plant_id": context.plant_id,
            "node_id": context.node_id,
            "hub_id": context.hub_id,
            "source": "cloud",
            "kind": kind,
            "metric": str(metric),
            "status": "open",
            "message": message,
            "value": transition.value,
            "threshold": transition.threshold,
            "opened_at": transition.at,
            "resolved_at": None,
            "created_at": now,
        }
        to_open.append(alert)


async def _daily_light(
    conn: Any,
    owner_id: uuid.UUID,
    contexts: dict[str, NodeContext],
    by_node: dict[str, NodeReadings],
    states: dict[tuple[uuid.UUID, str], tuple[Any, ...]],
    now: datetime,
    to_open: list[dict[str, Any]],
    to_resolve: list[tuple[uuid.UUID, datetime]],
) -> list[tuple[Any, ...]]:
    """Judge the daily light integral of each UTC day completed since the last judgement.

    Low light is a daily matter (every night is dark), so it is evaluated here, once a day
    rolls over, from the daily rollup, against the plant's DLI range. Returns state rows.
    """
    due: dict[uuid.UUID, tuple[NodeContext, Thresholds, MetricState, date, date]] = {}
    for mac, readings in by_node.items():
        context = contexts[mac]
        thresholds = _thresholds(context)
        if thresholds is None or thresholds.daily_bounds(Metric.ILLUMINANCE) == (None, None):
            continue
        today = utc_from_micros(int(readings.micros.max())).date()
        stored = states.get((context.node_id, DLI))
        state = (
            MetricState(stored[2], stored[3], stored[4], stored[5], stored[6])
            if stored
            else MetricState()
        )
        first, today = days_to_judge(state, today)
        if first < today:
            due[context.node_id] = (context, thresholds, state, first, today)
    if not due:
        return []
    async with conn.cursor() as cur:
        await cur.execute(
            """
            SELECT node_id, bucket, illuminance_sum / illuminance_count, illuminance_count
            FROM readings_daily
            WHERE node_id = ANY(%s) AND bucket >= %s AND bucket < %s AND illuminance_count > 0
            ORDER BY node_id, bucket
            """,
            (
                list(due),
                min(item[3] for item in due.values()),
                max(item[4] for item in due.values()),
            ),
        )
        days = await cur.fetchall()
    rows: list[tuple[Any, ...]] = []
    for node_id, (context, thresholds, state, first, today) in due.items():
        days_dli = [
            (bucket.date(), round(DAILY_LIGHT.from_mean(mean_lux), 2))
            for node, bucket, mean_lux, samples in days
            if node == node_id
            and first <= bucket.date() < today
            and samples >= DAILY_LIGHT.min_samples
        ]
        # Days without enough light samples are skipped for good, not re-queried.
        outcome = judge_daily_light(state, thresholds, days_dli, today, uuid.uuid4)
        _collect(outcome.transitions, DLI, context, owner_id, state, now, to_open, to_resolve)
        rows.append(_state_row(node_id, DLI, state))
    return rows


def _quiet(
    held: tuple[Any, ...] | None,
    lowest: float,
    highest: float,
    low: float | None,
    high: float | None,
) -> bool:
    """Nothing can happen: no breach or alert pending in the stored state ``held`` (a row of
    ``alert_states``, None: none stored) and every value (``lowest`` to ``highest``) inside
    the limits."""
    if held is not None and (held[2] is not None or held[5] is not None):
        return False  # a breach (column 2) or an alert (column 5) is pending
    return (low is None or lowest >= low) and (high is None or highest <= high)


def _watermark(state_at: datetime | None, node_at: datetime | None) -> datetime | None:
    """The later of a state's own watermark and its node's newest reading before the batch."""
    if state_at is None or node_at is None:
        return state_at or node_at
    return max(state_at, node_at)


def _state_row(node_id: uuid.UUID, metric: str, state: MetricState) -> tuple[Any, ...]:
    return (
        node_id,
        metric,
        state.breach,
        state.breach_since,
        state.breach_value,
        state.alert_id,
        state.last_evaluated_at,
    )


async def check_stale_nodes(
    engine: AsyncEngine, settings: CloudSettings, metrics: CloudMetrics
) -> int:
    """Open stale alerts for nodes silent for ``stale_after_intervals`` sampling intervals."""
    async with AsyncSession(engine) as session, session.begin():
        conn = await raw_connection(session)
        opened_ids = await repository.open_stale_alerts(conn, settings.stale_after_intervals)
        await notify(conn, [Event(alert_id, owner, OPENED) for alert_id, owner in opened_ids])
    opened = len(opened_ids)
    if opened:
        metrics.alerts_opened.labels(AlertKind.STALE.value, "cloud").inc(opened)
    return opened


async def run_stale_node_checks(
    engine: AsyncEngine, settings: CloudSettings, metrics: CloudMetrics
) -> None:
    """Periodic task in the app's lifespan; a failed round is logged and retried next time."""
    while True:
        await asyncio.sleep(settings.stale_check_interval_s)
        try:
            opened = await check_stale_nodes(engine, settings, metrics)
            if opened:
                _log.info("stale_nodes", opened=opened)
        except Exception:
            _log.exception("stale_check_failed")


# --- the user's alerts ------------------------------------------------------------------------


async def list_alerts(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    status: str | None = None,
    plant_id: uuid.UUID | None = None,
    node_id: uuid.UUID | None = None,
    page: PageRequest,
) -> Page[AlertPublic]:
    """A page of the owner's alerts, newest first."""
    rows = await repository.list_alerts(
        session,
        owner_id,
        status=status,
        plant_id=plant_id,
        node_id=node_id,
        page=page,
    )
    return rows.map(alert_public)


async def get_alert(session: AsyncSession, owner_id: uuid.UUID, alert_id: uuid.UUID) -> Alert:
    """One of the owner's alerts or 404."""
    alert = await repository.alert_of(session, owner_id, alert_id)
    if alert is None:
        raise NotFoundError("alert not found")
    return alert


async def acknowledge(
    session: AsyncSession, owner_id: uuid.UUID, alert_id: uuid.UUID
) -> AlertPublic:
    """Mark an open alert as seen (it stays until resolved)."""
    alert = await get_alert(session, owner_id, alert_id)
    if alert.status == "resolved":
        raise ConflictError("the alert is already resolved")
    if alert.status == "open":
        alert.status = "acknowledged"
        alert.acknowledged_at = datetime.now(UTC)
    await session.flush()
    return alert_public(alert)


async def resolve(session: AsyncSession, owner_id: uuid.UUID, alert_id: uuid.UUID) -> AlertPublic:
    """Resolve an alert by hand; evaluation starts afresh for its node and metric."""
    alert = await get_alert(session, owner_id, alert_id)
    if alert.status != "resolved":
        alert.status = "resolved"
        alert.resolved_at = datetime.now(UTC)
        await repository.forget_state_of_alert(session, alert.id)
        await session.flush()
        await _notify(await raw_connection(session), owner_id, [(alert.id, RESOLVED)])
    await session.flush()
    return alert_public(alert)


# --- hub-pushed alerts ------------------------------------------------------------------------


def parse_alert_batch(payload: Any) -> AlertBatch:
    """The alert batch envelope; a bad envelope is a 422."""
    try:
        return AlertBatch.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRequestError(
            "not an alert batch",
            details=[
                {"loc": list(e["loc"]), "msg": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)[:20]
            ],
        ) from exc


async def ingest_hub_alerts(
    session: AsyncSession, metrics: CloudMetrics, hub: Hub, batch: AlertBatch
) -> BatchAck:
    """Store alerts a hub evaluated locally, idempotently by (hub, local_id) and by batch id."""
    conn = await raw_connection(session)
    digest = hashlib.sha256(orjson.dumps(batch.alerts, option=orjson.OPT_SORT_KEYS)).hexdigest()
    stored = await batches.claim_batch(conn, hub.id, hub.owner_id, "alerts", batch.batch_id, digest)
    if stored is not None:
        batches.check_replay(metrics, hub.id, "alerts", batch.batch_id, stored[1], digest)
        return BatchAck.model_validate({**stored[0], "replayed": True})
    rejected: list[ItemRejection] = []
    valid: list[tuple[int, AlertIn]] = []
    now = datetime.now(UTC)
    for index, item in enumerate(batch.alerts):
        try:
            alert = AlertIn.model_validate(item)
            # An alert dated years ahead would sort above every real one and never age out.
            problem = time_problem(alert.opened_at, now, what="opened_at") or (
                time_problem(alert.resolved_at, now, what="resolved_at")
                if alert.resolved_at
                else None
            )
            if problem:
                rejected.append(ItemRejection(index=index, reason=problem[0], message=problem[1]))
                continue
            valid.append((index, alert))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            rejected.append(
                ItemRejection(
                    index=index,
                    reason=RejectReason.INVALID,
                    message=f"{where}: {first['msg']}" if where else str(first["msg"]),
                )
            )
    macs = list({alert.node_mac for _, alert in valid if alert.node_mac})
    plant_ids = list({alert.plant_id for _, alert in valid if alert.plant_id})
    nodes: dict[str, tuple[Any, Any]] = {}
    plants: set[uuid.UUID] = set()
    async with conn.cursor() as cur:
        if macs:
            await cur.execute(
                """
                SELECT n.mac, n.id, p.id FROM nodes AS n LEFT JOIN plants AS p ON p.node_id = n.id
                WHERE n.owner_id = %s AND n.mac = ANY(%s)
                """,
                (hub.owner_id, macs),
            )
            nodes = {str(row[0]): (row[1], row[2]) for row in await cur.fetchall()}
        if plant_ids:
            await cur.execute(
                "SELECT id FROM plants WHERE owner_id = %s AND id = ANY(%s)",
                (hub.owner_id, plant_ids),
            )
            plants = {uuid.UUID(str(row[0])) for row in await cur.fetchall()}
    rows: list[dict[str, Any]] = []
    for index, alert in valid:
        node = nodes.get(alert.node_mac) if alert.node_mac else None
        if alert.node_mac and node is None:
            rejected.append(
                ItemRejection(
                    index=index,
                    reason=RejectReason.UNKNOWN_NODE,
                    message=f"node {alert.node_mac} is not registered to this account",
                )
            )
            continue
        plant_id = alert.plant_id if alert.plant_id in plants else (node[1] if node else None)
        # The daily light rule is the metric "dli", as the cloud's own DLI alerts.
        metric = DLI if alert.rule == DLI else alert.metric.value if alert.metric else None
        rows.append(
            {
                "owner_id": hub.owner_id,
                "plant_id": plant_id,
                "node_id": node[0] if node else None,
                "hub_id": hub.id,
                "local_id": alert.local_id,
                "kind": alert.kind.value,
                "metric": metric,
                "message": alert.message,
                "value": alert.value,
                "threshold": alert.bound,
                "opened_at": alert.opened_at,
                "resolved_at": alert.resolved_at,
            }
        )
    created, duplicates, events = await repository.upsert_hub_alerts(conn, rows)
    await _notify(conn, hub.owner_id, events)
    if created:
        metrics.alerts_opened.labels("hub", "hub").inc(created)
    rejected.sort(key=lambda item: item.index)
    ack = BatchAck(
        batch_id=batch.batch_id, accepted=created, duplicates=duplicates, rejected=rejected
    )
    await batches.store_ack(conn, hub.id, "alerts", batch.batch_id, ack.model_dump(mode="json"))
    return ack


# --- notifications ------------------------------------------------------------------------------


async def alert_subject(session: AsyncSession, alert_id: uuid.UUID) -> Subject | None:
    """An alert as notifications tell it (None when it was deleted since)."""
    alert = await session.get(Alert, alert_id)
    if alert is None:
        return None
    public = alert_public(alert)
    owner = await session.get(User, alert.owner_id)
    plant = await session.get(Plant, alert.plant_id) if alert.plant_id else None
    unit: TemperatureUnit = "F" if owner is not None and owner.temperature_unit == "F" else "C"
    return Subject(
        kind="alert",
        owner_id=alert.owner_id,
        title=f"Plant-Vita: {alert.kind.replace('_', ' ')} alert",
        text=alert_text(alert, plant.name if plant else None, unit),
        payload=public.model_dump(mode="json"),
    )


async def _notify(conn: Any, owner_id: uuid.UUID, events: list[tuple[uuid.UUID, str]]) -> None:
    await notify(conn, [Event(alert_id, owner_id, name) for alert_id, name in events])


def alert_text(alert: Alert, subject: str | None, unit: TemperatureUnit) -> str:
    """The alert in the owner's words and unit (``shared.alert_text``, as the hub writes it)
    when the cloud knows the value it opened on; else its stored text."""
    metric: Metric | None = None
    rule = None
    if alert.metric == DLI:
        metric, rule = Metric.ILLUMINANCE, DAILY_LIGHT.name
    elif alert.metric in set(Metric):
        metric = Metric(alert.metric)
    # A hub's text names its plant already (the hub writes it with ``shared.alert_text``).
    fallback = (
        f"{subject}: {alert.message}" if subject and alert.source == "cloud" else alert.message
    )
    if alert.kind not in ("low", "high", "low_battery") or alert.value is None:
        return fallback
    return describe(
        alert.kind,
        subject=subject or "A node",
        metric=metric,
        rule=rule,
        value=alert.value,
        bound=alert.threshold,
        opened_at=alert.opened_at,
        unit=unit,
        fallback=fallback,
    )


async def alerts_between(
    session: AsyncSession, owner_id: uuid.UUID, start: datetime, end: datetime, limit: int = 200
) -> Sequence[Alert]:
    """The owner's alerts opened or resolved in [start, end), oldest first (the daily digest's)."""
    return await repository.alerts_of_window(session, owner_id, start, end, limit)


async def open_alert_count(session: AsyncSession, owner_id: uuid.UUID) -> int:
    """How many of the owner's alerts are open now."""
    return await repository.open_count(session, owner_id)


async def prune_resolved_alerts(conn: Any, before: datetime) -> int:
    """Forget alerts resolved before ``before`` (``conn``: psycopg, autocommit); how many."""
    return await repository.prune_resolved(conn, before)


async def delete_node_state(session: AsyncSession, node_id: uuid.UUID) -> None:
    """Forget a deleted node's alert state (a registry hook: ``cloud.wiring``)."""
    await repository.delete_node_state(session, node_id)
