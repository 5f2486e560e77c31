"""Column types and sync states shared by every hub table."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class SyncState(IntEnum):
    """Where a row stands with the cloud; stored as a small integer."""

    PENDING = 0
    SYNCED = 1
    REJECTED = 2


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def utcnow() -> datetime:
    """Now, aware, UTC."""
    return datetime.now(UTC)


class EpochMs(TypeDecorator[datetime]):
    """An aware UTC datetime stored as integer epoch milliseconds: compact, sortable, tz-safe."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        """datetime -> int."""
        if value is None:
            return None
        if isinstance(value, int):
            return value
        return to_ms(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """int -> aware datetime."""
        return None if value is None else from_ms(int(value))
