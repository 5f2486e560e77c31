"""``HubStore``: the hub's database and image files, and the ``GatewayStore`` the BLE gateway
writes into. Build it with ``open_store(settings)``.

Readers use their own ``query_only`` connections (``store.read()``); every write goes through
``store.write(op)``, the single writer task, which returns once the transaction committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.ble.ports import DecodedReading, NodeStatus, PairedNode, ReceivedImage
from hub.images.storage import ImageStorage
from hub.nodes import repository as nodes_repo
from hub.nodes import service as nodes_service
from hub.nodes.models import Node
from hub.readings import repository as readings_repo
from hub.settings import HubSettings
from hub.store.engine import create_engine
from hub.store.migrations import migrate
from hub.store.types import to_ms
from hub.store.writer import WriteOp, Writer
from shared.mac import normalize_mac
from shared.sync import NodeKind
from shared.units import Metric, out_of_range

log = structlog.get_logger(__name__)

T = TypeVar("T")


class HubStore:
    """The hub's store; implements ``hub.ble.ports.GatewayStore``."""

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
        self.readings_stored = 0
        self.readings_ignored = 0

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session on a reader connection (a consistent WAL snapshot)."""
        async with self._readers() as session, session.begin():
            yield session

    async def write(self, op: WriteOp[T]) -> T:
        """Run ``op(session)`` in the writer's transaction; returns once committed."""
        return await self.writer.submit(op)

    # --- GatewayStore -------------------------------------------------------------------

    async def paired_nodes(self) -> Sequence[PairedNode]:
        """Every paired node with its bindkey, backfill position and wanted config."""
        async with self.read() as session:
            return [nodes_service.to_paired(node) for node in await nodes_repo.paired(session)]

    async def store_readings(self, readings: Sequence[DecodedReading]) -> None:
        """Persist readings of paired nodes; returns once committed. Duplicates by (node, seq)
        or (node, time) are ignored; readings of unknown nodes are logged and skipped."""
        if not readings:
            return

        async def op(session: AsyncSession) -> int:
            ids = await nodes_repo.ids_by_mac(session, (r.node_mac for r in readings))
            rows: list[readings_repo.NewReading] = []
            last_seq: dict[int, int] = {}
            for reading in readings:
                node_id = ids.get(reading.node_mac)
                if node_id is None:
                    log.warning("reading_of_unpaired_node", mac=reading.node_mac)
                    continue
                values = _valid_values(reading)
                if not values:
                    continue
                rows.append(
                    readings_repo.NewReading(
                        node_id=node_id,
                        measured_at_ms=to_ms(reading.measured_at),
                        seq=reading.seq,
                        source=reading.source.value,
                        values=values,
                    )
                )
                if reading.seq is not None:
                    last_seq[node_id] = max(last_seq.get(node_id, -1), reading.seq)
            inserted = await readings_repo.insert_readings(session, rows)
            await readings_repo.raise_last_seq(session, last_seq)
            return inserted

        inserted = await self.write(op)
        self.readings_stored += inserted
        self.readings_ignored += len(readings) - inserted

    async def store_image(self, image: ReceivedImage) -> None:
        """Persist a photo from a node with its thumbnail and metrics (deduplicated by hash)."""
        from hub.errors import HubError
        from hub.images.service import ingest_image

        try:
            await ingest_image(
                self,
                image.data,
                source="ble",
                node_mac=image.node_mac,
                captured_at=image.captured_at,
                node_image_id=image.node_image_id,
            )
        except HubError as exc:
            log.warning("node_image_refused", mac=image.node_mac, code=exc.code, error=exc.message)

    async def update_node_status(self, statuses: Sequence[NodeStatus]) -> None:
        """Record last seen, RSSI, battery, firmware, applied config revision, drop counters."""
        if statuses:
            await self.write(lambda session: nodes_service.apply_statuses(session, statuses))

    # --- helpers for the API, the CLI and tests ------------------------------------------

    async def pair_node(
        self,
        mac: str,
        kind: NodeKind = NodeKind.PLANTVITA,
        bindkey: bytes | None = None,
        name: str | None = None,
    ) -> Node:
        """Pair a node (idempotent); the gateway picks it up at its next ``reload_nodes``."""
        normal = normalize_mac(mac)
        return await self.write(lambda s: nodes_service.pair(s, normal, kind, bindkey, name))


def _valid_values(reading: DecodedReading) -> dict[str, float]:
    values: dict[str, float] = {}
    for metric, value in reading.values.items():
        reason = out_of_range(Metric(metric), value)
        if reason:
            log.warning("reading_value_out_of_range", mac=reading.node_mac, reason=reason)
            continue
        values[Metric(metric).value] = float(value)
    return values


@asynccontextmanager
async def open_store(settings: HubSettings) -> AsyncIterator[HubStore]:
    """Migrate the database, start the writer, yield the store; stop and dispose on exit."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.images_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, settings.database_path)
    writer_engine = create_engine(
        settings.database_path, writer=True, synchronous=settings.sqlite_synchronous
    )
    reader_engine = create_engine(settings.database_path, writer=False)
    writer = Writer(writer_engine, max_batch=settings.write_batch_max)
    writer.start()
    try:
        yield HubStore(settings, writer_engine, reader_engine, writer)
    finally:
        await writer.stop()
        await writer_engine.dispose()
        await reader_engine.dispose()
