"""Key/value settings of this hub stored in ``hub_settings``."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Keys used across the hub.
ADMIN_PASSWORD_HASH = "admin_password_hash"  # noqa: S105 - a key name, not a secret
SESSION_SECRET = "session_secret"  # noqa: S105 - a key name, not a secret
HUB_TOKEN = "hub_token"  # noqa: S105 - a key name, not a secret
HUB_ID = "hub_id"
CLOUD_URL = "cloud_url"
CONFIG_REVISION = "config_revision"
UNITS = "units"
# Moved by the database itself on every change of the species table (triggers of migration 13).
SPECIES_REVISION = "species_revision"


async def get(session: AsyncSession, key: str) -> str | None:
    """The value of ``key`` or None."""
    result = await session.execute(
        text("select value from hub_settings where key = :k"), {"k": key}
    )
    row = result.first()
    return None if row is None else str(row[0])


async def get_many(session: AsyncSession, *keys: str) -> dict[str, str]:
    """Values of the given keys that are set."""
    result = await session.execute(text("select key, value from hub_settings"))
    return {str(k): str(v) for k, v in result.all() if k in keys}


async def put(session: AsyncSession, key: str, value: str | None) -> None:
    """Set ``key`` (None deletes it)."""
    if value is None:
        await session.execute(text("delete from hub_settings where key = :k"), {"k": key})
    else:
        await session.execute(
            text(
                "insert into hub_settings(key, value) values (:k, :v) "
                "on conflict(key) do update set value = excluded.value"
            ),
            {"k": key, "v": value},
        )
