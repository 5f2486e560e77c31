"""Reading ingestion: validate, resolve nodes, COPY + insert + roll up, evaluate alerts, ack."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import sql as psql
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.alerts import service as alerts_service
from cloud.auth.service import HubCaller
from cloud.db.session import ReadDatabase, raw_connection
from cloud.errors import ConflictError, InvalidRequestError
from cloud.ingest import batches
from cloud.ingest.body import parse_json
from cloud.ingest.group import GroupCommit
from cloud.ingest.validation import (
    ReadingColumns,
    batch_digest,
    columns_from_valid,
    fast_columns,
    validate_readings,
)
from cloud.observability import CloudMetrics
from cloud.registry import service as registry_service
from cloud.settings import CloudSettings
from cloud.telemetry import repository, sql
from cloud.telemetry.schemas import Resolution
from shared.metrics import METRIC_NAMES, Metric
from shared.sync import MAX_BATCH_ITEMS, BatchAck, ItemRejection, RejectReason
from shared.watering import HISTORY as WATERING_HISTORY
from shared.watering import MoistureSample, WateringPublic, watering_public

READINGS_KIND = "readings"
Conn = repository.Conn
_T = TypeVar("_T")
# Parsing and staging a batch up to this size (about 400 readings of JSON) take well under a
# millisecond: done on the event loop, as a thread hand-off costs more than it frees. Larger
# batches go to a thread so other requests' round trips are served meanwhile.
INLINE_BODY_BYTES = 64 * 1024


class _Envelope(BaseModel):
    """``shared.sync.ReadingBatch`` without the per-item dict copy: items are checked later,
    one by one, so a malformed item is rejected alone instead of failing the batch."""

    model_config = ConfigDict(extra="forbid")

    batch_id: uuid.UUID
    readings: list[Any] = Field(max_length=MAX_BATCH_ITEMS)


@dataclass(frozen=True)
class ParsedBatch:
    """A batch id with its valid readings as columns and the items rejected as invalid."""

    batch_id: uuid.UUID
    size: int
    columns: ReadingColumns
    rejected: list[ItemRejection]
    digest: str  # validation.batch_digest: tells a replay from a reused batch id

    @functools.cached_property
    def macs(self) -> list[str]:
        """The distinct MACs of the batch's valid readings."""
        return list(set(self.columns.macs))


def parse_readings_body(body: bytes) -> ParsedBatch:
    """Parse and validate a body (400 when not JSON, 422 when not a batch): column by column
    when every item is a plain good reading, item by item otherwise. CPU-bound: a large body's
    belongs in a thread."""
    try:
        envelope = _Envelope.model_validate(parse_json(body))
    except ValidationError as exc:
        errors = [
            {"loc": list(err["loc"]), "msg": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)[:20]
        ]
        raise InvalidRequestError("not a reading batch", details=errors) from exc
    items = envelope.readings
    columns = fast_columns(items)
    rejected: list[ItemRejection] = []
    if columns is None:
        indexes, valid, rejected = validate_readings(items)
        columns = columns_from_valid(indexes, valid)
    digest = batch_digest(len(items), columns, rejected)
    return ParsedBatch(envelope.batch_id, len(items), columns, rejected, digest)


async def _cpu_work(inline: bool, work: Callable[..., _T], *args: Any) -> _T:
    """``work(*args)`` on the event loop when ``inline``, in a thread otherwise."""
    return work(*args) if inline else await asyncio.to_thread(work, *args)


@dataclass(frozen=True, slots=True)
class IngestMember:
    """A parsed batch of a hub, waiting for its ingest group (``cloud.ingest.group``)."""

    hub: HubCaller
    batch: ParsedBatch
    inline: bool  # small enough to stage on the event loop (``INLINE_BODY_BYTES``)


def member_keys(member: IngestMember) -> list[Hashable]:
    """What two batches of one group must not share: their hub and their nodes."""
    owner = member.hub.owner_id
    return [("hub", member.hub.id), *((owner, mac) for mac in member.batch.macs)]


def member_weight(member: IngestMember) -> int:
    """What a batch counts against ``GROUP_MAX_READINGS``: its items."""
    return member.batch.size


# Readings one ingest group applies at most (a larger batch goes alone): bounds the statement's
# arrays and the transaction's length when hubs send large backlogs.
GROUP_MAX_READINGS = 10_000

IngestGroups = GroupCommit[IngestMember, BatchAck]


async def ingest_readings(groups: IngestGroups, hub: HubCaller, body: bytes) -> BatchAck:
    """Store a hub's batch idempotently and return the ack (the stored one on a replay).

    Parsing and encoding of a body over ``INLINE_BODY_BYTES`` run in a thread, so other
    requests' database round trips are served meanwhile. The batch is applied with the others
    that arrive meanwhile, in one transaction (``apply_group``).
    """
    inline = len(body) <= INLINE_BODY_BYTES
    batch = await _cpu_work(inline, parse_readings_body, body)
    return await groups.submit(IngestMember(hub, batch, inline))


async def apply_group(
    conn: Conn,
    settings: CloudSettings,
    metrics: CloudMetrics,
    members: list[IngestMember],
) -> list[BatchAck | Exception]:
    """Apply a group's batches inside the caller's transaction; one ack (or the error of that
    batch alone, a reused batch id) per member, in order. The members' hubs and nodes do not
    overlap (``member_keys``).

    Round trips, whatever the group's size: one pipelined read (claims, node locks, nodes,
    alert states), the insert with its rollups, one pipelined write (alert states, acks) with
    the commit.
    """
    claims = [
        repository.BatchClaim(
            member.hub.id,
            member.hub.owner_id,
            member.batch.batch_id,
            member.batch.digest,
            member.batch.macs,
        )
        for member in members
    ]
    contexts = await repository.begin_group(conn, READINGS_KIND, claims)
    results: list[BatchAck | Exception | None] = []
    fresh: list[int] = []  # positions of the batches seen for the first time
    for position, (member, context) in enumerate(zip(members, contexts, strict=True)):
        batch = member.batch
        if context.stored_ack is None:
            fresh.append(position)
            results.append(None)  # its ack, once applied below
            continue
        try:
            batches.check_replay(
                metrics,
                member.hub.id,
                READINGS_KIND,
                batch.batch_id,
                context.stored_digest,
                batch.digest,
            )
        except ConflictError as error:
            results.append(error)
            continue
        metrics.ingest_rows.labels("replayed").inc(batch.size)
        results.append(BatchAck.model_validate({**context.stored_ack, "replayed": True}))
    if fresh:
        await _apply_fresh(conn, settings, metrics, members, contexts, fresh, results)
    return [result for result in results if result is not None]


async def _apply_fresh(
    conn: Conn,
    settings: CloudSettings,
    metrics: CloudMetrics,
    members: list[IngestMember],
    contexts: list[repository.BatchContext],
    fresh: list[int],
    results: list[BatchAck | Exception | None],
) -> None:
    """Stage, insert and judge the group's new batches; their acks go into ``results``."""
    now = datetime.now(UTC)
    horizon = now + timedelta(seconds=settings.future_tolerance_s)
    earliest = now - timedelta(days=settings.readings_raw_retention_days)
    staged = [
        await _cpu_work(
            members[position].inline,
            repository.stage_readings,
            members[position].batch.columns,
            {mac: node.node_id for mac, node in contexts[position].nodes.items()},
            horizon,
            earliest,
        )
        for position in fresh
    ]
    outcomes = await repository.insert_readings(conn, staged)
    acks: list[tuple[uuid.UUID, uuid.UUID, dict[str, Any]]] = []
    ingested: list[alerts_service.IngestedBatch] = []
    for position, stage, outcome in zip(fresh, staged, outcomes, strict=True):
        member, context = members[position], contexts[position]
        ack = _ack(settings, member.batch, stage, outcome)
        if outcome.inserted:
            ingested.append(
                alerts_service.IngestedBatch(
                    member.hub.owner_id, context.nodes, stage.by_node, context.states
                )
            )
        acks.append((member.hub.id, member.batch.batch_id, ack.model_dump(mode="json")))
        results[position] = ack
        metrics.ingest_rows.labels("accepted").inc(ack.accepted)
        metrics.ingest_rows.labels("duplicate").inc(ack.duplicates)
        metrics.ingest_rows.labels("rejected").inc(len(ack.rejected))
    async with conn.pipeline():
        if ingested:
            await alerts_service.evaluate_ingested(conn, settings, metrics, ingested, now)
        await batches.store_acks(conn, READINGS_KIND, acks)


def _ack(
    settings: CloudSettings,
    batch: ParsedBatch,
    staged: repository.StagedBatch,
    outcome: repository.InsertOutcome,
) -> BatchAck:
    """The batch's answer: how many rows went in, were already stored, and each item refused."""
    rejected = list(batch.rejected)
    rejected += [
        ItemRejection(
            index=index,
            reason=RejectReason.UNKNOWN_NODE,
            message=f"node {mac} is not registered to this account",
        )
        for index, mac in staged.unknown
    ]
    rejected += [
        ItemRejection(
            index=index,
            reason=RejectReason.FUTURE,
            message=f"measured_at is more than {settings.future_tolerance_s}s ahead",
        )
        for index in staged.future
    ]
    rejected += [
        ItemRejection(
            index=index,
            reason=RejectReason.TOO_OLD,
            message="measured_at is before 2020-01-01 (a node clock that was never set?)",
        )
        for index in staged.too_old
    ]
    rejected += [
        ItemRejection(
            index=index,
            reason=RejectReason.TOO_OLD,
            message=f"measured_at is older than the {settings.readings_raw_retention_days} "
            "days raw readings are kept",
        )
        for index in staged.expired
    ]
    rejected += [
        ItemRejection(
            index=index,
            reason=RejectReason.CONFLICT,
            message="a reading with this node and time is stored with different values",
        )
        for index in outcome.conflicts
    ]
    rejected.sort(key=lambda item: item.index)
    return BatchAck(
        batch_id=batch.batch_id,
        accepted=outcome.inserted,
        duplicates=staged.rows - outcome.inserted - len(outcome.conflicts),
        rejected=rejected,
    )


# --- history ---------------------------------------------------------------------------------


async def _node_for(
    session: AsyncSession,
    owner_id: uuid.UUID,
    plant_id: uuid.UUID | None,
    node_id: uuid.UUID | None,
) -> uuid.UUID | None:
    """Resolve the node of a plant (or check a node) within the owner's data; 404 otherwise."""
    if plant_id is not None:
        plant = await registry_service.get_plant(session, owner_id, plant_id)
        return plant.node_id
    assert node_id is not None
    return (await registry_service.get_node(session, owner_id, node_id)).id


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=1)
    if start >= end:
        raise InvalidRequestError("start must be before end")
    return start, end


async def _finest_resolution(
    conn: Any, node: uuid.UUID, start: datetime, end: datetime, max_points: int, channel: int = 0
) -> Resolution:
    """The finest resolution whose point count in the window is at most ``max_points``.

    Counts are bounded (``LIMIT max_points + 1``); hourly buckets are not counted at all when
    the window cannot hold more than ``max_points`` of them.
    """
    cap = max_points + 1
    most_hours = int((end - start).total_seconds() // 3600) + 2
    if most_hours <= max_points:
        raw_points = await repository.count_points(conn, "raw", node, start, end, cap, channel)
        if raw_points <= max_points:
            return "raw"
        return "hour"
    # Both counts in one round trip: the window may hold more hours than max_points.
    raw, hourly = await repository.count_raw_and_hourly(conn, node, start, end, cap, channel)
    if raw <= max_points:
        return "raw"
    return "hour" if hourly <= max_points else "day"


_RESOLUTIONS: tuple[Resolution, ...] = ("raw", "hour", "day")


def _coarser(first: Resolution, second: Resolution) -> Resolution:
    return max(first, second, key=_RESOLUTIONS.index)


def _retained_resolution(
    start: datetime, raw_days: int | None, hourly_days: int | None
) -> Resolution:
    """The finest resolution still kept for the whole window from ``start``."""
    now = datetime.now(UTC)
    if raw_days is None or start >= now - timedelta(days=raw_days):
        return "raw"
    if hourly_days is None or start >= now - timedelta(days=hourly_days):
        return "hour"
    return "day"


@asynccontextmanager
async def _series_connection(
    session: AsyncSession, replica: ReadDatabase | None
) -> AsyncIterator[Any]:
    if replica is None:
        yield await raw_connection(session)
        return
    async with replica.connection() as conn:
        yield conn


async def history(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    plant_id: uuid.UUID | None = None,
    node_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: int = 1000,
    resolution: Resolution | None = None,
    channel: int = 0,
    raw_days: int | None = None,
    hourly_days: int | None = None,
    replica: ReadDatabase | None = None,
) -> bytes:
    """The window as JSON (``History``): the finest resolution with at most ``max_points``,
    of the node's sensor ``channel`` (0 its first sensor of each kind). The plant or node is
    resolved on the session (the primary: a plant just moved to another node is read as
    moved); its points come from ``replica`` when given.

    A window reaching back past the ``raw_days`` raw readings are kept is answered from the
    hourly rollups (past ``hourly_days``, the daily ones), even when a finer ``resolution``
    was asked for; ``retention_limited`` says so."""
    start, end = _window(start, end)
    node = await _node_for(session, owner_id, plant_id, node_id)
    truncated = False
    rows: list[tuple[Any, ...]] = []
    floor = _retained_resolution(start, raw_days, hourly_days)
    chosen: Resolution = _coarser(resolution or "raw", floor)
    limited = floor != "raw" and (resolution is None or chosen != resolution)
    known = [0]
    if node is not None:
        async with _series_connection(session, replica) as conn:
            known = await repository.channels(conn, node)
            if resolution is None and floor == "raw":
                chosen = await _finest_resolution(conn, node, start, end, max_points, channel)
            elif resolution is None and floor == "hour":
                hours = await repository.count_points(
                    conn, "hour", node, start, end, max_points + 1, channel
                )
                chosen = "hour" if hours <= max_points else "day"
            rows = await repository.series(conn, chosen, node, start, end, max_points + 1, channel)
            if len(rows) > max_points:
                if resolution is None:
                    # Longer than max_points days: merge daily rollups into wider bins.
                    days = max(1, -(-(end - start).days // max_points))
                    rows = await repository.coarse_series(conn, node, start, end, days, channel)
                else:
                    rows, truncated = rows[:max_points], True
    body = {
        "node_id": node,
        "plant_id": plant_id,
        "start": start,
        "end": end,
        "resolution": chosen,
        "truncated": truncated,
        "retention_limited": limited,
        "channel": channel,
        "channels": known,
        "points": [dict(zip(repository.POINT_KEYS, row, strict=True)) for row in rows],
    }
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


async def watering(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID, now: datetime
) -> WateringPublic:
    """Waterings and the forecast of one of the owner's plants, from its hourly rollups and its
    newest reading: the shared code the hub runs on its own, so both say the same."""
    plant, thresholds = await registry_service.plant_with_thresholds(session, owner_id, plant_id)
    samples: list[MoistureSample] = []
    latest: MoistureSample | None = None
    if plant.node_id is not None:
        conn = await raw_connection(session)
        completed = now.replace(minute=0, second=0, microsecond=0)
        rows = await repository.series(
            conn, "hour", plant.node_id, now - WATERING_HISTORY, completed, 24 * 15
        )
        moisture = repository.POINT_KEYS.index(Metric.MOISTURE.value)
        samples = [
            MoistureSample(row[0], float(row[moisture]))
            for row in rows
            if row[moisture] is not None
        ]
        # Rows: plant id, node id, measured_at, channel, then the metrics in registry order.
        newest_moisture = 4 + METRIC_NAMES.index(Metric.MOISTURE.value)
        for row in await repository.latest_of_plant(conn, owner_id, plant_id) or []:
            if row[3] == 0 and row[newest_moisture] is not None:
                latest = MoistureSample(row[2], float(row[newest_moisture]))
    minimum, _ = thresholds.bounds(Metric.MOISTURE)
    return watering_public(samples, minimum, now, latest=latest)


async def csv_window(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    plant_id: uuid.UUID | None,
    node_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[uuid.UUID | None, datetime, datetime]:
    """Authorise a CSV export: the node to export and the window."""
    start, end = _window(start, end)
    return await _node_for(session, owner_id, plant_id, node_id), start, end


async def stream_csv(
    engine: AsyncEngine,
    node_id: uuid.UUID | None,
    start: datetime,
    end: datetime,
    replica: ReadDatabase | None = None,
) -> AsyncIterator[bytes]:
    """Raw readings of the window as CSV, streamed by ``COPY … TO STDOUT`` on its own
    connection (the request's session has ended by the time the body streams): on
    ``replica`` when given."""
    header = ",".join(("measured_at", *METRIC_NAMES, "seq", "source", "channel")) + "\n"
    if node_id is None:
        yield header.encode()
        return
    query = psql.SQL(
        "COPY (SELECT to_char(measured_at AT TIME ZONE 'UTC', "
        '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\'), {}, '
        "{}, CASE source WHEN 1 THEN 'backfill' ELSE 'advert' END, channel "
        "FROM readings WHERE node_id = {} AND measured_at >= {} AND measured_at < {} "
        "ORDER BY measured_at, channel) TO STDOUT WITH (FORMAT csv)"
    ).format(
        psql.SQL(", ").join(psql.Identifier(m) for m in METRIC_NAMES),
        psql.SQL(sql.SEQ_READ),
        psql.Literal(node_id),
        psql.Literal(start),
        psql.Literal(end),
    )
    yield header.encode()
    if replica is not None:
        async with replica.connection() as conn, conn.cursor() as cur, cur.copy(query) as copy:
            async for chunk in copy:
                yield bytes(chunk)
        return
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, psycopg.AsyncConnection)
        async with driver.cursor() as cur, cur.copy(query) as copy:
            async for chunk in copy:
                yield bytes(chunk)
        await connection.rollback()


async def delete_node_readings(session: AsyncSession, node_id: uuid.UUID) -> None:
    """Forget a deleted node's readings and rollups (a registry hook: ``cloud.wiring``)."""
    await repository.delete_node_readings(session, node_id)
