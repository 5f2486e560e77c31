"""Alert logic: evaluation at ingest, the periodic stale-node check, the user's alert actions,
and alerts pushed by hubs."""

from __future__ import annotations

import asyncio
import time as time_module
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.alerts import repository, signing
from cloud.alerts.models import Alert, AlertWebhook
from cloud.alerts.rules import DLI, MetricState, Transition, evaluate
from cloud.alerts.schemas import (
    AlertPublic,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventBody,
    WebhookIn,
    WebhookPublic,
    WebhookWithSecret,
)
from cloud.db.session import raw_connection
from cloud.egress import Egress, EgressRefused, refused_by_egress
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.jobs.queue import QUEUE, WEBHOOK_TASK, backoff
from cloud.observability import CloudMetrics
from cloud.pagination import Page, PageRequest
from cloud.registry.models import Hub
from cloud.settings import CloudSettings, Environment
from cloud.telemetry.repository import NodeContext
from cloud.telemetry.validation import NodeReadings, utc_from_micros
from shared.metrics import DLI as DAILY_LIGHT
from shared.metrics import PLANT_METRICS, SPECS, Metric
from shared.sync import (
    AlertBatch,
    AlertIn,
    AlertKind,
    BatchAck,
    ItemRejection,
    RejectReason,
    Thresholds,
)

_log = structlog.get_logger("cloud.alerts")


OPENED: WebhookEvent = "alert.opened"
RESOLVED: WebhookEvent = "alert.resolved"


def alert_public(alert: Alert) -> AlertPublic:
    """Response model of an alert."""
    return AlertPublic.model_validate(alert, from_attributes=True)


def _thresholds(context: NodeContext) -> Thresholds | None:
    """The node's plant's ranges (species merged with overrides), if it has a plant."""
    if context.plant_id is None or not (context.species or context.overrides):
        return None
    base = Thresholds.model_validate(context.species or {})
    return base.merged(Thresholds.model_validate(context.overrides) if context.overrides else None)


def _limits(
    context: NodeContext, settings: CloudSettings
) -> dict[Metric, tuple[float | None, float | None]]:
    """Per metric (low, high) limits for this node; metrics without limits are skipped."""
    limits: dict[Metric, tuple[float | None, float | None]] = {}
    merged = _thresholds(context)
    if merged is not None:
        for metric in PLANT_METRICS:
            low, high = merged.bounds(metric)
            if metric is Metric.ILLUMINANCE:
                low = (
                    None  # darkness at night is normal; low light is a daily-light-integral matter
                )
            if low is not None or high is not None:
                limits[metric] = (low, high)
    limits[Metric.BATTERY] = (settings.low_battery_pct, None)
    return limits


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


async def evaluate_ingested(
    conn: Any,
    settings: CloudSettings,
    metrics: CloudMetrics,
    owner_id: uuid.UUID,
    contexts: dict[str, NodeContext],
    by_node: dict[str, NodeReadings],
    states: dict[tuple[uuid.UUID, str], tuple[Any, ...]],
    now: datetime,
) -> None:
    """Run the threshold state machines over the batch's readings and persist the result.

    Only readings newer than each state's watermark count, so a re-sent or back-filled row
    never re-opens an alert. Battery is judged on each node's newest reading. ``states``
    were read with the batch's nodes (``telemetry.repository.begin_batch``).
    """
    min_duration = timedelta(seconds=settings.alert_min_duration_s)
    state_rows: list[tuple[Any, ...]] = []
    to_open: list[dict[str, Any]] = []
    to_resolve: list[tuple[uuid.UUID, datetime]] = []
    for mac, readings in by_node.items():
        context = contexts[mac]
        node_id = context.node_id
        for metric, (low, high) in _limits(context, settings).items():
            name = metric.value
            values = readings.column(metric)
            present = np.flatnonzero(~np.isnan(values))
            if len(present) == 0:
                continue
            if metric is Metric.BATTERY:
                # Battery is judged on the newest reading that carries it (first of equal times).
                rows = [int(present[np.argmax(readings.micros[present])])]
                duration = timedelta(0)
            else:
                rows = present.tolist()
                duration = min_duration
            stored = states.get((node_id, name))
            state = (
                MetricState(stored[2], stored[3], stored[4], stored[5], stored[6])
                if stored
                else MetricState()
            )
            if _quiet(state, values[rows], low, high):
                newest = readings.at(rows[-1])
                state.last_evaluated_at = max(newest, state.last_evaluated_at or newest)
                state_rows.append(_state_row(node_id, name, state))
                continue
            series = [(readings.at(row), float(values[row])) for row in rows]
            outcome = evaluate(state, metric, low, high, duration, series)
            if not outcome.changed:
                continue
            _collect(
                outcome.transitions, metric, context, owner_id, state, now, to_open, to_resolve
            )
            state_rows.append(_state_row(node_id, name, state))
    state_rows += await _daily_light(
        conn, owner_id, contexts, by_node, states, now, to_open, to_resolve
    )
    await repository.resolve_alerts(conn, to_resolve)
    events = [(alert_id, RESOLVED) for alert_id, _ in to_resolve]
    if to_open:
        stored_ids = await repository.insert_cloud_alerts(conn, to_open)
        state_rows = [(*row[:5], stored_ids.get(row[5], row[5]), row[6]) for row in state_rows]
        for alert in to_open:
            if stored_ids.get(alert["id"]) == alert["id"]:
                metrics.alerts_opened.labels(alert["kind"], "cloud").inc()
                events.append((alert["id"], OPENED))
    await queue_webhook_events(conn, events)
    # Sorted so concurrent batches lock state rows in the same order (no deadlocks).
    state_rows.sort(key=lambda row: (row[0], row[1]))
    await repository.save_states(conn, owner_id, state_rows)


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
    """Turn state-machine transitions into alert rows to insert and alert ids to resolve."""
    for transition in transitions:
        if transition.action == "resolve":
            if isinstance(transition.alert_id, uuid.UUID):
                to_resolve.append((transition.alert_id, transition.at))
            continue
        kind, message = _message(metric, transition, context.plant_id is not None)
        alert: dict[str, Any] = {
            "id": uuid.uuid4(),
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
            "created_at": now,
        }
        to_open.append(alert)
        state.alert_id = alert["id"]


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
        first = (
            state.last_evaluated_at.astimezone(UTC).date() + timedelta(days=1)
            if state.last_evaluated_at
            else today - timedelta(days=1)
        )
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
        series = [
            (bucket, round(DAILY_LIGHT.from_mean(mean_lux), 2))
            for node, bucket, mean_lux, samples in days
            if node == node_id
            and first <= bucket.date() < today
            and samples >= DAILY_LIGHT.min_samples
        ]
        dli_min, dli_max = thresholds.daily_bounds(Metric.ILLUMINANCE)
        outcome = evaluate(state, DLI, dli_min, dli_max, timedelta(0), series)
        _collect(outcome.transitions, DLI, context, owner_id, state, now, to_open, to_resolve)
        # Days without enough light samples are skipped for good, not re-queried.
        state.last_evaluated_at = datetime.combine(today - timedelta(days=1), time(), UTC)
        rows.append(_state_row(node_id, DLI, state))
    return rows


def _quiet(
    state: MetricState, values: npt.NDArray[np.float64], low: float | None, high: float | None
) -> bool:
    """Nothing can happen: no breach or alert pending and every value inside the limits."""
    if state.breach is not None or state.alert_id is not None:
        return False
    return (low is None or float(values.min()) >= low) and (
        high is None or float(values.max()) <= high
    )


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
        await queue_webhook_events(conn, [(alert_id, OPENED) for alert_id in opened_ids])
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
        await queue_webhook_events(await raw_connection(session), [(alert.id, RESOLVED)])
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
    from cloud.telemetry import repository as telemetry_repository

    conn = await raw_connection(session)
    stored = await telemetry_repository.claim_batch(
        conn, hub.id, hub.owner_id, "alerts", batch.batch_id
    )
    if stored is not None:
        return BatchAck.model_validate({**stored, "replayed": True})
    rejected: list[ItemRejection] = []
    valid: list[tuple[int, AlertIn]] = []
    for index, item in enumerate(batch.alerts):
        try:
            valid.append((index, AlertIn.model_validate(item)))
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
        rows.append(
            {
                "owner_id": hub.owner_id,
                "plant_id": plant_id,
                "node_id": node[0] if node else None,
                "hub_id": hub.id,
                "local_id": alert.local_id,
                "kind": alert.kind.value,
                "metric": alert.metric.value if alert.metric else None,
                "message": alert.message,
                "opened_at": alert.opened_at,
                "resolved_at": alert.resolved_at,
            }
        )
    created, duplicates, events = await repository.upsert_hub_alerts(conn, rows)
    await queue_webhook_events(
        conn, [(alert_id, RESOLVED if name == RESOLVED else OPENED) for alert_id, name in events]
    )
    if created:
        metrics.alerts_opened.labels("hub", "hub").inc(created)
    rejected.sort(key=lambda item: item.index)
    ack = BatchAck(
        batch_id=batch.batch_id, accepted=created, duplicates=duplicates, rejected=rejected
    )
    await telemetry_repository.store_ack(
        conn, hub.id, "alerts", batch.batch_id, ack.model_dump(mode="json")
    )
    return ack


# --- the user's webhook ---------------------------------------------------------------------------

# Deliveries: attempts in all, backoff between them, and the per-request timeout.
WEBHOOK_MAX_ATTEMPTS = 6
WEBHOOK_BACKOFF_BASE_S = 10.0
WEBHOOK_BACKOFF_MAX_S = 600.0
WEBHOOK_TIMEOUT_S = 10.0
# What the owner sees when no HTTP answer came back: one text for a refused address, a closed
# port, a timeout and a TLS failure alike, so the status page cannot map anyone's network.
UNREACHABLE = "the receiver could not be reached"
NOT_PUBLIC = "the webhook URL must name a host on the public internet"


async def check_webhook_url(url: str, settings: CloudSettings, egress: Egress) -> None:
    """https outside development, and a host whose every address is public (422 otherwise)."""
    parsed = httpx.URL(url)
    if settings.environment is not Environment.DEVELOPMENT and parsed.scheme != "https":
        raise InvalidRequestError("the webhook URL must use https", details=[{"loc": ["url"]}])
    try:
        await egress.vet_url(url)
    except EgressRefused as refused:
        _log.info("webhook_url_refused", reason=refused.reason)
        raise InvalidRequestError(NOT_PUBLIC, details=[{"loc": ["url"]}]) from refused


def _webhook_public(hook: AlertWebhook) -> WebhookPublic:
    delivery = None
    if hook.last_event_id is not None and hook.last_attempt_at is not None:
        delivery = WebhookDelivery.model_validate(
            {
                "event_id": hook.last_event_id,
                "event": hook.last_event,
                "status": hook.last_status,
                "http_status": hook.last_http_status,
                "error": hook.last_error,
                "attempts": hook.last_attempts or 0,
                "at": hook.last_attempt_at,
            }
        )
    return WebhookPublic(
        url=hook.url, created_at=hook.created_at, updated_at=hook.updated_at, last_delivery=delivery
    )


async def get_webhook(session: AsyncSession, owner_id: uuid.UUID) -> WebhookPublic:
    """The owner's webhook (404 when none is set)."""
    hook = await repository.webhook_of(session, owner_id)
    if hook is None:
        raise NotFoundError("no webhook is set")
    return _webhook_public(hook)


async def set_webhook(
    session: AsyncSession,
    settings: CloudSettings,
    egress: Egress,
    owner_id: uuid.UUID,
    body: WebhookIn,
) -> WebhookPublic | WebhookWithSecret:
    """Set the webhook URL; a new webhook gets a signing secret, returned this once."""
    url = str(body.url)
    await check_webhook_url(url, settings, egress)
    hook = await repository.webhook_of(session, owner_id)
    now = datetime.now(UTC)
    if hook is not None:
        hook.url = url
        hook.updated_at = now
        await session.flush()
        return _webhook_public(hook)
    hook = AlertWebhook(
        owner_id=owner_id, url=url, secret=signing.new_secret(), created_at=now, updated_at=now
    )
    session.add(hook)
    await session.flush()
    return WebhookWithSecret(**_webhook_public(hook).model_dump(), secret=hook.secret)


async def rotate_webhook_secret(session: AsyncSession, owner_id: uuid.UUID) -> WebhookWithSecret:
    """Replace the signing secret (the old one stops working at once); returned this once."""
    hook = await repository.webhook_of(session, owner_id)
    if hook is None:
        raise NotFoundError("no webhook is set")
    hook.secret = signing.new_secret()
    hook.updated_at = datetime.now(UTC)
    await session.flush()
    return WebhookWithSecret(**_webhook_public(hook).model_dump(), secret=hook.secret)


async def clear_webhook(session: AsyncSession, owner_id: uuid.UUID) -> None:
    """Remove the webhook; queued deliveries find it gone and stop."""
    if not await repository.delete_webhook(session, owner_id):
        raise NotFoundError("no webhook is set")


async def queue_webhook_events(conn: Any, events: list[tuple[uuid.UUID, WebhookEvent]]) -> None:
    """Queue a delivery job per alert event whose owner has a webhook (same transaction)."""
    await repository.defer_webhook_events(conn, events, QUEUE, WEBHOOK_TASK)


class _Undelivered(Exception):
    """A delivery attempt failed; ``retry`` when the receiver may accept it later."""

    def __init__(self, error: str, http_status: int | None, retry: bool) -> None:
        super().__init__(error)
        self.error = error
        self.http_status = http_status
        self.retry = retry


async def _post(
    http: httpx.AsyncClient, url: str, secret: str, event: str, event_id: str, body: bytes
) -> int:
    timestamp = int(time_module.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Plant-Vita-Webhook/1",
        signing.EVENT_HEADER: event,
        signing.DELIVERY_HEADER: event_id,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
    }
    try:
        # Streamed and never read: a receiver's body is not ours to download.
        async with http.stream(
            "POST", url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S
        ) as response:
            status = response.status_code
    except httpx.HTTPError as exc:
        refused = refused_by_egress(exc)
        # The log keeps the cause for operators; the owner sees one text whatever it was.
        _log.info(
            "webhook_unreachable",
            cause=refused.reason if refused else type(exc).__name__,
        )
        raise _Undelivered(UNREACHABLE, None, retry=True) from exc
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise _Undelivered(f"HTTP {status} (redirects are not followed)", status, retry=False)
    retry = status >= 500 or status in (408, 429)
    raise _Undelivered(f"HTTP {status}", status, retry=retry)


async def deliver_webhook(
    engine: AsyncEngine,
    egress: Egress,
    http: httpx.AsyncClient | None = None,
    *,
    alert_id: uuid.UUID,
    event: WebhookEvent,
    event_id: uuid.UUID,
    event_at: datetime,
    attempt: int,
) -> datetime | None:
    """One delivery attempt of an alert event; records the outcome on the webhook.

    ``http`` must come from ``egress.client()`` (it re-vets the address at every connection);
    None makes one. Returns when to try again (a 5xx, 408/429, timeout or connection error
    before the last attempt), or None when done: delivered, refused for good, given up, or no
    webhook.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        alert = await session.get(Alert, alert_id)
        hook = await repository.webhook_of(session, alert.owner_id) if alert else None
        if alert is None or hook is None:
            return None  # the webhook was cleared (or the alert deleted) since
        owner_id, url, secret = alert.owner_id, hook.url, hook.secret
        body = WebhookEventBody(
            id=event_id, type=event, created_at=event_at, alert=alert_public(alert)
        ).model_dump_json()
    status: str = "delivered"
    http_status: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    try:
        if http is None:
            async with egress.client(WEBHOOK_TIMEOUT_S) as own:
                http_status = await _post(own, url, secret, event, str(event_id), body.encode())
        else:
            http_status = await _post(http, url, secret, event, str(event_id), body.encode())
    except _Undelivered as failure:
        http_status, error = failure.http_status, failure.error
        if failure.retry and attempt < WEBHOOK_MAX_ATTEMPTS:
            status = "retrying"
            retry_at = datetime.now(UTC) + backoff(
                attempt, WEBHOOK_BACKOFF_BASE_S, WEBHOOK_BACKOFF_MAX_S
            )
        else:
            status = "failed"
    _log.info(
        "webhook_delivery",
        alert_id=str(alert_id),
        webhook_event=event,
        status=status,
        http_status=http_status,
        attempt=attempt,
    )
    async with AsyncSession(engine) as session, session.begin():
        await repository.record_delivery(
            session,
            owner_id,
            event_id=event_id,
            event=event,
            status=status,
            http_status=http_status,
            error=error,
            attempts=attempt,
            at=datetime.now(UTC),
        )
    return retry_at
