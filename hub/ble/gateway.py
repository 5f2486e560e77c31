"""The BLE gateway: one scanner feeding per-node BTHome decoders, batched storage, GATT sessions.

Only bleak's public API is used. Production passes no backend (bleak picks BlueZ on the Pi);
tests and the demo pass the Bumble backend bound to an emulated garden.

The detection callback is synchronous and never awaits I/O: it decodes, deduplicates burst
repeats, appends to an in-memory batch and flags nodes that want a session. Background tasks
flush the batch to the store, push node statuses, run GATT sessions (bounded by a semaphore,
never blocking scanning), and supervise the scanner (watchdog restart, backoff on adapter
errors).

Counter resets: a node's BTHome counter is persisted in flash, so a reboot continues it. If the
flash is lost the counter restarts, so sequence numbers repeat; the store scopes them to a
counter epoch (``seq_epoch``). Adverts below the last accepted counter are dropped as replays
(counted per node) because an advert alone cannot tell a replay from a restarted node (the
counter is checked before the MIC, and a replayed advert authenticates). The decision is taken
over the bonded GATT link instead, where only the real node can answer: a replay-looking advert
schedules a counter check (at most once per ``counter_check_interval_s``), and any session whose
COUNT shows the node holding records while its newest seq is below the hub's last accepted one
proves the counter restarted: the store opens a new epoch, the node's records are backfilled into
it and the decoder continues from the node's newest seq. A real replay finds the node ahead of
the hub and stays dropped. Re-pairing with a new bindkey also opens a new epoch (``pair``), and
the decoder starts over: adverts under the old key no longer authenticate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError
from bleak_retry_connector import establish_connection

from hub.ble import mibeacon
from hub.ble.miflora import MiFloraPoll, PollReport
from hub.ble.ports import (
    DecodedReading,
    DropCounters,
    GatewayStore,
    NodeStatus,
    PairedNode,
    RefusedReplays,
    SeenDevice,
)
from hub.ble.session import (
    ConnectFailed,
    NodeSession,
    PartialImage,
    SessionReport,
    thresholds_applied,
)
from hub.ble.settings import GatewaySettings
from shared import ble_uuids
from shared import gatt as pv

if TYPE_CHECKING:
    # The emulated radio's backends; on the adapter the gateway never imports Bumble.
    from hub.ble.bumble_backend import BleakBackends
from shared.bthome import (
    BTHOME_V1_ENCRYPTED_UUID,
    BTHOME_V1_UUID,
    BTHomeNodeDecoder,
    Downgrade,
    Duplicate,
    Malformed,
    Replay,
    UnsupportedDevice,
    UnsupportedObject,
    WrongKey,
)
from shared.metrics import Metric
from shared.sync import NodeKind, ReadingSource

logger = logging.getLogger(__name__)

_BTHOME = ble_uuids.BTHOME_SERVICE_UUID
_PLANT_VITA = ble_uuids.PLANT_VITA_SERVICE_UUID
_MIBEACON = ble_uuids.MIBEACON_SERVICE_UUID
_BTHOME_V1 = (BTHOME_V1_UUID, BTHOME_V1_ENCRYPTED_UUID)
_SCANNER_STOP_S = 5.0
_MAX_PENDING = 500_000  # readings held while the store is unavailable (never dropped silently)


@dataclass(slots=True)
class _Node:
    """The gateway's live state for one paired node."""

    paired: PairedNode
    decoder: BTHomeNodeDecoder
    drops: DropCounters = field(default_factory=DropCounters)  # since the gateway started
    pushed: DropCounters = field(default_factory=DropCounters)  # what the store has of them
    device: BLEDevice | None = None
    last_seen: datetime | None = None  # the last authenticated advert
    wrong_key_at: datetime | None = None  # the last advert that failed authentication
    rssi: int | None = None
    battery: float | None = None
    name: str | None = None
    last_seq: int | None = None  # highest seq handed to the store (in ``seq_epoch``)
    seq_epoch: int = 0  # the node's counter epoch: seqs repeat only across epochs
    counter_check: bool = False  # a replay-looking advert: ask the node for its counter
    counter_check_after: float = 0.0  # monotonic time before which no new check is scheduled
    last_plain: bytes | None = None  # last plaintext payload (sensors without a counter)
    last_plain_at: float = 0.0
    pending_flag: bool = False
    pending_holdoff: float = 0.0  # the status in adverts sent before a session is stale until then
    session_due_at: float = 0.0  # monotonic time of the next scheduled session
    retry_after: float = 0.0
    requested: bool = False
    photo_requested: bool = False  # take a photo in the next session ("Take a photo")
    acked_upto: int | None = None
    applied_revision: int | None = None
    node_config: pv.Config | None = None  # the node's Config as last read in a session
    partial_images: dict[int, PartialImage] = field(default_factory=dict)
    dirty: bool = False
    last_drop_log: float = 0.0
    # Readings the node holds that the hub has not received (counter gaps since the last
    # backfill); while above zero a session is due.
    readings_held: int = 0
    # Newest seq when a session left untimed records on the node (taken before its clock was
    # ever set); a later advert means a timed record exists to place them by.
    untimed_upto: int | None = None
    # Xiaomi (MiBeacon) devices: their decoder, product, and what the adverts carried since
    # the last GATT poll (a MiFlora whose firmware leaves a value out is polled more often).
    mibeacon: mibeacon.MiBeaconDecoder | None = None
    product_id: int | None = None
    heard_since_poll: set[Metric] = field(default_factory=set)
    polled: frozenset[Metric] = frozenset()  # what the last poll read
    poll_short_at: float = 0.0  # from then on a poll is due if adverts lacked a polled value
    firmware: str | None = None


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """How one GATT session with a node ended: its report, or the error that ended it."""

    number: int  # 0 for the node's first session since the gateway started, then 1, 2, ...
    report: SessionReport | None
    error: Exception | None
    connected: bool  # False: the connection itself failed (absent node, bounded timeout)


_OUTCOMES_KEPT = 64  # per node, for tests and diagnostics


@dataclass(slots=True)
class GatewayStats:
    """Counters for logs, metrics and tests."""

    adverts: int = 0
    readings_queued: int = 0
    readings_stored: int = 0
    duplicates: int = 0
    store_failures: int = 0
    sessions_ok: int = 0
    sessions_failed: int = 0
    scanner_starts: int = 0
    scanner_errors: int = 0
    watchdog_restarts: int = 0
    counter_restarts: int = 0


class Gateway:
    """The hub's BLE gateway; implements ``hub.ble.ports.GatewayControl``."""

    def __init__(
        self,
        store: GatewayStore,
        settings: GatewaySettings | None = None,
        backend: BleakBackends | None = None,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or GatewaySettings()
        self.backend = backend
        self.now = now or (lambda: datetime.now(UTC))
        self.stats = GatewayStats()
        self.session_reports: dict[str, list[SessionReport]] = {}
        self._outcomes: dict[str, deque[SessionOutcome]] = {}
        self._outcome_counts: dict[str, int] = {}
        self._outcome_added = asyncio.Event()
        self._nodes: dict[str, _Node] = {}
        self._seen: dict[str, SeenDevice] = {}
        self._pending: list[DecodedReading] = []
        self._flush_now = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._session_wanted = asyncio.Event()
        self._in_session: set[str] = set()
        self._semaphore = asyncio.Semaphore(self.settings.max_connections)
        self._tasks: list[asyncio.Task[None]] = []
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._last_advert = time.monotonic()
        self._scanner: BleakScanner | None = None
        self._running = False
        self._passive_failed = False
        self.radio_problem: str | None = None  # why scanning cannot run (no adapter, …)
        # One LE connection attempt at a time: controllers refuse a second pending Create
        # Connection (Bumble answers COMMAND_DISALLOWED), so a garden of due nodes would storm.
        self._connect_lock = asyncio.Lock()
        self._client_class: type[BleakClient] = (
            backend.client_class() if backend is not None else BleakClient
        )

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load paired nodes and start scanning, flushing, status pushes and sessions."""
        await self.reload_nodes()
        self._running = True
        self._last_advert = time.monotonic()
        for name, coro in (
            ("scanner", self._scan_supervisor()),
            ("flush", self._flush_loop()),
            ("status", self._status_loop()),
            ("sessions", self._session_loop()),
        ):
            self._tasks.append(asyncio.create_task(coro, name=f"gateway-{name}"))

    async def stop(self) -> None:
        """Stop scanning and sessions, then commit what is still queued."""
        self._running = False
        for task in [*self._tasks, *self._session_tasks]:
            task.cancel()
        tasks = [*self._tasks, *self._session_tasks]
        if tasks:
            # Bounded: a radio stack that does not answer must not hang the hub's shutdown.
            await asyncio.wait(tasks, timeout=10.0)
        self._tasks.clear()
        self._session_tasks.clear()
        await self._stop_scanner()
        try:
            await self._flush()
            await self._push_statuses()
        except Exception:
            logger.exception("could not commit %d readings at shutdown", len(self._pending))

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # --- GatewayControl ---------------------------------------------------------------------

    def seen_devices(self) -> Sequence[SeenDevice]:
        """Unpaired BTHome devices heard within ``seen_ttl_s``, newest first."""
        now = self.now()
        ttl = self.settings.seen_ttl_s
        fresh = [d for d in self._seen.values() if (now - d.last_seen).total_seconds() <= ttl]
        return sorted(fresh, key=lambda d: d.last_seen, reverse=True)

    async def reload_nodes(self) -> None:
        """Re-read paired nodes (after pairing, unpairing or a config change)."""
        paired = {node.mac.upper(): node for node in await self.store.paired_nodes()}
        nodes: dict[str, _Node] = {}
        for mac, node in paired.items():
            current = self._nodes.get(mac)
            # Same key: the gateway's own state is authoritative (a counter epoch with the same
            # key only ever starts in this gateway's sessions, which update that state).
            if current is not None and current.paired.bindkey == node.bindkey:
                current.paired = node
                if node.config_revision_applied is not None:
                    current.applied_revision = node.config_revision_applied
                nodes[mac] = current
                continue
            # New pairing or a new bindkey: a fresh decoder. With a new key the node's counter
            # may have restarted (pairing opened a new epoch), so the old key's replay history
            # goes: adverts under the old key no longer authenticate.
            last = node.last_seq if current is None else None
            nodes[mac] = _Node(
                paired=node,
                decoder=BTHomeNodeDecoder(
                    mac,
                    node.bindkey,
                    last_sequence=last,
                    # Third-party sensors restart their counter with a new battery.
                    strict_counter=node.kind is NodeKind.PLANTVITA,
                ),
                last_seq=last,
                seq_epoch=node.seq_epoch,
                mibeacon=mibeacon.MiBeaconDecoder(mac, node.bindkey)
                if node.kind is NodeKind.XIAOMI
                else None,
                applied_revision=node.config_revision_applied,
                session_due_at=time.monotonic(),  # first contact: set time, read config
                readings_held=node.readings_held,
            )
            self._seen.pop(mac, None)
        self._nodes = nodes
        self._session_wanted.set()

    async def request_session(self, node_mac: str) -> None:
        """Connect at the node's next connectable window."""
        node = self._nodes.get(node_mac.upper())
        if node is None:
            raise KeyError(f"node {node_mac} is not paired")
        node.requested = True
        node.retry_after = 0.0
        self._session_wanted.set()

    async def request_photo(self, node_mac: str) -> None:
        """Take a photo at the node's next connectable window and fetch it in that session."""
        node = self._nodes.get(node_mac.upper())
        if node is None:
            raise KeyError(f"node {node_mac} is not paired")
        node.photo_requested = True
        await self.request_session(node_mac)

    def readings_on_node(self, node_mac: str) -> int:
        """Readings a paired node holds that the hub has not received yet (counter gaps)."""
        return self._nodes[node_mac.upper()].readings_held

    def drops(self, node_mac: str) -> DropCounters:
        """A paired node's dropped-advert counters."""
        return self._nodes[node_mac.upper()].drops

    # --- the detection callback (hot path, synchronous) ---------------------------------------

    def on_advertisement(self, device: BLEDevice, adv: AdvertisementData) -> None:
        """bleak's detection callback: decode, dedupe, queue. Never awaits."""
        self._last_advert = time.monotonic()
        self.stats.adverts += 1
        uuid = _BTHOME
        service_data = adv.service_data.get(_BTHOME)
        if service_data is None:
            xiaomi = adv.service_data.get(_MIBEACON)
            if xiaomi is not None:
                self._on_mibeacon(device, adv, xiaomi)
                return
            for uuid in _BTHOME_V1:
                service_data = adv.service_data.get(uuid)
                if service_data is not None:
                    break
            else:
                return
        mac = device.address.upper()
        node = self._nodes.get(mac)
        if node is None:
            self._saw_unpaired(mac, adv, service_data, uuid)
            return
        try:
            advert = node.decoder.decode(
                service_data,
                rssi=adv.rssi,
                name=adv.local_name,
                status=adv.service_data.get(_PLANT_VITA),
                uuid=uuid,
            )
        except Duplicate:
            node.drops.duplicate += 1  # a resend with the same packet id (Shelly BLU)
            self.stats.duplicates += 1
            node.dirty = True
            return
        except UnsupportedObject:
            node.drops.unsupported_object += 1
            self._dropped(node, "unsupported object")
            return
        except UnsupportedDevice:
            node.drops.unsupported_device += 1
            self._dropped(node, "unsupported device")
            return
        except Malformed:
            node.drops.malformed += 1
            self._dropped(node, "malformed")
            return
        except WrongKey:
            node.drops.wrong_key += 1
            node.wrong_key_at = self.now()
            self._dropped(node, "wrong key")
            return
        except Replay:
            node.drops.replayed += 1
            self._dropped(node, "replayed")
            self._want_counter_check(node, device)
            return
        except Downgrade:
            node.drops.wrong_key += 1  # unauthenticated: the node's key was not used
            self._dropped(node, "plaintext from an encrypted node")
            return
        now = self.now()
        node.device = device
        node.last_seen = now
        node.rssi = adv.rssi
        node.dirty = True
        if adv.local_name:
            node.name = adv.local_name
        battery = advert.values.get(Metric.BATTERY)
        if battery is not None:
            node.battery = battery
        if advert.pending and time.monotonic() >= node.pending_holdoff:
            node.pending_flag = True
            self._session_wanted.set()
        elif node.requested or self._session_due(node):
            self._session_wanted.set()
        seq = advert.sequence
        if seq is not None:
            strict = node.paired.kind is NodeKind.PLANTVITA
            if node.last_seq is not None and (
                seq <= node.last_seq if strict else seq == node.last_seq
            ):
                self.stats.duplicates += 1  # a burst or connectable-window repeat
                node.drops.duplicate += 1
                return
            if strict and node.last_seq is not None and seq > node.last_seq + 1:
                # Missed measurements: the node still holds them, fetch them over GATT.
                node.readings_held += seq - node.last_seq - 1
                node.session_due_at = 0.0
                self._session_wanted.set()
            if node.untimed_upto is not None and seq > node.untimed_upto:
                # Measured with its clock set: now the untimed records it holds can be placed.
                node.untimed_upto = None
                node.session_due_at = 0.0
                self._session_wanted.set()
            node.last_seq = seq
        else:
            mono = time.monotonic()
            if service_data == node.last_plain and mono - node.last_plain_at < 30.0:
                self.stats.duplicates += 1
                node.drops.duplicate += 1
                return
            node.last_plain, node.last_plain_at = service_data, mono
        node.drops.stored += 1
        for channel, values in advert.by_channel().items():
            self._pending.append(
                DecodedReading(
                    node_mac=mac,
                    measured_at=now,
                    values=values,
                    seq=seq,
                    rssi=adv.rssi,
                    seq_epoch=node.seq_epoch,
                    channel=channel,
                )
            )
            self.stats.readings_queued += 1
        if len(self._pending) >= self.settings.flush_max_batch:
            self._flush_now.set()

    def _on_mibeacon(self, device: BLEDevice, adv: AdvertisementData, service_data: bytes) -> None:
        """A Xiaomi MiBeacon advert (MiFlora and relatives), decoded through xiaomi-ble."""
        mac = device.address.upper()
        node = self._nodes.get(mac)
        if node is None or node.mibeacon is None:
            if node is None:
                self._saw_unpaired_xiaomi(mac, adv, service_data)
            return
        try:
            advert = node.mibeacon.decode(service_data, rssi=adv.rssi, name=adv.local_name)
        except Duplicate:
            node.drops.duplicate += 1  # a MiFlora repeats each frame many times
            self.stats.duplicates += 1
            node.dirty = True
            return
        except UnsupportedObject:
            node.drops.unsupported_object += 1
            self._dropped(node, "unsupported object")
            return
        except UnsupportedDevice:
            node.drops.unsupported_device += 1
            self._dropped(node, "unsupported device")
            return
        except Malformed:
            node.drops.malformed += 1
            self._dropped(node, "malformed")
            return
        except WrongKey:
            node.drops.wrong_key += 1
            node.wrong_key_at = self.now()
            self._dropped(node, "wrong key")
            return
        except Replay:
            node.drops.replayed += 1
            self._dropped(node, "replayed")
            return
        node.device = device
        node.last_seen = self.now()
        node.rssi = adv.rssi
        node.dirty = True
        node.product_id = advert.product_id
        if adv.local_name:
            node.name = adv.local_name
        battery = advert.values.get(Metric.BATTERY)
        if battery is not None:
            node.battery = battery
        node.heard_since_poll.update(advert.values)
        if self._poll_due(node):
            self._session_wanted.set()
        node.drops.stored += 1
        self._pending.append(
            DecodedReading(
                node_mac=mac,
                measured_at=node.last_seen,
                values=advert.values,
                seq=None,  # MiBeacon counters wrap (8 bits plain) and restart: time is the key
                rssi=adv.rssi,
            )
        )
        self.stats.readings_queued += 1
        if len(self._pending) >= self.settings.flush_max_batch:
            self._flush_now.set()

    def _saw_unpaired_xiaomi(self, mac: str, adv: AdvertisementData, service_data: bytes) -> None:
        try:
            frame = mibeacon.parse_frame(service_data)
        except Malformed:
            return
        if frame.model is None:
            return  # not a device the hub could read: not offered for pairing
        previous = self._seen.get(mac)
        self._seen[mac] = SeenDevice(
            mac=mac,
            name=adv.local_name or (previous.name if previous else None),
            rssi=adv.rssi,
            last_seen=self.now(),
            encrypted=frame.encrypted,
            plantvita=False,
            kind=NodeKind.XIAOMI,
            model=frame.model,
        )

    def _saw_unpaired(
        self, mac: str, adv: AdvertisementData, service_data: bytes, uuid: str
    ) -> None:
        previous = self._seen.get(mac)
        plantvita = (
            _PLANT_VITA in adv.service_data
            or _PLANT_VITA in adv.service_uuids
            or bool(previous and previous.plantvita)
        )
        self._seen[mac] = SeenDevice(
            mac=mac,
            name=adv.local_name or (previous.name if previous else None),
            rssi=adv.rssi,
            last_seen=self.now(),
            encrypted=uuid == BTHOME_V1_ENCRYPTED_UUID
            or (uuid == _BTHOME and bool(service_data and service_data[0] & 0x01)),
            plantvita=plantvita,
            kind=NodeKind.PLANTVITA if plantvita else NodeKind.BTHOME,
        )

    def _dropped(self, node: _Node, reason: str) -> None:
        node.dirty = True
        mono = time.monotonic()
        if mono - node.last_drop_log >= self.settings.drop_log_interval_s:
            node.last_drop_log = mono
            logger.debug(
                "dropped %s advert from %s (drops so far: %s)", reason, node.paired.mac, node.drops
            )

    def _want_counter_check(self, node: _Node, device: BLEDevice) -> None:
        # Only the bonded node can say whether its counter restarted; a replayer cannot answer.
        if node.paired.kind is not NodeKind.PLANTVITA or not self.settings.sessions_enabled:
            return
        if not node.counter_check:
            mono = time.monotonic()
            if mono < node.counter_check_after:
                return
            node.counter_check = True
            node.counter_check_after = mono + self.settings.counter_check_interval_s
        if node.device is None:
            node.device = device  # after a hub restart a reset node's adverts all look replayed
        if self._session_due(node):  # also after a failed check, once its retry delay passed
            self._session_wanted.set()

    def _poll_due(self, node: _Node) -> bool:
        # A MiFlora is polled at first contact (battery and firmware), then once a day, or
        # every ``xiaomi_poll_interval_s`` while its adverts leave out a value the poll reads.
        if not self.settings.sessions_enabled or node.device is None:
            return False
        if node.product_id not in mibeacon.POLLED_PRODUCT_IDS:
            return False
        if node.paired.mac in self._in_session:
            return False
        mono = time.monotonic()
        if mono < node.retry_after:
            return False
        missing = bool(node.polled - node.heard_since_poll - {Metric.BATTERY})
        return (
            node.requested
            or mono >= node.session_due_at
            or (missing and mono >= node.poll_short_at)
        )

    async def _poll(self, node: _Node) -> None:
        mac = node.paired.mac
        try:
            async with self._semaphore:
                report = await self._run_poll(node)
            mono = time.monotonic()
            node.requested = False
            node.retry_after = 0.0
            node.heard_since_poll = set()
            node.polled = frozenset(report.values)
            node.session_due_at = mono + self.settings.xiaomi_battery_poll_s
            node.poll_short_at = mono + self.settings.xiaomi_poll_interval_s
            node.battery = report.battery
            node.firmware = report.firmware
            node.last_seen = self.now()
            node.dirty = True
            self._pending.append(
                DecodedReading(
                    node_mac=mac,
                    measured_at=node.last_seen,
                    values=report.values,
                    seq=None,
                    source=ReadingSource.POLL,
                    rssi=node.rssi,
                )
            )
            self.stats.readings_queued += 1
            self._flush_now.set()
            self.stats.sessions_ok += 1
            logger.info("poll of %s: %s", mac, report)
            self._session_ended(mac, None, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.sessions_failed += 1
            node.retry_after = time.monotonic() + self.settings.session_retry_s
            logger.warning("poll of %s failed: %s: %s", mac, type(exc).__name__, exc)
            self._session_ended(mac, None, exc)
        finally:
            self._in_session.discard(mac)
            self._session_wanted.set()

    async def _run_poll(self, node: _Node) -> PollReport:
        device = node.device
        assert device is not None
        settings = self.settings
        client_kwargs: dict[str, Any] = {}
        if settings.adapter:
            client_kwargs["bluez"] = {"adapter": settings.adapter}
        try:
            async with (
                self._connect_lock,
                asyncio.timeout(settings.connect_timeout_s * settings.connect_attempts + 1),
            ):
                client = await establish_connection(
                    self._client_class,
                    device,
                    node.name or node.paired.mac,
                    max_attempts=settings.connect_attempts,
                    timeout=settings.connect_timeout_s,
                    **client_kwargs,
                )
        except Exception as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        try:
            async with asyncio.timeout(settings.session_timeout_s):
                return await MiFloraPoll(client, op_timeout_s=settings.op_timeout_s).run()
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()

    def _session_due(self, node: _Node) -> bool:
        if not self.settings.sessions_enabled:
            return False
        if node.mibeacon is not None:
            return self._poll_due(node)
        if node.paired.kind is not NodeKind.PLANTVITA or node.paired.mac in self._in_session:
            return False
        mono = time.monotonic()
        if mono < node.retry_after:
            return False
        wanted = node.paired.config
        config_stale = (wanted is not None and wanted.revision != node.applied_revision) or (
            node.node_config is not None
            and not thresholds_applied(node.paired.thresholds, node.node_config)
        )
        return (
            node.requested
            or node.pending_flag
            or node.counter_check
            or config_stale
            or node.readings_held > 0
            or mono >= node.session_due_at
        )

    # --- storage ----------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        backoff = self.settings.flush_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), backoff)
            self._flush_now.clear()
            try:
                await self._flush()
                backoff = self.settings.flush_interval_s
            except Exception:
                self.stats.store_failures += 1
                logger.exception("storing readings failed; keeping them and retrying")
                backoff = min(backoff * 2, 10.0)

    async def _flush(self) -> None:
        # One flusher at a time: an explicit flush waits for a batch already being committed.
        async with self._flush_lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        size = self.settings.flush_max_batch
        while self._pending:
            # Bounded transactions: a backlog is committed in slices, oldest first.
            batch, self._pending = self._pending[:size], self._pending[size:]
            try:
                replays = await self.store.store_readings(batch)
            except BaseException:
                # Put them back in front: nothing decoded is ever lost to a store hiccup.
                self._pending[:0] = batch
                if len(self._pending) > _MAX_PENDING:
                    logger.error("%d readings waiting for the store", len(self._pending))
                raise
            self.stats.readings_stored += len(batch)
            for mac, refused in (replays or {}).items():
                self._refused_replays(mac, refused)

    def _refused_replays(self, mac: str, refused: RefusedReplays) -> None:
        # Adverts of an earlier epoch under the same key authenticate and can carry seqs above
        # the restarted counter; the store recognised them by their values. Count them and
        # resume from what is really stored, so the node's own next adverts are not refused.
        node = self._nodes.get(mac)
        if node is None:
            return
        # Queued as stored, refused by the store: each ends as a replay instead.
        node.drops.stored -= refused.count
        node.drops.replayed += refused.count
        node.dirty = True
        node.last_seq = refused.last_seq
        node.decoder = BTHomeNodeDecoder(
            mac, node.paired.bindkey, last_sequence=refused.last_seq, strict_counter=True
        )
        logger.warning("%s: %d replayed adverts of an earlier epoch refused", mac, refused.count)

    async def flush(self) -> None:
        """Commit everything decoded so far (tests and shutdown)."""
        await self._flush()

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.status_interval_s)
            self._forget_stale_devices()
            try:
                await self._push_statuses()
            except Exception:
                logger.exception("pushing node statuses failed")

    def _forget_stale_devices(self) -> None:
        # Bounded memory in a busy neighbourhood: unpaired devices expire after the TTL.
        now = self.now()
        ttl = self.settings.seen_ttl_s
        for mac, device in list(self._seen.items()):
            if (now - device.last_seen).total_seconds() > ttl:
                del self._seen[mac]

    async def _push_statuses(self) -> None:
        statuses: list[NodeStatus] = []
        pushed: list[tuple[_Node, DropCounters]] = []
        for node in self._nodes.values():
            counted = node.drops.minus(node.pushed)
            if not node.dirty or (node.last_seen is None and counted == DropCounters()):
                continue
            node.dirty = False
            pushed.append((node, replace(node.drops)))
            statuses.append(
                NodeStatus(
                    node_mac=node.paired.mac,
                    # Never "now" for a node only heard failing: it was not seen as itself.
                    last_seen=node.last_seen,
                    wrong_key_at=node.wrong_key_at,
                    rssi=node.rssi,
                    battery=node.battery,
                    name=node.name,
                    drops=counted,
                    readings_held=node.readings_held,
                    firmware_version=node.firmware,
                )
            )
        if statuses:
            try:
                await self.store.update_node_status(statuses)
            except BaseException:
                for node, _snapshot in pushed:
                    node.dirty = True  # the counts go with the next push
                raise
            for node, snapshot in pushed:
                node.pushed = snapshot

    async def push_statuses(self) -> None:
        """Push node statuses now (tests)."""
        await self._push_statuses()

    # --- scanning ---------------------------------------------------------------------------

    def _make_scanner(self) -> BleakScanner:
        passive = self.settings.passive_scan and not self._passive_failed
        kwargs: dict[str, Any] = {}
        if self.backend is not None:
            kwargs["backend"] = self.backend.scanner
        else:
            bluez: dict[str, Any] = {}
            if self.settings.adapter:
                bluez["adapter"] = self.settings.adapter
            if passive:
                from bleak.assigned_numbers import AdvertisementDataType
                from bleak.backends.bluezdbus.advertisement_monitor import OrPattern

                # BlueZ passive scanning needs patterns: BTHome v2 service data (0xFCD2),
                # v1 (0x181C plaintext, 0x181E encrypted) and Xiaomi MiBeacon (0xFE95).
                bluez["or_patterns"] = [
                    OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, uuid16)
                    for uuid16 in (b"\xd2\xfc", b"\x1c\x18", b"\x1e\x18", b"\x95\xfe")
                ]
            kwargs["bluez"] = bluez
        return BleakScanner(
            self.on_advertisement, scanning_mode="passive" if passive else "active", **kwargs
        )

    async def _stop_scanner(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            # Bounded: an adapter (or emulated radio) that never answers the scan-disable
            # command must not hang a scanner restart or the hub's shutdown.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_SCANNER_STOP_S):
                    await scanner.stop()

    def _a_node_is_overdue(self) -> bool:
        """Whether the silence says the scanner stopped hearing, not that the garden sleeps.

        A Plant-Vita node advertises once per sampling interval (10 minutes by default) and
        sleeps between: a garden whose nodes all sleep is quiet for minutes, and restarting the
        scanner then only fills the log. So the silence counts once a node heard before has
        missed its own cadence by half an interval, or a node of unknown cadence (a third-party
        sensor, which advertises every few seconds) went quiet, or no node was heard at all.
        A node in a GATT session is not advertising and is not overdue.
        """
        now = self.now()
        heard = False
        for mac, node in self._nodes.items():
            if node.last_seen is None or mac in self._in_session:
                continue
            heard = True
            cadence = self._cadence_s(node)
            if cadence is None or (now - node.last_seen).total_seconds() > 1.5 * cadence:
                return True
        return not heard

    @staticmethod
    def _cadence_s(node: _Node) -> float | None:
        # The interval the node samples and advertises at (garden seconds: ``self.now``'s).
        if node.paired.kind is not NodeKind.PLANTVITA:
            return None
        if node.node_config is not None:
            return float(node.node_config.sampling_interval_s)
        if node.paired.config is not None:
            return float(node.paired.config.sampling_interval_s)
        return float(pv.Config().sampling_interval_s)

    async def _scan_supervisor(self) -> None:
        backoff = self.settings.scan_backoff_s
        watchdog = self.settings.watchdog_s
        failures = 0
        while True:
            try:
                scanner = self._make_scanner()
                await scanner.start()
                self._scanner = scanner
                self.stats.scanner_starts += 1
                if self.radio_problem is not None:
                    logger.warning("Bluetooth scanning runs again")
                self.radio_problem = None
                self._last_advert = time.monotonic()
                backoff = self.settings.scan_backoff_s
                failures = 0
                while True:
                    await asyncio.sleep(min(watchdog / 4, 5.0))
                    silence = time.monotonic() - self._last_advert
                    if silence > watchdog and self._a_node_is_overdue():
                        self.stats.watchdog_restarts += 1
                        logger.warning(
                            "no advert for %.0fs and a node is overdue: restarting the scanner",
                            silence,
                        )
                        break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.scanner_errors += 1
                failures += 1
                problem = radio_problem(exc)
                no_adapter = problem.startswith(NO_ADAPTER)
                if (
                    self.settings.passive_scan
                    and not self._passive_failed
                    and not no_adapter
                    and failures >= 3
                ):
                    # Passive scanning needs BlueZ's advertisement monitor (experimental on
                    # older releases): fall back to active scanning rather than hear nothing.
                    self._passive_failed = True
                    logger.warning("passive scanning unavailable; scanning actively instead")
                if problem != self.radio_problem:
                    # Once per new problem: a hub without an adapter must not fill its log.
                    logger.warning("%s; retrying (next try in %.0fs)", problem, backoff)
                else:
                    logger.debug("scanner still failing (%s)", exc)
                self.radio_problem = problem
                await self._stop_scanner()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.scan_backoff_max_s)
                continue
            await self._stop_scanner()

    # --- GATT sessions ----------------------------------------------------------------------

    async def _session_loop(self) -> None:
        while True:
            await self._session_wanted.wait()
            self._session_wanted.clear()
            for node in list(self._nodes.values()):
                if node.device is None or not self._session_due(node):
                    continue
                self._in_session.add(node.paired.mac)
                run = self._poll(node) if node.mibeacon is not None else self._session(node)
                task = asyncio.create_task(run, name=f"session-{node.paired.mac}")
                self._session_tasks.add(task)
                task.add_done_callback(self._session_tasks.discard)

    async def _session(self, node: _Node) -> None:
        mac = node.paired.mac
        # Gaps seen from here on may be newer than what this session's backfill asks for:
        # only those seen before it are settled by its success.
        held_before = node.readings_held
        try:
            async with self._semaphore:
                report = await self._run_session(node)
            node.pending_flag = False
            node.pending_holdoff = time.monotonic() + self.settings.session_retry_s
            node.requested = False
            if report.photo_asked:
                node.photo_requested = False
            node.counter_check = False
            if report.seq_epoch is not None and report.seq_epoch != node.seq_epoch:
                self._counter_restarted(node, report)
            node.retry_after = 0.0
            node.readings_held = max(0, node.readings_held - held_before)
            node.dirty = True
            if report.acked_upto is not None and node.last_seq is not None:
                # What was backfilled is no gap: the next advert continues from it.
                node.last_seq = max(node.last_seq, report.acked_upto)
            # A gap seen while this session ran asks for the next one right after it.
            node.session_due_at = time.monotonic() + (
                0.0 if node.readings_held else self.settings.session_interval_s
            )
            # Records from before its clock was ever set stay on the node: the first advert
            # measured after this session (which set the clock) asks for the session that
            # places them by it.
            node.untimed_upto = report.newest_seq if report.held else None
            if report.config_revision is not None:
                node.applied_revision = report.config_revision
            if report.node_config is not None:
                node.node_config = report.node_config
            if report.acked_upto is not None:
                node.acked_upto = report.acked_upto
            self.stats.sessions_ok += 1
            self.session_reports.setdefault(mac, []).append(report)
            logger.info("session with %s: %s", mac, report)
            self._session_ended(mac, report, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.sessions_failed += 1
            node.retry_after = time.monotonic() + self.settings.session_retry_s
            logger.warning("session with %s failed: %s: %s", mac, type(exc).__name__, exc)
            self._session_ended(mac, None, exc)
        finally:
            self._in_session.discard(mac)
            self._session_wanted.set()  # a follow-up may be due (a gap seen meanwhile)

    def _session_ended(
        self, mac: str, report: SessionReport | None, error: Exception | None
    ) -> None:
        number = self._outcome_counts.get(mac, 0)
        self._outcome_counts[mac] = number + 1
        connected = not isinstance(error, ConnectFailed)
        outcomes = self._outcomes.setdefault(mac, deque(maxlen=_OUTCOMES_KEPT))
        outcomes.append(SessionOutcome(number, report, error, connected))
        # Wake every waiter, then arm a fresh event for the next outcome.
        event, self._outcome_added = self._outcome_added, asyncio.Event()
        event.set()

    def sessions_ended(self, node_mac: str) -> int:
        """How many sessions with the node ended (either way) since the gateway started."""
        return self._outcome_counts.get(node_mac.upper(), 0)

    async def session_outcome(self, node_mac: str, number: int) -> SessionOutcome:
        """Wait for the node's session number ``number`` (0-based) to end and return how.

        Waits on the gateway's own notification, not on a clock: callers bound it themselves.
        """
        mac = node_mac.upper()
        while self._outcome_counts.get(mac, 0) <= number:
            await self._outcome_added.wait()
        for outcome in self._outcomes[mac]:
            if outcome.number == number:
                return outcome
        raise LookupError(f"session {number} of {mac} is no longer kept")

    def _counter_restarted(self, node: _Node, report: SessionReport) -> None:
        # The session proved the counter restarted and stored the node's records in a new
        # epoch: accept adverts from after the node's newest record on.
        assert report.seq_epoch is not None
        newest = report.newest_seq
        node.seq_epoch = report.seq_epoch
        node.last_seq = newest
        node.acked_upto = None
        node.decoder = BTHomeNodeDecoder(
            node.paired.mac, node.paired.bindkey, last_sequence=newest, strict_counter=True
        )
        self.stats.counter_restarts += 1
        logger.warning(
            "%s restarted its counter: new sequence epoch %d from seq %s",
            node.paired.mac,
            node.seq_epoch,
            newest,
        )

    async def _run_session(self, node: _Node) -> SessionReport:
        device = node.device
        assert device is not None
        settings = self.settings
        session: NodeSession | None = None

        def disconnected(_client: BleakClient) -> None:
            if session is not None:
                session.link_lost()

        client_kwargs: dict[str, Any] = {}
        if settings.adapter:
            client_kwargs["bluez"] = {"adapter": settings.adapter}
        try:
            async with (
                self._connect_lock,
                asyncio.timeout(settings.connect_timeout_s * settings.connect_attempts + 1),
            ):
                client = await establish_connection(
                    self._client_class,
                    device,
                    node.name or mac_name(node.paired.mac),
                    disconnected_callback=disconnected,
                    max_attempts=settings.connect_attempts,
                    pair=True,
                    timeout=settings.connect_timeout_s,
                    **client_kwargs,
                )
        except Exception as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        try:
            await self.flush()  # backfill resumes after what the store has committed
            session = NodeSession(
                client,
                node.paired.mac,
                self.store,
                now=self.now,
                op_timeout_s=settings.op_timeout_s,
                wanted_config=node.paired.config,
                since_seq=None if node.acked_upto is None else node.acked_upto + 1,
                last_seq=node.last_seq,
                seq_epoch=node.seq_epoch,
                wanted_thresholds=node.paired.thresholds,
                partial_images=node.partial_images,
                image_attempts=settings.image_attempts,
                take_photo=node.photo_requested,
            )
            async with asyncio.timeout(settings.session_timeout_s):
                return await session.run()
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()


NO_ADAPTER = "no Bluetooth adapter available"
# What bleak/BlueZ say when there is no radio to use (not: a missing passive-scan monitor,
# which the supervisor answers by scanning actively).
_NO_ADAPTER_HINTS = (
    "no bluetooth adapter",
    "bluetooth adapters found",
    "adapter not found",
    "no such adapter",
    "org.freedesktop.dbus.error.serviceunknown",  # bluetoothd is not running
    "not powered",
)
# bleak, when the configured adapter (PLANTVITA_HUB_BLE_ADAPTER) is not there.
_MISSING_ADAPTER = re.compile(r"adapter '[^']*' not found")


def radio_problem(exc: BaseException) -> str:
    """One line a gardener can act on for a scanner that cannot start."""
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if (
        isinstance(exc, BleakBluetoothNotAvailableError | FileNotFoundError)
        or any(h in lowered for h in _NO_ADAPTER_HINTS)
        or _MISSING_ADAPTER.search(lowered)
    ):
        return f"{NO_ADAPTER} ({text[:160]})"
    return f"Bluetooth scanning fails ({text[:160]})"


def mac_name(mac: str) -> str:
    """A fallback display name for logs."""
    return "PV-" + mac.replace(":", "")[-6:]
