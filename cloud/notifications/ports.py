"""The channel interface every notification channel implements, and what it is handed."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.egress import Egress

if TYPE_CHECKING:
    from py_vapid import Vapid

    from cloud.settings import CloudSettings

DeliveryStatus = Literal["delivered", "retrying", "failed"]


@dataclass(frozen=True)
class Subject:
    """What an event is about, as its owner may see it (loaded when the job runs)."""

    kind: str  # "alert": the part of the event name before the dot
    owner_id: uuid.UUID
    title: str  # one line: a push title, an e-mail subject
    text: str  # a sentence or two: a push body, an e-mail's text
    payload: Mapping[str, Any]  # the public JSON form (a webhook body carries it)


@dataclass(frozen=True)
class Notice:
    """One event to deliver on one channel."""

    event: str  # "alert.opened", "alert.resolved"
    event_id: uuid.UUID  # the same on every retry (receivers deduplicate by it)
    at: datetime  # when the event happened
    subject: Subject


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt went, handed back to the channel to record."""

    status: DeliveryStatus
    attempt: int
    at: datetime
    http_status: int | None = None
    error: str | None = None


class Undelivered(Exception):
    """A delivery attempt failed; ``retry`` when the receiver may accept it later."""

    def __init__(self, error: str, http_status: int | None = None, *, retry: bool) -> None:
        super().__init__(error)
        self.error = error
        self.http_status = http_status
        self.retry = retry


# Loads a subject by id in a session; None when it is gone (the delivery is then dropped).
SubjectLoader = Callable[[AsyncSession, uuid.UUID], Awaitable[Subject | None]]


@dataclass(frozen=True)
class ChannelResources:
    """What channels are built from, once per worker process."""

    engine: AsyncEngine
    egress: Egress  # vets every user-chosen destination
    http: httpx.AsyncClient | None = None  # from ``egress.client()``; None: one per delivery
    settings: CloudSettings | None = None  # SMTP relay, push TTL, the app's address
    vapid: Vapid | None = None  # the Web Push signing key; None: no push


class Channel(Protocol):
    """One way of reaching a gardener.

    ``recipients_sql`` is a SQL condition over ``e.owner_id`` (uuid) and ``e.event`` (text),
    true when that owner receives that event on this channel (a webhook is set, a push
    subscription exists and the preferences allow it, …): deliveries are only queued for them.
    Retries: up to ``max_attempts``, backoff from ``backoff_base_s`` doubling to ``backoff_max_s``.
    """

    name: ClassVar[str]  # stable: stored in queued jobs
    default_on: ClassVar[bool]  # whether an owner gets an event here before choosing
    recipients_sql: ClassVar[str]
    max_attempts: ClassVar[int]
    backoff_base_s: ClassVar[float]
    backoff_max_s: ClassVar[float]

    def __init__(self, resources: ChannelResources) -> None: ...

    async def send(self, notice: Notice) -> int | None:
        """Deliver once: the receiver's status code (or None). Raises ``Undelivered``;
        raises ``LookupError`` when the owner no longer has this channel (nothing recorded)."""
        ...

    async def record(self, notice: Notice, outcome: Outcome) -> None:
        """Keep the attempt's outcome where the owner can see it (or nowhere)."""
        ...
