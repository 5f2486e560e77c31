"""role_session_defaults: sessions run in UTC by the role's default, not by startup options

PgBouncer refuses a startup ``options`` packet (``-c timezone=UTC``), so the time zone the
cloud's sessions need is the default of the role that migrates (the service's role, in the
usual set-up; docs/operations.md says what to run when another role serves). ``ALTER ROLE
CURRENT_USER`` needs no privilege beyond being that role.

Revision ID: 0320
Revises: 0310
Create Date: 2026-12-03 17:15:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0320"
down_revision: str | Sequence[str] | None = "0310"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.execute("ALTER ROLE CURRENT_USER SET timezone TO 'UTC'")


def downgrade() -> None:
    """Revert."""
    op.execute("ALTER ROLE CURRENT_USER RESET timezone")
