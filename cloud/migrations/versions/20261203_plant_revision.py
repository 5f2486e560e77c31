"""plants.revision: a per-plant counter, so a hub's edit made on an older copy is a conflict

Revision ID: 0220
Revises: 0210
Create Date: 2026-12-03 12:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0220"
down_revision: str | Sequence[str] | None = "0210"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.add_column(
        "plants", sa.Column("revision", sa.BigInteger(), server_default="1", nullable=False)
    )
    # The last hub edit applied: a re-sent edit whose ack was lost is recognised, not a conflict.
    op.add_column("plants", sa.Column("last_hub_edit", sa.Uuid(), nullable=True))


def downgrade() -> None:
    """Revert."""
    op.drop_column("plants", "last_hub_edit")
    op.drop_column("plants", "revision")
