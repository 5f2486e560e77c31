"""The ledger of batches hubs send (readings, alerts): a re-sent batch id gets the stored ack
instead of being applied twice. Used by every domain that ingests hub batches."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

Conn = psycopg.AsyncConnection[Any]


async def claim_batch(
    conn: Conn, hub_id: uuid.UUID, owner_id: uuid.UUID, kind: str, batch_id: uuid.UUID
) -> dict[str, Any] | None:
    """Record the batch id; return the stored ack if it was seen before (None when new).

    A concurrent twin blocks on the primary key until the first commits, then sees its ack.
    """
    async with conn.cursor() as cur:
        await cur.execute(
            """
            INSERT INTO ingest_batches (hub_id, kind, batch_id, owner_id, created_at)
            VALUES (%s, %s, %s, %s, now())
            ON CONFLICT DO NOTHING
            RETURNING 1
            """,
            (hub_id, kind, batch_id, owner_id),
        )
        if await cur.fetchone() is not None:
            return None
        await cur.execute(
            "SELECT ack FROM ingest_batches WHERE hub_id = %s AND kind = %s AND batch_id = %s",
            (hub_id, kind, batch_id),
        )
        row = await cur.fetchone()
    ack: dict[str, Any] = row[0] if row and row[0] else {}
    return ack


async def store_ack(
    conn: Conn, hub_id: uuid.UUID, kind: str, batch_id: uuid.UUID, ack: dict[str, Any]
) -> None:
    """Keep the ack so a re-sent batch gets the same answer."""
    await conn.execute(
        "UPDATE ingest_batches SET ack = %s WHERE hub_id = %s AND kind = %s AND batch_id = %s",
        (Jsonb(ack), hub_id, kind, batch_id),
    )
