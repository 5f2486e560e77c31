"""reading_channels: a reading is (node, channel, measured_at); per-node advert outcome counts

A node can carry more than one sensor of a kind (two soil probes in one pot, air and soil
temperature): BTHome repeats the object and each one is a channel (sensor index, 0 the first).
Every existing reading is channel 0. The rollups are kept per channel too. ``advert_counts`` is
what the hub counted of each paired node's adverts (stored, duplicate, replay, wrong_key,
unsupported_object, unsupported_device, malformed), as last reported in its inventory.

Revision ID: 0260
Revises: 0240
Create Date: 2026-12-03 17:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0260"
down_revision: str | Sequence[str] | None = "0240"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = {"readings": "measured_at", "readings_hourly": "bucket", "readings_daily": "bucket"}


def upgrade() -> None:
    """Apply."""
    for table, time_column in _KEYS.items():
        op.add_column(
            table, sa.Column("channel", sa.SmallInteger(), server_default="0", nullable=False)
        )
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["node_id", "channel", time_column])
    op.add_column(
        "nodes",
        sa.Column("advert_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    """Revert (readings of channels above 0 are deleted: the old key cannot hold them)."""
    op.drop_column("nodes", "advert_counts")
    for table, time_column in _KEYS.items():
        op.execute(f"DELETE FROM {table} WHERE channel <> 0")  # noqa: S608
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["node_id", time_column])
        op.drop_column(table, "channel")
