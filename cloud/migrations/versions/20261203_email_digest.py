"""email_digest: the daily e-mail digest and the gardener's time zone

``users.time_zone`` (an IANA name; NULL: UTC) says which day is the gardener's; each digest
sent is a row of ``email_digests``, unique per (owner, day), so queueing it is idempotent.
The opt-in itself is a notification preference (channel ``email``, event ``digest.daily``).

Revision ID: 0301
Revises: 0300
Create Date: 2026-12-03 17:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0301"
down_revision: str | Sequence[str] | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.add_column("users", sa.Column("time_zone", sa.String(64), nullable=True))
    op.create_table(
        "email_digests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_email_digests_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_digests")),
        sa.UniqueConstraint("owner_id", "day", name=op.f("uq_email_digests_owner_id_day")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("email_digests")
    op.drop_column("users", "time_zone")
