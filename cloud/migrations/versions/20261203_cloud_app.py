"""cloud_app: what the gardener's web app keeps on the account, sessions and hubs

Display preferences on the user (temperature unit, locale), the browser a login came from
(so the sessions list can name it), and the config revision each hub has confirmed holding
(so the app can say "waiting for the hub" until it has).

Revision ID: 0200
Revises: 0130
Create Date: 2026-12-03 12:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: str | Sequence[str] | None = "0130"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.add_column(
        "users",
        sa.Column("temperature_unit", sa.String(1), nullable=False, server_default="C"),
    )
    op.add_column("users", sa.Column("locale", sa.String(35), nullable=True))
    op.create_check_constraint("temperature_unit", "users", "temperature_unit IN ('C', 'F')")
    op.add_column("refresh_tokens", sa.Column("user_agent", sa.String(200), nullable=True))
    op.add_column("hubs", sa.Column("config_revision_acked", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Revert."""
    op.drop_column("hubs", "config_revision_acked")
    op.drop_column("refresh_tokens", "user_agent")
    op.drop_constraint(op.f("ck_users_temperature_unit"), "users", type_="check")
    op.drop_column("users", "locale")
    op.drop_column("users", "temperature_unit")
