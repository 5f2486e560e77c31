"""images (Visual History) and diagnoses, with the shared per-minute call counter

Revision ID: 0100
Revises: 0002
Create Date: 2026-11-27 00:02:46.646983+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0100"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "diagnosis_rate_windows",
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("window_start", name=op.f("pk_diagnosis_rate_windows")),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("plant_id", sa.Uuid(), nullable=True),
        sa.Column("node_id", sa.Uuid(), nullable=True),
        sa.Column("hub_id", sa.Uuid(), nullable=True),
        sa.Column("object_key", sa.String(length=512), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=512), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("canopy_cover", sa.Float(), nullable=True),
        sa.Column("excess_green_mean", sa.Float(), nullable=True),
        sa.Column("green_pixels", sa.BigInteger(), nullable=True),
        sa.Column("brightness", sa.Float(), nullable=True),
        sa.Column("quality_flags", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["hubs.id"], name=op.f("fk_images_hub_id_hubs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_images_node_id_nodes"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_images_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["plant_id"], ["plants.id"], name=op.f("fk_images_plant_id_plants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("owner_id", "sha256", name=op.f("uq_images_owner_id_sha256")),
    )
    op.create_index(op.f("ix_images_node_id"), "images", ["node_id"], unique=False)
    op.create_index(
        "ix_images_plant_id_captured_at", "images", ["plant_id", "captured_at"], unique=False
    )
    op.create_table(
        "diagnoses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("plant_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("health", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("recommended_actions", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("follow_up", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("candidates_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error_code", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["images.id"],
            name=op.f("fk_diagnoses_image_id_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_diagnoses_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnoses")),
    )
    op.create_index(
        "ix_diagnoses_image_id_requested_at",
        "diagnoses",
        ["image_id", "requested_at"],
        unique=False,
    )
    op.create_index(op.f("ix_diagnoses_owner_id"), "diagnoses", ["owner_id"], unique=False)
    op.create_index(
        "ix_diagnoses_plant_id_requested_at",
        "diagnoses",
        ["plant_id", "requested_at"],
        unique=False,
    )
    op.create_index(
        "uq_diagnoses_image_id_active",
        "diagnoses",
        ["image_id"],
        unique=True,
        postgresql_where="status IN ('queued', 'running')",
    )


def downgrade() -> None:
    """Revert."""
    op.drop_index(
        "uq_diagnoses_image_id_active",
        table_name="diagnoses",
        postgresql_where="status IN ('queued', 'running')",
    )
    op.drop_index("ix_diagnoses_plant_id_requested_at", table_name="diagnoses")
    op.drop_index(op.f("ix_diagnoses_owner_id"), table_name="diagnoses")
    op.drop_index("ix_diagnoses_image_id_requested_at", table_name="diagnoses")
    op.drop_table("diagnoses")
    op.drop_index("ix_images_plant_id_captured_at", table_name="images")
    op.drop_index(op.f("ix_images_node_id"), table_name="images")
    op.drop_table("images")
    op.drop_table("diagnosis_rate_windows")
