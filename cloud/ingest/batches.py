"""The ledger of batches hubs send (readings, alerts): a re-sent batch id gets the stored ack
instead of being applied twice, and the same id with other contents is refused (409). Used by
every domain that ingests hub batches."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import psycopg
import structlog
from psycopg.types.json import Jsonb

from cloud.errors import ConflictError
from cloud.observability import CloudMetrics

Conn = psycopg.AsyncConnection[Any]

_log = structlog.get_logger("cloud.sync")

# The digest is what the batch held (its domain computes it from the validated contents).
CLAIM_SQL: Final = """
    INSERT INTO ingest_batches (hub_id, kind, batch_id, owner_id, created_at, digest)
    VALUES (%s, %s, %s, %s, now(), %s)
    ON CONFLICT DO NOTHING
    RETURNING 1
"""
# A group's claims in one statement, in key order: concurrent groups that share a batch id (a
# re-sent batch) wait on each other's claims in the same order, never in a cycle. Returns the
# claims that were new.
CLAIM_GROUP_SQL: Final = """
    INSERT INTO ingest_batches (hub_id, kind, batch_id, owner_id, created_at, digest)
    SELECT hub_id, %(kind)s, batch_id, owner_id, now(), digest
    FROM unnest(%(hubs)s::uuid[], %(batches)s::uuid[], %(owners)s::uuid[], %(digests)s::text[])
         AS t(hub_id, batch_id, owner_id, digest)
    ORDER BY hub_id, batch_id
    ON CONFLICT DO NOTHING
    RETURNING hub_id, batch_id
"""
STORED_SQL: Final = (
    "SELECT ack, digest FROM ingest_batches WHERE hub_id = %s AND kind = %s AND batch_id = %s"
)


async def claim_batch(
    conn: Conn,
    hub_id: uuid.UUID,
    owner_id: uuid.UUID,
    kind: str,
    batch_id: uuid.UUID,
    digest: str,
) -> tuple[dict[str, Any], str | None] | None:
    """Record the batch id; return the stored ack and digest if it was seen before (None when
    new). A concurrent twin blocks on the primary key until the first commits, then sees it."""
    async with conn.cursor() as cur:
        await cur.execute(CLAIM_SQL, (hub_id, kind, batch_id, owner_id, digest))
        if await cur.fetchone() is not None:
            return None
        await cur.execute(STORED_SQL, (hub_id, kind, batch_id))
        row = await cur.fetchone()
    ack: dict[str, Any] = row[0] if row and row[0] else {}
    return ack, row[1] if row else None


def check_replay(
    metrics: CloudMetrics,
    hub_id: uuid.UUID,
    kind: str,
    batch_id: uuid.UUID,
    stored: str | None,
    digest: str,
) -> None:
    """A re-sent batch id must carry what it carried the first time: otherwise 409 (counted),
    never the first batch's ack for items it did not hold. ``stored`` None: kept before
    digests were, a replay as before."""
    if stored is not None and stored != digest:
        metrics.batch_id_conflicts.labels(kind).inc()
        _log.warning("batch_id_reused", kind=kind, batch_id=str(batch_id), hub_id=str(hub_id))
        raise ConflictError(
            f"batch {batch_id} was sent before with different contents; use a new batch id",
            details={"batch_id": str(batch_id)},
        )


async def store_ack(
    conn: Conn, hub_id: uuid.UUID, kind: str, batch_id: uuid.UUID, ack: dict[str, Any]
) -> None:
    """Keep the ack so a re-sent batch gets the same answer."""
    await store_acks(conn, kind, [(hub_id, batch_id, ack)])


async def store_acks(
    conn: Conn, kind: str, acks: list[tuple[uuid.UUID, uuid.UUID, dict[str, Any]]]
) -> None:
    """``store_ack`` for a group's batches, ``(hub_id, batch_id, ack)`` each, in one statement."""
    await conn.execute(
        """UPDATE ingest_batches AS b SET ack = t.ack
           FROM unnest(%s::uuid[], %s::uuid[], %s::jsonb[]) AS t(hub_id, batch_id, ack)
           WHERE b.hub_id = t.hub_id AND b.kind = %s AND b.batch_id = t.batch_id""",
        (
            [hub for hub, _, _ in acks],
            [batch for _, batch, _ in acks],
            [Jsonb(ack) for _, _, ack in acks],
            kind,
        ),
    )


PRUNE_BATCH: Final = 5000


async def prune_batches(conn: Conn, before: datetime) -> int:
    """Forget batches received before ``before``, a batch per statement (``conn`` in
    autocommit); how many.

    A hub that re-sends one of them afterwards has it ingested again, which changes
    nothing: every reading is keyed by (node, time) and was stored the first time, so it
    counts as a duplicate (rollups only take newly inserted rows), or is refused as older
    than the raw window; alerts are keyed by (hub, local id) likewise.
    """
    total = 0
    while True:
        cur = await conn.execute(
            """DELETE FROM ingest_batches WHERE ctid = ANY(ARRAY(
                   SELECT ctid FROM ingest_batches WHERE created_at < %s LIMIT %s))""",
            (before, PRUNE_BATCH),
        )
        total += cur.rowcount
        if cur.rowcount < PRUNE_BATCH:
            return total
