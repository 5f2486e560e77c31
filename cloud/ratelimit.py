"""The one rate-limit helper: fixed windows counted in PostgreSQL (shared by every API instance),
refusals answered 429 with ``Retry-After`` and the ``RateLimit-*`` fields of
draft-ietf-httpapi-ratelimit-headers-06 (``Limit``, ``Remaining``, ``Reset``, ``Policy``).

Each hit is its own short transaction on the engine, not the request's session: a request that
fails afterwards (a wrong refresh token, a bad password) must still have been counted.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Column, DateTime, Integer, String, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field as TableField

from cloud.db.base import CloudTable
from cloud.errors import RateLimitedError

_RULE: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*s?\s*$")
PRUNE_EVERY_S: Final = 300.0  # how often a process deletes windows that ended a day ago


class RateRule(BaseModel):
    """``limit`` requests per ``window_s`` seconds; written ``"10/3600"`` in the environment."""

    model_config = ConfigDict(frozen=True)

    limit: int = Field(ge=1)
    window_s: int = Field(ge=1, le=86_400)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _RULE.match(value)
            if match is None:
                raise ValueError("write a rate limit as COUNT/SECONDS, e.g. 10/3600")
            return {"limit": int(match[1]), "window_s": int(match[2])}
        return value

    def __str__(self) -> str:
        return f"{self.limit}/{self.window_s}"


@dataclass(frozen=True)
class RateLimitState:
    """Where a caller stands in its current window."""

    rule: RateRule
    used: int
    reset_s: int  # seconds until the window ends

    @property
    def exceeded(self) -> bool:
        """More hits than the rule allows in this window."""
        return self.used > self.rule.limit

    @property
    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` fields (plus ``Retry-After`` once exceeded)."""
        fields = rate_limit_headers(self.rule, max(self.rule.limit - self.used, 0), self.reset_s)
        if self.exceeded:
            fields["Retry-After"] = str(self.reset_s)
        return fields


def rate_limit_headers(rule: RateRule, remaining: int, reset_s: int) -> dict[str, str]:
    """The draft-06 fields for ``rule`` with ``remaining`` requests left for ``reset_s`` seconds."""
    return {
        "RateLimit-Limit": str(rule.limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(max(reset_s, 1)),
        "RateLimit-Policy": f"{rule.limit};w={rule.window_s}",
    }


def refusal(
    message: str, rule: RateRule, retry_after_s: float, *, remaining: int = 0
) -> RateLimitedError:
    """The 429 to raise: ``Retry-After`` and ``RateLimit-*`` agree on when to come back."""
    wait = max(math.ceil(retry_after_s), 1)
    headers = rate_limit_headers(rule, remaining, wait)
    headers["Retry-After"] = str(wait)
    return RateLimitedError(message, headers=headers)


class RateLimitCounter(CloudTable, table=True):
    """Hits of one (rule, key) bucket in its current fixed window."""

    __tablename__ = "rate_limit_counters"

    bucket: str = TableField(sa_column=Column(String(200), primary_key=True))
    window_start: datetime = TableField(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    hits: int = TableField(sa_column=Column(Integer, nullable=False))


_HIT = text(
    """
    INSERT INTO rate_limit_counters AS c (bucket, window_start, hits)
    VALUES (:bucket, :window_start, 1)
    ON CONFLICT (bucket) DO UPDATE SET
        hits = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.hits + 1 ELSE 1 END,
        window_start = EXCLUDED.window_start
    RETURNING hits
    """
)
_PRUNE = text("DELETE FROM rate_limit_counters WHERE window_start < :before")


class RateLimiter:
    """Counts hits per (rule name, key) in the ``rate_limit_counters`` table."""

    def __init__(self, engine: AsyncEngine, *, enabled: bool = True) -> None:
        self.engine = engine
        self.enabled = enabled
        self._pruned_at = time.monotonic()

    async def hit(self, name: str, rule: RateRule, key: str) -> RateLimitState:
        """Count one request of ``key`` against ``rule``; the state says whether it is over."""
        now = datetime.now(UTC)
        epoch = int(now.timestamp())
        start = epoch - epoch % rule.window_s
        reset_s = start + rule.window_s - epoch
        if not self.enabled:
            return RateLimitState(rule, 0, reset_s)
        bucket = f"{name}:{key}"[:200]
        window_start = datetime.fromtimestamp(start, UTC)
        async with self.engine.begin() as conn:
            used = int(
                (
                    await conn.execute(_HIT, {"bucket": bucket, "window_start": window_start})
                ).scalar_one()
            )
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
                # Bounded table: windows are at most a day long.
                self._pruned_at = time.monotonic()
                await conn.execute(_PRUNE, {"before": now - timedelta(days=1)})
        return RateLimitState(rule, used, reset_s)

    async def check(self, name: str, rule: RateRule, key: str, message: str) -> RateLimitState:
        """``hit``, raising the 429 when the window is used up."""
        state = await self.hit(name, rule, key)
        if state.exceeded:
            raise refusal(message, rule, state.reset_s)
        return state
