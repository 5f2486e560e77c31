"""The sync engine: pushes alerts, readings, the node inventory and images to the cloud, pulls
the config snapshot, and keeps the ledger. One run at a time; failures back off with jitter."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from hub.ble.ports import GatewayControl
from hub.diagnoses import service as diagnoses_service
from hub.images import service as images_service
from hub.images.models import Image, UploadState
from hub.nodes import service as nodes_service
from hub.nodes.models import Node
from hub.plants import service as plants_service
from hub.plants.models import Plant, Species
from hub.plants.models import PlantEdit as PlantEdit_
from hub.settings import HubSettings
from hub.store import kv
from hub.store.database import Database
from hub.store.types import SyncState, from_ms, utcnow
from hub.sync import repository
from hub.sync.client import CloudClient, CloudError, EncodedBatch, throttled
from shared.sync import (
    AdvertCounts,
    BatchAck,
    ConfigSnapshot,
    HubSyncStatus,
    ImageMetrics,
    ImageSlot,
    ImageSlotRequest,
    NodeInfo,
    NodeInventory,
    NodeKind,
    PendingCounts,
    PlantChanges,
    PlantConfig,
    PlantEdit,
    PlantEditBatch,
    PlantEditOutcome,
    PlantEditResult,
)

log = structlog.get_logger(__name__)

KINDS: tuple[str, ...] = (
    "alerts",
    "readings",
    "nodes",
    "plant_edits",
    "config",
    "diagnoses",
    "image_slots",
    "image_bytes",
)


class NotLinked(Exception):
    """The hub has no cloud URL or hub token yet."""


@dataclass(slots=True)
class SyncReport:
    """What one run did."""

    sent: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    bytes_sent: int = 0
    error: str | None = None
    skipped: str | None = None


def _iso(ms: int) -> str:
    return from_ms(ms).isoformat()


def _reading_item(row: Any) -> str:
    return str(row[1])  # JSON text built by SQLite (see repository._READING_SELECT)


def _alert_item(row: Any) -> str:
    item: dict[str, Any] = {
        "local_id": row[0],
        "node_mac": row[1],
        "plant_id": row[2],
        "kind": row[3],
        "metric": row[4],
        "message": row[5],
        "opened_at": _iso(row[6]),
        "resolved_at": _iso(row[7]) if row[7] is not None else None,
    }
    # What it opened on, when known (the cloud writes it in its reader's units).
    for key, value in (("value", row[8]), ("bound", row[9]), ("rule", row[10])):
        if value is not None:
            item[key] = value
    return orjson.dumps(item).decode()


_ITEM = {"readings": _reading_item, "alerts": _alert_item}
_LIST_KEY = {"readings": "readings", "alerts": "alerts"}


def _body(kind: str, batch_uuid: UUID, items: list[str]) -> bytes:
    head = f'{{"batch_id":"{batch_uuid}","{_LIST_KEY[kind]}":['
    return (head + ",".join(items) + "]}").encode()


def _gzip(raw: bytes) -> EncodedBatch:
    import gzip

    return EncodedBatch(gzip.compress(raw, compresslevel=1), len(raw))


class SyncEngine:
    """Owns the sync schedule state; ``run`` is what the scheduler and "sync now" call."""

    def __init__(
        self,
        store: Database,
        settings: HubSettings,
        client_factory: Callable[[str, str | None], CloudClient],
        gateway: GatewayControl | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self._client_factory = client_factory
        self.gateway = gateway
        self._lock = asyncio.Lock()
        self._failures = 0
        self._next_attempt = 0.0  # monotonic
        self._slots: dict[str, ImageSlot] = {}  # image id -> slot obtained this process
        self.last_run_at: datetime | None = None
        self.last_report: SyncReport | None = None
        self.bytes_sent_total = 0

    @property
    def backoff_remaining_s(self) -> float:
        """Seconds until the next scheduled attempt is allowed."""
        return max(0.0, self._next_attempt - time.monotonic())

    @property
    def running(self) -> bool:
        """True while a run is in progress."""
        return self._lock.locked()

    async def link_state(self) -> tuple[str | None, str | None, str | None]:
        """(cloud url, hub token, hub id) as stored."""
        async with self.store.read() as session:
            values = await kv.get_many(session, kv.CLOUD_URL, kv.HUB_TOKEN, kv.HUB_ID)
        url = values.get(kv.CLOUD_URL) or self.settings.cloud_url
        return url, values.get(kv.HUB_TOKEN), values.get(kv.HUB_ID)

    async def run(self, *, force: bool = False, max_batches: int | None = None) -> SyncReport:
        """One sync pass (every kind in priority order until nothing is pending).

        Scheduled runs respect the backoff; ``force`` ("sync now") ignores it.
        """
        report = SyncReport()
        if not force and self.backoff_remaining_s > 0:
            report.skipped = "backoff"
            return report
        if self._lock.locked():
            report.skipped = "already running"
            return report
        async with self._lock:
            url, token, _hub_id = await self.link_state()
            if not url or not token:
                report.skipped = "not linked"
                return report
            client = self._client_factory(url, token)
            phase = "nodes"
            failure: CloudError | None = None
            try:
                # New nodes first: the cloud refuses readings of nodes it has not registered.
                await self._push_nodes(client, report, only_if_unregistered=True)
                for phase, step in (
                    ("alerts", self._push_batches),
                    ("readings", self._push_batches),
                ):
                    await step(client, phase, report, max_batches)
                phase = "nodes"
                await self._push_nodes(client, report)
                # Before the pull: the cloud settles the hub's edits, then its snapshot holds
                # the result (a conflict's loser never overwrites the cloud's version).
                phase = "plant_edits"
                await self._push_plant_edits(client, report)
                phase = "config"
                await self._pull_config(client, report)
                phase = "image_slots"
                await self._image_slots(client, report)
                phase = "image_bytes"
                await self._image_bytes(client, report)
                # Last: the photos just sent are already queued for diagnosis in the cloud.
                phase = "diagnoses"
                await self._pull_diagnoses(client, report)
            except CloudError as exc:
                report.error = f"{phase}: {exc}"
                await self.store.write(
                    partial(repository.record, kind=phase, now=utcnow(), error=str(exc))
                )
                failure = exc
                log.warning("sync_failed", phase=phase, error=str(exc), status=exc.status)
            if failure is None or failure.status is not None:
                # Not to an unreachable cloud: it would only time out once more.
                await self._report_status(client, report)
            # The backoff counts from the end of the pass, the status report included.
            if failure is not None:
                self._schedule_retry(failure.retry_after)
            else:
                self._failures = 0
                self._next_attempt = 0.0
            self.last_run_at = utcnow()
            self.last_report = report
            self.bytes_sent_total += report.bytes_sent
            return report

    async def _report_status(self, client: CloudClient, report: SyncReport) -> None:
        """Tell the cloud what is still pending after the pass (the app's sync health), even
        after a failed phase; best effort: an unreachable cloud hears it next time."""

        async with self.store.read() as session:
            counts = await repository.pending_counts(session)
            oldest = await repository.oldest_pending_reading(session)
        status = HubSyncStatus(
            pending=PendingCounts(**counts),
            oldest_pending_reading_at=from_ms(oldest) if oldest is not None else None,
            last_error=report.error.replace("\x00", "")[:500] if report.error else None,
        )
        try:
            await client.push_status(status)
        except CloudError as exc:
            log.info("sync_status_not_reported", error=str(exc))

    def _schedule_retry(self, retry_after: float | None) -> None:
        self._failures += 1
        ceiling = min(
            self.settings.sync_backoff_max_s,
            self.settings.sync_backoff_base_s * 2 ** min(self._failures - 1, 20),
        )
        delay = random.uniform(0, ceiling)  # full jitter: hubs that failed together spread out
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.settings.sync_backoff_max_s))
        self._next_attempt = time.monotonic() + delay

    # --- alerts and readings: persisted batches ------------------------------------------

    async def _push_batches(
        self, client: CloudClient, kind: str, report: SyncReport, max_batches: int | None
    ) -> None:
        """Send every open, then every new batch of ``kind``: batches are built one at a time
        in the writer while up to ``sync_concurrency`` are in flight; each is acked alone."""
        in_flight: set[asyncio.Task[None]] = set()
        after: repository.PersistedBatch | None = None
        sent = 0
        try:
            while max_batches is None or sent < max_batches:
                prepared = await self._next_batch(kind, after)
                if prepared is None:
                    break
                after = prepared[0]
                sent += 1
                in_flight.add(asyncio.create_task(self._send(client, kind, *prepared, report)))
                if len(in_flight) >= self.settings.sync_concurrency:
                    done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        task.result()
            while in_flight:
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
        finally:
            for task in in_flight:
                task.cancel()
            for task in in_flight:
                with contextlib.suppress(asyncio.CancelledError, CloudError):
                    await task

    async def _send(
        self,
        client: CloudClient,
        kind: str,
        batch: repository.PersistedBatch,
        encoded: EncodedBatch,
        report: SyncReport,
    ) -> None:
        push = client.push_readings if kind == "readings" else client.push_alerts
        try:
            ack = await push(encoded)
        except CloudError as exc:
            await self.store.write(
                partial(
                    repository.record,
                    kind=kind,
                    now=utcnow(),
                    error=str(exc),
                    sent_bytes=len(encoded.body),
                )
            )
            raise
        await self._apply(kind, batch, ack, encoded, report)

    async def _apply(
        self,
        kind: str,
        batch: repository.PersistedBatch,
        ack: BatchAck,
        encoded: EncodedBatch,
        report: SyncReport,
    ) -> None:
        if ack.batch_id != batch.batch_uuid:
            raise CloudError(f"ack for batch {ack.batch_id}, expected {batch.batch_uuid}")

        async def op(session: AsyncSession) -> int:
            now = utcnow()
            rejected = await repository.apply_ack(session, kind, batch, ack, now)
            await repository.record(
                session,
                kind,
                now,
                items=len(batch.row_ids) - rejected,
                rejected=rejected,
                sent_bytes=len(encoded.body),
            )
            return rejected

        rejected = await self.store.write(op)
        report.sent[kind] = report.sent.get(kind, 0) + len(batch.row_ids) - rejected
        report.rejected[kind] = report.rejected.get(kind, 0) + rejected
        report.bytes_sent += len(encoded.body)

    async def _next_batch(
        self, kind: str, after: repository.PersistedBatch | None = None
    ) -> tuple[repository.PersistedBatch, EncodedBatch] | None:
        """The open batch of ``kind`` (a resend) or a new one persisted now, encoded."""
        item = _ITEM[kind]
        limit_items = self.settings.sync_batch_items
        limit_bytes = self.settings.sync_batch_bytes

        async def op(session: AsyncSession) -> tuple[repository.PersistedBatch, bytes] | None:
            existing = await repository.open_batch(
                session, kind, after.db_id if after is not None else None
            )
            if existing is not None:
                items = [item(row) for row in existing.rows]
                return existing, _body(kind, existing.batch_uuid, items)
            rows = await repository.pending_rows(session, kind, limit_items)
            if not rows:
                return None
            batch_uuid = uuid4()
            items = [item(row) for row in rows]
            body = _body(kind, batch_uuid, items)
            while len(body) > limit_bytes and len(items) > 1:
                # Rare (rows are small): shrink to fit the byte bound, keeping the oldest rows.
                keep = max(1, int(len(items) * limit_bytes / len(body) * 0.95))
                items = items[:keep]
                body = _body(kind, batch_uuid, items)
            ids = [row[0] for row in rows[: len(items)]]
            db_id = await repository.create_batch(session, kind, batch_uuid, ids, utcnow())
            return repository.PersistedBatch(db_id, batch_uuid, ids, ()), body

        built = await self.store.write(op)
        if built is None:
            return None
        batch, raw = built
        return batch, await asyncio.to_thread(_gzip, raw)

    # --- node inventory ------------------------------------------------------------------

    async def _push_nodes(
        self, client: CloudClient, report: SyncReport, *, only_if_unregistered: bool = False
    ) -> None:
        async with self.store.read() as session:
            nodes = list(await nodes_service.paired_nodes(session))
        if only_if_unregistered:
            if all(n.cloud_registered for n in nodes):
                return
        elif not any(n.sync_state == SyncState.PENDING for n in nodes):
            return
        inventory = NodeInventory(nodes=[_node_info(n) for n in nodes])
        ack = await client.push_nodes(inventory)
        refused = {
            nodes[r.index].mac: f"{r.reason.value}: {r.message}"
            for r in ack.rejected
            if 0 <= r.index < len(nodes)
        }

        async def op(session: AsyncSession) -> None:
            await repository.mark_nodes_synced(session, {n.mac: refused.get(n.mac) for n in nodes})
            await repository.record(
                session, "nodes", utcnow(), items=len(nodes) - len(refused), rejected=len(refused)
            )

        await self.store.write(op)
        report.sent["nodes"] = len(nodes) - len(refused)
        report.rejected["nodes"] = len(refused)

    # --- plant edits ---------------------------------------------------------------------

    async def _push_plant_edits(self, client: CloudClient, report: SyncReport) -> None:
        async with self.store.read() as session:
            edits = await repository.pending_plant_edits(session)
        if not edits:
            return
        batch = PlantEditBatch(
            edits=[
                PlantEdit(
                    edit_id=UUID(edit.id),
                    plant_id=UUID(edit.plant_id),
                    base_revision=edit.base_revision,
                    edited_at=edit.edited_at,
                    changes=PlantChanges.model_validate_json(edit.changes),
                )
                for edit in edits
            ]
        )
        ack = await client.push_plant_edits(batch)
        now = utcnow()

        async def op(session: AsyncSession) -> int:
            refused = 0
            for result in ack.results:
                if result.outcome is not PlantEditOutcome.APPLIED:
                    refused += 1
                await settle_plant_edit(session, result, now)
            await repository.record(
                session, "plant_edits", now, items=len(ack.results) - refused, rejected=refused
            )
            return refused

        refused = await self.store.write(op)
        report.sent["plant_edits"] = len(ack.results) - refused
        if refused:
            report.rejected["plant_edits"] = refused

    # --- config --------------------------------------------------------------------------

    async def _pull_config(self, client: CloudClient, report: SyncReport) -> None:
        async with self.store.read() as session:
            current = await kv.get(session, kv.CONFIG_REVISION)
        snapshot = await client.pull_config(int(current) if current is not None else None)
        if snapshot is None:
            await self.store.write(partial(repository.record, kind="config", now=utcnow()))
            return
        changed = await self.store.write(lambda s: apply_snapshot(s, snapshot))
        report.sent["config"] = snapshot.revision
        if changed and self.gateway is not None:
            await self.gateway.reload_nodes()
            for mac in changed:
                with contextlib.suppress(KeyError):  # a node no longer paired: nothing to write
                    await self.gateway.request_session(mac)

    # --- diagnoses -----------------------------------------------------------------------

    async def _pull_diagnoses(self, client: CloudClient, report: SyncReport) -> None:
        async with self.store.read() as session:
            etag = await kv.get(session, diagnoses_service.ETAG_KEY)
        pulled = await client.pull_diagnoses(etag)
        if pulled is None:
            await self.store.write(partial(repository.record, kind="diagnoses", now=utcnow()))
            return
        digest, new_etag = pulled

        async def op(session: AsyncSession) -> int:
            count = await diagnoses_service.apply_digest(session, digest, new_etag)
            await repository.record(session, "diagnoses", utcnow(), items=count)
            return count

        report.sent["diagnoses"] = await self.store.write(op)

    # --- images --------------------------------------------------------------------------

    async def _images(self, state: UploadState) -> list[Image]:
        async with self.store.read() as session:
            return list(await images_service.pending_uploads(session, state))

    async def _slot_request(self, image: Image) -> ImageSlotRequest | None:
        async with self.store.read() as session:
            node = await session.get(Node, image.node_id) if image.node_id else None
            plant = await session.get(Plant, image.plant_id) if image.plant_id else None
        mac = node.mac if node else (plant.node_mac if plant else None)
        if mac is None:
            return None
        return ImageSlotRequest(
            node_mac=mac,
            plant_id=UUID(plant.id) if plant and plant.origin == "cloud" else None,
            captured_at=image.captured_at,
            byte_size=image.byte_size,
            sha256=image.sha256,
            content_type="image/png" if image.content_type == "image/png" else "image/jpeg",
            metrics=ImageMetrics.model_validate_json(image.metrics) if image.metrics else None,
        )

    async def _mark_image(self, image_id: str, **values: Any) -> None:
        async def op(session: AsyncSession) -> None:
            row = await session.get(Image, image_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)
                session.add(row)
                await session.flush()

        await self.store.write(op)

    async def _ask_slot(self, client: CloudClient, image: Image) -> ImageSlot | None:
        request = await self._slot_request(image)
        if request is None:
            await self._mark_image(
                image.id,
                sync_state=SyncState.REJECTED,
                reject_reason="no node: assign the plant to a node to sync its photos",
            )
            return None
        try:
            slot = await client.image_slot(request)
        except CloudError as exc:
            if exc.retryable or exc.status in (401, 403):
                raise
            await self._mark_image(
                image.id, sync_state=SyncState.REJECTED, reject_reason=str(exc)[:500]
            )
            return None
        if slot.complete:
            await self._mark_image(
                image.id,
                sync_state=SyncState.SYNCED,
                upload_state=UploadState.COMPLETE.value,
                cloud_image_id=str(slot.image_id),
            )
            return None
        self._slots[image.id] = slot
        await self._mark_image(
            image.id, upload_state=UploadState.UPLOAD.value, cloud_image_id=str(slot.image_id)
        )
        return slot

    async def _image_slots(self, client: CloudClient, report: SyncReport) -> None:
        count = 0
        for image in await self._images(UploadState.SLOT):
            await self._ask_slot(client, image)
            count += 1
        if count:
            await self.store.write(
                partial(repository.record, kind="image_slots", now=utcnow(), items=count)
            )
            report.sent["image_slots"] = count

    async def _image_bytes(self, client: CloudClient, report: SyncReport) -> None:
        settings = self.settings
        for image in await self._images(UploadState.UPLOAD):
            slot = self._slots.pop(image.id, None)
            if slot is None or (slot.expires_at is not None and slot.expires_at <= utcnow()):
                # After a restart the URL is gone: ask again (the cloud keeps the image id).
                slot = await self._ask_slot(client, image)
                self._slots.pop(image.id, None)
                if slot is None:
                    continue
            data = await asyncio.to_thread(self.store.images.read, image.path)
            chunks = throttled(
                data, settings.image_upload_chunk_bytes, settings.image_upload_bytes_per_s
            )
            try:
                await client.upload(slot, data, image.content_type, chunks)
                ack = await client.complete_image(slot.image_id)
            except CloudError as exc:
                await self.store.write(
                    partial(repository.record, kind="image_bytes", now=utcnow(), error=str(exc))
                )
                raise
            if ack.sha256 != image.sha256:
                raise CloudError(f"cloud holds a different image for {image.id}")
            await self._mark_image(
                image.id,
                sync_state=SyncState.SYNCED,
                upload_state=UploadState.COMPLETE.value,
                cloud_image_id=str(ack.image_id),
                bytes_sent=len(data),
            )
            await self.store.write(
                partial(
                    repository.record,
                    kind="image_bytes",
                    now=utcnow(),
                    items=1,
                    sent_bytes=len(data),
                )
            )
            report.sent["image_bytes"] = report.sent.get("image_bytes", 0) + 1
            report.bytes_sent += len(data)


def _node_info(node: Node) -> NodeInfo:
    battery = node.battery if node.battery is not None and 0 <= node.battery <= 100 else None
    rssi = node.rssi if node.rssi is not None and -127 <= node.rssi <= 20 else None
    return NodeInfo(
        mac=node.mac,
        kind=NodeKind(node.kind),
        name=node.name[:64] if node.name else None,
        firmware_version=node.firmware_version[:32] if node.firmware_version else None,
        battery=battery,
        rssi=rssi,
        last_seen=node.last_seen,
        config_revision_applied=node.config_revision_applied,
        dropped_adverts=node.drops_total,
        advert_counts=AdvertCounts(**{k: max(0, v) for k, v in node.advert_counts().items()}),
    )


async def settle_plant_edit(session: AsyncSession, result: PlantEditResult, now: datetime) -> None:
    """Mark an edit applied or lost; a lost one's plant takes the cloud's version at once."""
    edit = await session.get(PlantEdit_, str(result.edit_id))
    if edit is None:
        return
    edit.settled_at = now
    if result.outcome is PlantEditOutcome.APPLIED:
        edit.sync_state = SyncState.SYNCED
    else:
        edit.sync_state = SyncState.REJECTED
        edit.reject_reason = f"{result.outcome.value}: {result.message or 'refused'}"
    session.add(edit)
    if result.current is not None:
        plant = await session.get(Plant, str(result.current.id))
        if plant is not None and (
            result.outcome is not PlantEditOutcome.APPLIED
            or not await repository.pending_plant_edits(session, plant.id)
        ):
            _mirror_plant(plant, result.current, now)
            session.add(plant)
    await session.flush()


def _mirror_plant(plant: Plant, cfg: PlantConfig, now: datetime) -> None:
    plant.name = cfg.name
    plant.species_id = cfg.species_id
    plant.location = cfg.location
    plant.node_mac = cfg.node_mac
    plant.overrides = cfg.overrides.model_dump_json() if cfg.overrides else None
    plant.origin = "cloud"
    plant.cloud_revision = cfg.revision
    plant.updated_at = now


async def apply_snapshot(session: AsyncSession, snapshot: ConfigSnapshot) -> list[str]:
    """Mirror the cloud's plants, species and node configs; return MACs of paired nodes whose
    config or plant thresholds changed (their node config is written at the next session)."""
    now = utcnow()
    thresholds_before = await nodes_service.plant_thresholds(session)
    for species in snapshot.species:
        row = await session.get(Species, species.id)
        if row is None:
            row = Species(id=species.id, common_name="", scientific_name="", thresholds="{}")
        row.common_name = species.common_name
        row.scientific_name = species.scientific_name
        row.thresholds = species.thresholds.model_dump_json()
        session.add(row)
    keep = {str(p.id) for p in snapshot.plants}
    existing = {p.id: p for p in await plants_service.list_plants(session)}
    for plant_id, stale in existing.items():
        if stale.origin == "cloud" and plant_id not in keep:
            await session.delete(stale)
    await session.flush()
    editing = {edit.plant_id for edit in await repository.pending_plant_edits(session)}
    for cfg in snapshot.plants:
        plant: Plant | None = existing.get(str(cfg.id))
        if plant is None:
            plant = Plant(id=str(cfg.id), name=cfg.name, created_at=now, updated_at=now)
        elif plant.id in editing:
            continue  # the hub's edit is still on its way up: keep showing it
        _mirror_plant(plant, cfg, now)
        session.add(plant)
    await session.flush()
    for cfg in snapshot.plants:
        if cfg.node_mac is not None and str(cfg.id) not in editing:
            # Photos the node sent before this plant came down (paired first) are its photos.
            await plants_service.adopt_node_photos(session, cfg.node_mac, str(cfg.id))
    changed: list[str] = []
    for node_cfg in snapshot.nodes:
        node = await nodes_service.node_by_mac(session, node_cfg.mac)
        if node is not None and node_cfg.revision > node.config_revision:
            await nodes_service.apply_cloud_config(session, node_cfg)
            changed.append(node_cfg.mac)
    await session.flush()
    thresholds_after = await nodes_service.plant_thresholds(session)
    for mac in sorted(set(thresholds_before) | set(thresholds_after)):
        before = nodes_service.alarm_thresholds(thresholds_before.get(mac))
        after = nodes_service.alarm_thresholds(thresholds_after.get(mac))
        if before != after and mac not in changed:
            node = await nodes_service.node_by_mac(session, mac)
            if node is not None and node.paired:
                changed.append(mac)
    await kv.put(session, kv.CONFIG_REVISION, str(snapshot.revision))
    await kv.put(session, kv.HUB_ID, str(snapshot.hub_id))
    await repository.record(session, "config", now, items=1)
    return changed


async def store_stats(session: AsyncSession) -> tuple[int | None, dict[str, int], dict[str, int]]:
    """For /metrics: the oldest unacknowledged reading (epoch ms), unacknowledged rows per kind,
    and bytes sent per kind."""
    oldest = await repository.oldest_pending_reading(session)
    ledger = await repository.ledger(session)
    return (
        oldest,
        await repository.unsynced_counts(session),
        {kind: row.bytes_sent for kind, row in ledger.items()},
    )
