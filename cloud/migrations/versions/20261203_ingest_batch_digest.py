"""ingest_batch_digest: what each pushed batch held, so a reused batch id is told from a replay

Revision ID: 0240
Revises: 0230
Create Date: 2026-12-03 13:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0240"
down_revision: str | Sequence[str] | None = "0230"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.add_column("ingest_batches", sa.Column("digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert."""
    op.drop_column("ingest_batches", "digest")
