"""``Database``: the hub's SQLite database and image files, what every domain reads and writes
through. ``hub.hub_store.HubStore`` adds the ``GatewayStore`` the BLE gateway writes into; build
that with ``hub.hub_store.open_store(settings)``.

Readers use their own ``query_only`` connections (``store.read()``); every write goes through
``store.write(op)``, the single writer task, which returns once the transaction committed.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.settings import HubSettings
from hub.store.files import ImageStorage
from hub.store.types import utcnow
from hub.store.writer import WriteOp, Writer

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class StorageIncident:
    """A time the hub could not store data: raised as a DISK_FULL alert once it can write."""

    since: datetime
    message: str
    ended_at: datetime | None = None


class Database:
    """The hub's database (one writer, query-only readers) and its image files."""

    def __init__(
        self,
        settings: HubSettings,
        writer_engine: AsyncEngine,
        reader_engine: AsyncEngine,
        writer: Writer,
    ) -> None:
        self.settings = settings
        self.writer_engine = writer_engine
        self.reader_engine = reader_engine
        self.writer = writer
        self.images = ImageStorage(settings.images_dir)
        self._readers = async_sessionmaker(reader_engine, expire_on_commit=False)
        self.storage_incident: StorageIncident | None = None
        self.readings_stored = 0
        self.readings_ignored = 0

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session on a reader connection (a consistent WAL snapshot)."""
        async with self._readers() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Run a trivial query on a reader connection (raises when the database does not answer)."""
        async with self.read() as session:
            await session.execute(text("select 1"))

    def free_bytes(self) -> int:
        """Free space on the data directory's filesystem, for this (unprivileged) process."""
        stats = os.statvfs(self.settings.data_dir)
        return stats.f_bavail * stats.f_frsize

    def storage_problem(self) -> str | None:
        """Why the hub cannot store data (a failed commit, a full disk), or None."""
        if self.writer.failing:
            return f"the database cannot be written ({self.writer.last_commit_error})"
        free = self.free_bytes()
        if free < self.settings.disk_reserve_bytes // 4:
            return f"disk full: {free / 1_048_576:.1f} MB free on the hub's storage"
        return None

    def check_storage(self) -> StorageIncident | None:
        """Follow the storage problem over time: the incident in progress, or one that ended but
        whose alert is not written yet (``forget_incident`` once it is)."""
        problem = self.storage_problem()
        incident = self.storage_incident
        if problem is not None:
            if incident is None or incident.ended_at is not None:
                since = self.writer.failing_since or utcnow()
                if incident is not None:  # ended, not yet recorded: one incident, not two
                    since = incident.since
                incident = self.storage_incident = StorageIncident(since, problem)
            else:
                incident.message = problem
        elif incident is not None and incident.ended_at is None:
            incident.ended_at = utcnow()
        return self.storage_incident

    def forget_incident(self, incident: StorageIncident) -> None:
        """The ended incident's alert is written."""
        if self.storage_incident is incident and incident.ended_at is not None:
            self.storage_incident = None

    async def write(self, op: WriteOp[T]) -> T:
        """Run ``op(session)`` in the writer's transaction; returns once committed."""
        return await self.writer.submit(op)
