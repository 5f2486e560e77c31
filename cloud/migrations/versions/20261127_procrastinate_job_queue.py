"""procrastinate job queue schema (durable diagnosis and purge jobs)

The schema is procrastinate's own ``schema.sql`` from the installed package, applied here so
``plantvita cloud migrate`` (and embedded auto-migration) set up the queue with everything
else. A procrastinate upgrade that ships SQL migrations needs a new revision applying them.

Revision ID: 0101
Revises: 0100
Create Date: 2026-11-27 00:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0101"
down_revision: str | Sequence[str] | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    from procrastinate.schema import SchemaManager

    # Straight to the driver (no SQLAlchemy binds: the schema is full of ::casts); the driver
    # formats % placeholders, so literal percent signs are doubled, as procrastinate does.
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    """Revert: drop every procrastinate table, function and type."""
    op.get_bind().exec_driver_sql(_DROP_ALL.replace("%", "%%"))


_DROP_ALL = """
        DO $$
        DECLARE item record;
        BEGIN
            FOR item IN SELECT tablename FROM pg_tables
                        WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%'
            LOOP
                EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
            END LOOP;
            FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                        JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'
            LOOP
                EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
            END LOOP;
            FOR item IN SELECT t.typname FROM pg_type t
                        JOIN pg_namespace n ON n.oid = t.typnamespace
                        WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%'
                          AND t.typtype IN ('c', 'e')
            LOOP
                EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
            END LOOP;
        END $$;
"""
