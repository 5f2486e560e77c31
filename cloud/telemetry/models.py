"""Telemetry tables: raw readings, hourly and daily rollups, the ledger of ingested batches.

The hot tables carry no foreign keys: ingestion resolves every node id before writing, and
per-row FK triggers would cost a large share of COPY throughput. Raw readings and hourly
rollups are range-partitioned by month (``cloud.db.partitions``); every key starts
with the node, their distribution column in docs/scaling.md's plan. Raw rows carry no owner
(it is on ``nodes``): 16 bytes less on each of the most numerous rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    REAL,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field

from cloud.db.base import CloudTable, metadata, utcnow
from shared.metrics import METRIC_NAMES

METRICS: tuple[str, ...] = METRIC_NAMES


# One measurement of one sensor channel of a node, keyed by (node, channel, measurement time);
# one REAL column per registry metric (source: 0 advert, 1 backfill, 2 poll). Channel 0 is the
# node's first sensor of each kind, 1 the second (a second soil probe), … Columns in alignment
# order (8-byte time, the uuid, then 4- and 2-byte ones: no padding); the u32 seq in an int4
# (``sql.SEQ_STORE``).
readings = Table(
    "readings",
    metadata,
    Column("measured_at", DateTime(timezone=True), nullable=False),
    Column("node_id", UUID(as_uuid=True), nullable=False),
    Column("seq", Integer),
    *(Column(metric, REAL) for metric in METRICS),
    Column("source", SmallInteger, nullable=False, default=0),
    Column("channel", SmallInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("node_id", "channel", "measured_at"),
    postgresql_partition_by="RANGE (measured_at)",
)


def _rollup_table(name: str, **options: Any) -> Table:
    columns: list[Any] = [
        Column("node_id", UUID(as_uuid=True), nullable=False),
        Column("channel", SmallInteger, nullable=False, server_default="0"),
        Column("bucket", DateTime(timezone=True), nullable=False),
        Column("owner_id", UUID(as_uuid=True), nullable=False),
        Column("n", Integer, nullable=False),
    ]
    for metric in METRICS:
        columns += [
            Column(f"{metric}_count", Integer, nullable=False),
            Column(f"{metric}_min", REAL),
            Column(f"{metric}_max", REAL),
            Column(f"{metric}_sum", Double),
        ]
    return Table(
        name, metadata, *columns, PrimaryKeyConstraint("node_id", "channel", "bucket"), **options
    )


# Hourly rollups are partitioned like raw readings (kept for years); daily ones are kept
# forever in one table (a row a node a day).
readings_hourly = _rollup_table("readings_hourly", postgresql_partition_by="RANGE (bucket)")
readings_daily = _rollup_table("readings_daily")


class IngestBatch(CloudTable, table=True):
    """A batch a hub pushed, with the ack returned, so a re-sent batch id gets the same answer."""

    __tablename__ = "ingest_batches"
    __table_args__ = (PrimaryKeyConstraint("hub_id", "kind", "batch_id"),)

    hub_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))  # readings / alerts
    batch_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    owner_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    ack: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    # SHA-256 of the batch's validated contents: the same id with other contents is a 409.
    digest: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
