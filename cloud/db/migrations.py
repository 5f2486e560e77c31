"""Alembic driven from code: the config is built here so it works from an installed package."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cloud.db.engine import UTC_ZONES, libpq_url, sqlalchemy_url
from cloud.db.partitions import RetentionPolicy, finish_conversion
from cloud.errors import CloudError

MIGRATE_HINT = (
    "run `plantvita cloud migrate` (or start with `plantvita cloud run` in embedded mode)"
)


class DatabaseNotMigratedError(CloudError):
    """The database schema is not at the code's Alembic head."""

    status_code = 503
    code = "database_not_migrated"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at ``cloud/migrations`` inside the installed package."""
    config = Config()
    config.set_main_option("script_location", "cloud:migrations")
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    config.set_main_option("timezone", "UTC")
    if url is not None:
        config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def head_revisions() -> set[str]:
    """The head revision(s) in the code."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def upgrade_to_head(url: str, retention: RetentionPolicy | None = None) -> None:
    """Apply every pending migration to the database at ``url``, then finish converting the
    readings to partitioned tables if revision 0310 found rows to copy (online: batches of
    their own while ingest goes on; ``cloud.db.partitions``)."""
    command.upgrade(alembic_config(url), "head")
    finish_conversion(libpq_url(url), retention)


def current_revisions(connection: Connection) -> set[str]:
    """The revision(s) the database is stamped with."""
    return set(MigrationContext.configure(connection).get_current_heads())


class SessionDefaultsError(CloudError):
    """The database's sessions do not run with the defaults the cloud needs (UTC)."""

    status_code = 503
    code = "database_session_defaults"


async def check_at_head(engine: AsyncEngine) -> None:
    """Raise ``DatabaseNotMigratedError`` (saying what to run) unless the database is at head,
    and ``SessionDefaultsError`` unless its sessions run in UTC (migration 0320 sets that for
    the role that migrates; another serving role needs the same ``ALTER ROLE``)."""
    async with engine.connect() as conn:
        current = await conn.run_sync(current_revisions)
        zone, role = (
            await conn.execute(text("SELECT current_setting('TimeZone'), current_user"))
        ).one()
    heads = head_revisions()
    if current != heads:
        state = ", ".join(sorted(current)) or "empty (no migrations applied)"
        raise DatabaseNotMigratedError(
            f"database schema is at {state} but the code expects {', '.join(sorted(heads))}: "
            f"{MIGRATE_HINT}"
        )
    if zone not in UTC_ZONES:
        raise SessionDefaultsError(
            f"database sessions of role {role!r} run in time zone {zone!r}, not UTC: run "
            f"ALTER ROLE \"{role}\" SET timezone TO 'UTC' (migration 0320 does it for the role "
            "that migrates; PgBouncer refuses startup options, so the role's default is the way)"
        )
