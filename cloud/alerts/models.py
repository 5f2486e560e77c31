"""Alert tables: alerts (cloud-evaluated and hub-pushed) and the per-node evaluation state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field

from cloud.db.base import CloudTable, timestamp, utcnow


class Alert(CloudTable, table=True):
    """Something about a plant or node needs the gardener: open → acknowledged → resolved."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("hub_id", "local_id"),
        Index(None, "owner_id", "status", "opened_at"),
        # One unresolved cloud alert per node, kind and metric, even under concurrent ingest.
        Index(
            "uq_alerts_open_per_node",
            "node_id",
            "kind",
            text("coalesce(metric, '')"),
            unique=True,
            postgresql_where=text("source = 'cloud' AND status <> 'resolved'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    plant_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("plants.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    node_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(ForeignKey("nodes.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    hub_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("hubs.id", ondelete="SET NULL"), nullable=True)
    )
    local_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    source: str = Field(sa_column=Column(String(8), nullable=False))  # cloud / hub
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    metric: str | None = Field(default=None, sa_column=Column(String(16)))
    status: str = Field(default="open", sa_column=Column(String(16), nullable=False))
    message: str = Field(sa_column=Column(String(500), nullable=False))
    value: float | None = Field(default=None, sa_column=Column(Float))
    threshold: float | None = Field(default=None, sa_column=Column(Float))
    opened_at: datetime = Field(sa_column=timestamp())
    acknowledged_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp())


class AlertState(CloudTable, table=True):
    """Where threshold evaluation stands for one node and metric (breach start, open alert)."""

    __tablename__ = "alert_states"
    __table_args__ = (PrimaryKeyConstraint("node_id", "metric"),)

    node_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False)
    )
    metric: str = Field(sa_column=Column(String(16), nullable=False))
    owner_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    breach: str | None = Field(default=None, sa_column=Column(String(8)))  # low / high
    breach_since: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    breach_value: float | None = Field(default=None, sa_column=Column(Float))
    alert_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True)
    )
    last_evaluated_at: datetime = Field(sa_column=timestamp())
