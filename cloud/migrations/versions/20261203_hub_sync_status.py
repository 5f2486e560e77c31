"""hub_sync_status: what each hub reports still waiting to be sent

The hub's pending items per kind (its sync ledger), the oldest reading among them, the error
of its last pass and when it reported: the app's "sync health" of a garden shows them.

Revision ID: 0300
Revises: 0260
Create Date: 2026-12-03 17:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0300"
down_revision: str | Sequence[str] | None = "0260"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.add_column("hubs", sa.Column("sync_pending", postgresql.JSONB(), nullable=True))
    op.add_column("hubs", sa.Column("sync_reported_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "hubs", sa.Column("oldest_pending_reading_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("hubs", sa.Column("sync_error", sa.String(500), nullable=True))


def downgrade() -> None:
    """Revert."""
    for column in ("sync_error", "oldest_pending_reading_at", "sync_reported_at", "sync_pending"):
        op.drop_column("hubs", column)
