"""``HubStore``: the hub's ``Database`` plus the ``GatewayStore`` the BLE gateway writes into
(readings, photos, node status, pairing), composed from the domains' services. Build it with
``open_store(settings)``.

Readers use their own ``query_only`` connections (``store.read()``); every write goes through
``store.write(op)``, the single writer task, which returns once the transaction committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial

import structlog

from hub.ble.ports import DecodedReading, NodeStatus, PairedNode, ReceivedImage, RefusedReplays
from hub.errors import HubError
from hub.images.service import ingest_image
from hub.nodes import service as nodes_service
from hub.nodes.models import Node
from hub.readings import ingest as readings_ingest
from hub.settings import HubSettings
from hub.store.database import Database, StorageIncident
from hub.store.engine import create_engine
from hub.store.migrations import migrate
from hub.store.writer import Writer
from shared.mac import normalize_mac
from shared.metrics import Metric
from shared.sync import NodeKind

__all__ = ["HubStore", "StorageIncident", "open_store"]

log = structlog.get_logger(__name__)


class HubStore(Database):
    """The hub's store; implements ``hub.ble.ports.GatewayStore``."""

    # --- GatewayStore -------------------------------------------------------------------

    async def paired_nodes(self) -> Sequence[PairedNode]:
        """Every paired node with its bindkey, backfill position, wanted config and the alarm
        thresholds of its plant."""
        async with self.read() as session:
            plants = await nodes_service.plant_thresholds(session)
            return [
                nodes_service.to_paired(node, plants.get(node.mac))
                for node in await nodes_service.paired_nodes(session)
            ]

    async def store_readings(self, readings: Sequence[DecodedReading]) -> dict[str, RefusedReplays]:
        """Persist readings of paired nodes; returns once committed. Duplicates by (node, epoch,
        seq) or (node, time) are ignored; readings of unknown nodes are logged and skipped.

        After a counter restart with the same bindkey, adverts recorded in an earlier epoch under
        that key still authenticate; an advert whose seq and values equal a reading of such an
        epoch is a replay and is refused. Returns those refusals per node MAC."""
        if not readings:
            return {}
        outcome = await self.write(partial(readings_ingest.store_readings, readings=readings))
        inserted, replays = outcome
        self.readings_stored += inserted
        self.readings_ignored += len(readings) - inserted
        if replays:
            log.warning(
                "replayed_readings_refused", replays={m: r.count for m, r in replays.items()}
            )
        return replays

    async def store_image(self, image: ReceivedImage) -> None:
        """Persist a photo from a node with its thumbnail and metrics (deduplicated by hash)."""
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

    async def start_counter_epoch(self, node_mac: str, moved: Sequence[int] = ()) -> int:
        """Open a new sequence epoch for a node whose counter restarted; returns its number.
        Readings of the current epoch with a seq in ``moved`` move to the new one."""
        mac = normalize_mac(node_mac)

        epoch = await self.write(partial(readings_ingest.start_counter_epoch, mac=mac, moved=moved))
        log.warning("node_counter_restarted", mac=mac, seq_epoch=epoch, moved=len(moved))
        return epoch

    async def stored_values(
        self, node_mac: str, seqs: Sequence[int]
    ) -> dict[int, dict[Metric, float]]:
        """Values of the node's readings with these seqs in its current epoch, by seq."""
        mac = normalize_mac(node_mac)
        async with self.read() as session:
            return await readings_ingest.values_by_seq(session, mac, seqs)

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
