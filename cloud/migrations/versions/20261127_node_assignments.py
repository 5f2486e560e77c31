"""node_assignments: when each node measured which plant, so photos follow the assignment

Also attributes the photos already synced while their node had no plant to the plant the
node measures now (and their diagnoses to the same plant), which is what the gardener expects.

Revision ID: 0130
Revises: 0120
Create Date: 2026-11-27 03:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0130"
down_revision: str | Sequence[str] | None = "0120"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "node_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.Uuid(), nullable=False),
        sa.Column("plant_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unassigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_node_assignments_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_node_assignments_node_id_nodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plant_id"],
            ["plants.id"],
            name=op.f("fk_node_assignments_plant_id_plants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_assignments")),
    )
    op.create_index(
        op.f("ix_node_assignments_owner_id"), "node_assignments", ["owner_id"], unique=False
    )
    op.create_index(
        op.f("ix_node_assignments_plant_id"), "node_assignments", ["plant_id"], unique=False
    )
    op.create_index(
        "ix_node_assignments_node_id_assigned_at",
        "node_assignments",
        ["node_id", "assigned_at"],
        unique=False,
    )
    op.create_index(
        "uq_node_assignments_open_node_id",
        "node_assignments",
        ["node_id"],
        unique=True,
        postgresql_where=sa.text("unassigned_at IS NULL"),
    )
    # Today's assignments, open since the plant was created (the earliest they can date from).
    op.execute(
        "INSERT INTO node_assignments (id, owner_id, node_id, plant_id, assigned_at) "
        "SELECT gen_random_uuid(), owner_id, node_id, id, created_at FROM plants "
        "WHERE node_id IS NOT NULL"
    )
    # Photos synced while their node had no plant belong to the plant it measures now.
    op.execute(
        "UPDATE images SET plant_id = plants.id FROM plants "
        "WHERE images.plant_id IS NULL AND images.node_id = plants.node_id "
        "AND images.owner_id = plants.owner_id"
    )
    op.execute(
        "UPDATE diagnoses SET plant_id = images.plant_id FROM images "
        "WHERE diagnoses.image_id = images.id AND diagnoses.plant_id IS NULL "
        "AND images.plant_id IS NOT NULL"
    )


def downgrade() -> None:
    """Revert (photos attributed by the upgrade keep their plant)."""
    op.drop_index("uq_node_assignments_open_node_id", table_name="node_assignments")
    op.drop_index("ix_node_assignments_node_id_assigned_at", table_name="node_assignments")
    op.drop_index(op.f("ix_node_assignments_plant_id"), table_name="node_assignments")
    op.drop_index(op.f("ix_node_assignments_owner_id"), table_name="node_assignments")
    op.drop_table("node_assignments")
