"""Alert queries (ORM for the user API, raw psycopg for the ingest path)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.alerts.models import Alert, AlertState
from cloud.notifications.queueing import Event, defer_events_sql
from cloud.pagination import Keyset, Page, PageRequest, SortKey, page_of

Conn = psycopg.AsyncConnection[Any]

ALERT_COLUMNS = (
    "id",
    "owner_id",
    "plant_id",
    "node_id",
    "hub_id",
    "source",
    "kind",
    "metric",
    "status",
    "message",
    "value",
    "threshold",
    "opened_at",
    "resolved_at",
    "created_at",
)


# Newest first.
ALERT_ORDER = Keyset(
    (SortKey(col(Alert.opened_at), datetime, "desc"), SortKey(col(Alert.id), uuid.UUID))
)


async def list_alerts(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    status: str | None,
    plant_id: uuid.UUID | None,
    node_id: uuid.UUID | None,
    page: PageRequest,
) -> Page[Alert]:
    """A page of the owner's alerts, newest first, optionally filtered."""
    query = select(Alert).where(col(Alert.owner_id) == owner_id)
    if status is not None:
        query = query.where(col(Alert.status) == status)
    if plant_id is not None:
        query = query.where(col(Alert.plant_id) == plant_id)
    if node_id is not None:
        query = query.where(col(Alert.node_id) == node_id)
    rows = (await session.scalars(ALERT_ORDER.page(query, page))).all()
    return page_of(rows, page, ALERT_ORDER, lambda alert: (alert.opened_at, alert.id))


async def alert_of(session: AsyncSession, owner_id: uuid.UUID, alert_id: uuid.UUID) -> Alert | None:
    """One of the owner's alerts."""
    return await session.scalar(
        select(Alert).where(col(Alert.id) == alert_id, col(Alert.owner_id) == owner_id)
    )


async def forget_state_of_alert(session: AsyncSession, alert_id: uuid.UUID) -> None:
    """A manually resolved alert restarts evaluation from scratch for its node and metric."""
    await session.execute(
        update(AlertState)
        .where(col(AlertState.alert_id) == alert_id)
        .values(alert_id=None, breach=None, breach_since=None, breach_value=None)
    )


def _state_columns(prefix: str) -> str:
    return f"""
        FROM json_to_recordset(%({prefix})s::json)
             AS t(node_id uuid, metric text, breach text, since timestamptz, value float8,
                  alert_id uuid, evaluated timestamptz)"""


_STATE_KEYS = ("node_id", "metric", "breach", "since", "value", "alert_id", "evaluated")


def _json_rows(keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Rows as one JSON parameter for ``json_to_recordset``: psycopg dumps a list parameter
    element by element in Python, and a statement of a dozen arrays paid that per array."""
    return orjson.dumps(
        [dict(zip(keys, row, strict=True)) for row in rows], option=orjson.OPT_SERIALIZE_NUMPY
    ).decode()


# What one batch's evaluation writes, in one statement (data-modifying CTEs always run to
# completion; the events' jobs are referenced so that they are queued): alerts resolved, the
# deliveries of the events (``cloud.notifications.queueing``), the alert states that changed (a
# plain UPDATE of the rows read with the batch: an upsert's ON CONFLICT DO UPDATE writes a
# row-lock WAL record before each update, as many bytes again as the HOT update itself) and
# the states not stored yet (upserted: a concurrent first batch of the same node may have
# inserted one meanwhile). The two state sets never share a key.
_SAVE_EVALUATION = f"""
WITH resolved AS (
    UPDATE alerts AS a SET status = 'resolved', resolved_at = t.at
    FROM json_to_recordset(%(resolutions)s::json) AS t(id uuid, at timestamptz)
    WHERE a.id = t.id AND a.status <> 'resolved'
    RETURNING 1
),
changed AS (
    UPDATE alert_states AS s SET
        breach = t.breach,
        breach_since = t.since,
        breach_value = t.value,
        alert_id = t.alert_id,
        last_evaluated_at = t.evaluated
    {_state_columns("changed")}
    WHERE s.node_id = t.node_id AND s.metric = t.metric
    RETURNING 1
),
added AS (
    INSERT INTO alert_states
        (node_id, metric, owner_id, breach, breach_since, breach_value, alert_id,
         last_evaluated_at)
    SELECT node_id, metric, (SELECT owner_id FROM nodes WHERE id = t.node_id), breach, since,
           value, alert_id, evaluated
    {_state_columns("new")}
    ON CONFLICT (node_id, metric) DO UPDATE SET
        breach = excluded.breach,
        breach_since = excluded.breach_since,
        breach_value = excluded.breach_value,
        alert_id = excluded.alert_id,
        last_evaluated_at = excluded.last_evaluated_at
    RETURNING 1
),
queued AS ({
    defer_events_sql(
        "SELECT * FROM json_to_recordset(%(events)s::json)"
        " AS e(subject_id uuid, owner_id uuid, event text)"
    )
})
SELECT (SELECT count(*) FROM resolved), (SELECT count(*) FROM changed),
       (SELECT count(*) FROM added), (SELECT cardinality(jobs) FROM queued)
"""


async def save_evaluation(
    conn: Conn,
    resolutions: Sequence[tuple[uuid.UUID, datetime]],
    events: Sequence[Event],
    rows: Sequence[tuple[Any, ...]],
    stored: Mapping[tuple[uuid.UUID, str], tuple[Any, ...]],
) -> None:
    """Resolve alerts (id, resolved_at) still unresolved, queue ``events`` and write the
    (node, metric, breach, since, value, alert_id, last_evaluated_at) state ``rows``, in one
    statement sent without waiting (none when there is nothing to write).

    ``stored`` holds the states as read with the batch, by (node, metric): a row equal to its
    stored one is not written, one that differs is updated, one not stored yet is upserted."""
    changed = [
        row
        for row in rows
        if (row[0], row[1]) in stored and tuple(stored[(row[0], row[1])][:7]) != tuple(row)
    ]
    new = [row for row in rows if (row[0], row[1]) not in stored]
    if not (resolutions or events or changed or new):
        return
    await conn.execute(
        _SAVE_EVALUATION,
        {
            "resolutions": _json_rows(("id", "at"), resolutions),
            "events": _json_rows(
                ("subject_id", "owner_id", "event"),
                ((event.subject_id, event.owner_id, event.event) for event in events),
            ),
            "changed": _json_rows(_STATE_KEYS, changed),
            "new": _json_rows(_STATE_KEYS, new),
        },
    )


_ALERT_TYPES = {
    "id": "uuid",
    "owner_id": "uuid",
    "plant_id": "uuid",
    "node_id": "uuid",
    "hub_id": "uuid",
    "source": "text",
    "kind": "text",
    "metric": "text",
    "status": "text",
    "message": "text",
    "value": "float8",
    "threshold": "float8",
    "opened_at": "timestamptz",
    "resolved_at": "timestamptz",
    "created_at": "timestamptz",
}
# An open cloud alert of the node, kind and metric of row ``t`` (``uq_alerts_open_per_node``).
_OPEN_TWIN_OF_T = """
SELECT a.id FROM alerts AS a
WHERE a.node_id = t.node_id AND a.kind = t.kind AND coalesce(a.metric, '') = coalesce(t.metric, '')
  AND a.source = 'cloud' AND a.status <> 'resolved'
"""
# All of a batch's new alerts in one statement: each row's stored id is its own when it went
# in, the open twin's when one was stored before this statement began, NULL otherwise (a twin
# inserted by this same statement, or committed since it began: looked up one by one).
_INSERT_ALERTS = f"""
WITH t AS (
    SELECT * FROM unnest({", ".join(f"%s::{_ALERT_TYPES[c]}[]" for c in ALERT_COLUMNS)})
        WITH ORDINALITY AS t({", ".join(ALERT_COLUMNS)}, position)
),
inserted AS (
    INSERT INTO alerts ({", ".join(ALERT_COLUMNS)})
    SELECT {", ".join(ALERT_COLUMNS)} FROM t ORDER BY position
    ON CONFLICT (node_id, kind, (coalesce(metric, '')))
        WHERE source = 'cloud' AND status <> 'resolved'
    DO NOTHING
    RETURNING id
)
SELECT t.id, coalesce((SELECT i.id FROM inserted AS i WHERE i.id = t.id), ({_OPEN_TWIN_OF_T}))
FROM t ORDER BY t.position
"""
_OPEN_TWIN = f"""
SELECT ({_OPEN_TWIN_OF_T})
FROM (SELECT %s::uuid AS node_id, %s::text AS kind, %s::text AS metric) AS t
"""


async def insert_cloud_alerts(
    conn: Conn, alerts: Sequence[dict[str, Any]]
) -> dict[uuid.UUID, uuid.UUID]:
    """Open cloud alerts; returns requested id → stored id (an already open twin keeps its id).

    One statement for all of them (``_INSERT_ALERTS``); a twin it could not see (inserted by
    the same statement, or committed by another transaction meanwhile) is looked up alone."""
    if not alerts:
        return {}
    stored: dict[uuid.UUID, uuid.UUID] = {}
    async with conn.cursor() as cur:
        await cur.execute(_INSERT_ALERTS, [[a[c] for a in alerts] for c in ALERT_COLUMNS])
        unseen = []
        for requested, found in await cur.fetchall():
            if found is None:
                unseen.append(requested)
            else:
                stored[requested] = found
        for alert in (a for a in alerts if a["id"] in unseen):
            await cur.execute(_OPEN_TWIN, (alert["node_id"], alert["kind"], alert["metric"]))
            row = await cur.fetchone()
            if row is not None and row[0] is not None:
                stored[alert["id"]] = row[0]
    return stored


async def resolve_alerts(conn: Conn, resolutions: Sequence[tuple[uuid.UUID, datetime]]) -> None:
    """Resolve alerts (id, resolved_at) that are still unresolved (``save_evaluation`` does it
    too, with the batch's other writes)."""
    if not resolutions:
        return
    await conn.execute(
        """
        UPDATE alerts AS a SET status = 'resolved', resolved_at = t.at
        FROM unnest(%s::uuid[], %s::timestamptz[]) AS t(id, at)
        WHERE a.id = t.id AND a.status <> 'resolved'
        """,
        ([alert_id for alert_id, _ in resolutions], [at for _, at in resolutions]),
    )


OPEN_STALE_ALERTS = """
INSERT INTO alerts (id, owner_id, plant_id, node_id, hub_id, source, kind, metric, status,
                    message, opened_at, created_at)
SELECT gen_random_uuid(), n.owner_id, p.id, n.id, n.hub_id, 'cloud', 'stale', NULL, 'open',
       format('node %%s sent nothing since %%s', coalesce(n.name, n.mac),
              to_char(n.last_reading_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')),
       now(), now()
FROM nodes AS n
LEFT JOIN plants AS p ON p.node_id = n.id
WHERE n.last_reading_at IS NOT NULL
  AND n.last_reading_at < now() - make_interval(secs => n.sampling_interval_s * %s)
  -- One stale alert per silence: one resolved by hand stays resolved until the node reports.
  AND NOT EXISTS (
      SELECT 1 FROM alerts AS a
      WHERE a.node_id = n.id AND a.kind = 'stale' AND a.source = 'cloud'
        AND a.opened_at >= n.last_reading_at
  )
ON CONFLICT (node_id, kind, (coalesce(metric, ''))) WHERE source = 'cloud' AND status <> 'resolved'
DO NOTHING
RETURNING id, owner_id
"""


async def open_stale_alerts(conn: Conn, intervals: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Open a stale alert for every node silent for ``intervals`` sampling intervals; their
    (id, owner id)s."""
    async with conn.cursor() as cur:
        await cur.execute(OPEN_STALE_ALERTS, (intervals,))
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def upsert_hub_alerts(
    conn: Conn, rows: Sequence[dict[str, Any]]
) -> tuple[int, int, list[tuple[uuid.UUID, str]]]:
    """Store hub-pushed alerts by (hub, local_id); returns (new, duplicates, events): the
    (alert id, "alert.opened"/"alert.resolved") changes notifications should tell."""
    created = 0
    events: list[tuple[uuid.UUID, str]] = []
    async with conn.cursor() as cur:
        for row in rows:
            await cur.execute(
                """
                WITH before AS (
                    SELECT status FROM alerts
                    WHERE hub_id = %(hub_id)s AND local_id = %(local_id)s
                )
                INSERT INTO alerts (id, owner_id, plant_id, node_id, hub_id, local_id, source,
                                    kind, metric, status, message, value, threshold, opened_at,
                                    resolved_at, created_at)
                VALUES (gen_random_uuid(), %(owner_id)s, %(plant_id)s, %(node_id)s, %(hub_id)s,
                        %(local_id)s, 'hub', %(kind)s, %(metric)s,
                        CASE WHEN %(resolved_at)s::timestamptz IS NULL THEN 'open'
                             ELSE 'resolved' END,
                        %(message)s, %(value)s, %(threshold)s, %(opened_at)s, %(resolved_at)s,
                        now())
                ON CONFLICT (hub_id, local_id) DO UPDATE SET
                    resolved_at = coalesce(alerts.resolved_at, excluded.resolved_at),
                    status = CASE WHEN excluded.resolved_at IS NOT NULL THEN 'resolved'
                                  ELSE alerts.status END
                RETURNING id, (xmax = 0), status, (SELECT status FROM before)
                """,
                row,
            )
            result = await cur.fetchone()
            if result is None:
                continue
            alert_id, is_new, status, previous = result
            created += 1 if is_new else 0
            if is_new and status != "resolved":
                events.append((alert_id, "alert.opened"))
            if status == "resolved" and previous != "resolved":
                events.append((alert_id, "alert.resolved"))
    return created, len(rows) - created, events


async def alerts_of_window(
    session: AsyncSession, owner_id: uuid.UUID, start: datetime, end: datetime, limit: int
) -> Sequence[Alert]:
    """The owner's alerts opened or resolved in [start, end), oldest first."""
    in_window = or_(
        and_(col(Alert.opened_at) >= start, col(Alert.opened_at) < end),
        and_(col(Alert.resolved_at) >= start, col(Alert.resolved_at) < end),
    )
    query = (
        select(Alert)
        .where(col(Alert.owner_id) == owner_id, in_window)
        .order_by(col(Alert.opened_at), col(Alert.id))
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def open_count(session: AsyncSession, owner_id: uuid.UUID) -> int:
    """How many of the owner's alerts are open now."""
    query = select(func.count()).where(col(Alert.owner_id) == owner_id, col(Alert.status) == "open")
    return int(await session.scalar(query) or 0)


PRUNE_BATCH = 5000


async def prune_resolved(conn: Conn, before: datetime) -> int:
    """Delete alerts resolved before ``before``, a batch per statement (``conn`` in
    autocommit: each batch commits alone, so no long lock or transaction); how many."""
    total = 0
    while True:
        cur = await conn.execute(
            """DELETE FROM alerts WHERE id = ANY(ARRAY(
                   SELECT id FROM alerts WHERE status = 'resolved' AND resolved_at < %s
                   LIMIT %s))""",
            (before, PRUNE_BATCH),
        )
        total += cur.rowcount
        if cur.rowcount < PRUNE_BATCH:
            return total


async def delete_node_state(session: AsyncSession, node_id: uuid.UUID) -> None:
    """The alert state of a node (the hot table carries no foreign key)."""
    await session.execute(delete(AlertState).where(col(AlertState.node_id) == node_id))
