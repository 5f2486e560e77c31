"""An emulated Plant-Vita node: the firmware's behaviour on a Bumble host stack.

Each wake it measures, advances its persisted BTHome counter (= the measurement's sequence
number), stores a record, maybe takes a photo, and advertises an encrypted BTHome burst with
a scan response carrying its name and status; it then stays connectable for its window. Over
GATT it serves the Plant-Vita service of docs/protocol.md: Info, Config (with revision), Time,
Control Point (REPORT_SINCE, ACK_UPTO, COUNT, CAPTURE, IMG_LIST, IMG_GET, IMG_DELETE, ABORT),
Records, ImageData, plus Battery and Device Information. Every measurement it produced is kept
in ``log`` (and every photo it served in ``served``) so tests can compare what reached the hub
(and the cloud) against it. With a state file, a journal beside it (``journal.py``) keeps that
log and the flash (records, photos) across the death of the process the node runs in.

Faults a test can inject: reboot with the counter kept or lost, silence, out of range (still
measuring), dropping the link part-way through an image, corrupting one image chunk, and
garbage adverts, advertising during a connection and adverts that go unheard.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from bumble import att, gatt
from bumble.device import Connection, Device

from hub.ble.bumble_backend import BumbleRadio
from hub.ble.emulator.clock import SimClock
from hub.ble.emulator.environment import PlantEnvironment
from hub.ble.emulator.journal import JournalMeasurement, NodeJournal
from hub.ble.emulator.photos import draw_plant_photo
from shared import ble_uuids
from shared import gatt as pv
from shared.bthome import (
    EncryptionCounter,
    NodeStatus,
    advert_values,
    build_adv_data,
    build_scan_response,
    default_node_name,
    encode_service_data,
    encrypt_service_data,
    node_advert,
)
from shared.metrics import Metric

logger = logging.getLogger(__name__)

FIRMWARE_VERSION = "1.0.0-emu"
RECORD_CAPACITY = 4096
MAX_IMAGES = 8
MAX_IMAGE_SIZE = 64 * 1024
POWER_ON_ATTEMPTS = 3
POWER_ON_TIMEOUT_S = 10.0  # an in-process controller answers in milliseconds
STOP_STEP_S = 2.0  # each step of powering off (a stuck one is abandoned, not awaited)
_APP_ERROR_VALUE_NOT_ALLOWED = 0x80  # protocol.md §3.2: invalid Config write
# A Control Point request whose answer would go to a characteristic the hub has not subscribed
# to (Core Specification Supplement, common profile error 0xFD), as the firmware refuses it.
_ATT_ERROR_CCCD_IMPROPER = 0xFD
_CCCD_NOTIFY = 0x0001
_CCCD_INDICATE = 0x0002


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement the node produced (its own log, the ground truth for tests)."""

    seq: int
    measured_at: datetime
    values: dict[Metric, float]
    incarnation: int = 0  # flash losses before it: (incarnation, seq) identifies it


@dataclass(slots=True)
class StoredImage:
    """A photo in the node's flash."""

    image_id: int
    data: bytes
    epoch: int

    @property
    def entry(self) -> pv.ImageEntry:
        """Its IMG_LIST entry."""
        return pv.ImageEntry(self.image_id, len(self.data), pv.crc32(self.data), self.epoch)


@dataclass(slots=True)
class NodeFaults:
    """Misbehaviour switches; each one-shot fault clears itself once it fired."""

    silent: bool = False  # no wakes, no adverts, not connectable
    out_of_range: bool = False  # keeps measuring into its records, but the hub cannot hear it
    drop_link_after_bytes: int | None = None  # disconnect once this many image bytes went out
    corrupt_next_chunk: bool = False  # flip a byte in the next ImageData chunk
    ignore_acks: bool = False  # keep records after ACK_UPTO (a buggy flash driver)
    ack_delay_s: float = 0.0  # real seconds ACK_UPTO takes (a slow flash erase)
    advertise_while_connected: bool = False  # BLE 4.1+ controllers may go on advertising
    skip_adverts: int = 0  # the next N measurements go unheard (interference); counts down


@dataclass(slots=True)
class _Flash:
    """What survives a reboot: the counter, the config, the record store and the images."""

    counter: EncryptionCounter = field(default_factory=EncryptionCounter)
    config: pv.Config = field(default_factory=pv.Config)
    records: deque[pv.Record] = field(default_factory=lambda: deque(maxlen=RECORD_CAPACITY))
    images: dict[int, StoredImage] = field(default_factory=dict)
    next_image_id: int = 1


class EmulatedNode:
    """One Plant-Vita node on the emulated radio."""

    def __init__(
        self,
        radio: BumbleRadio,
        mac: str,
        bindkey: bytes,
        clock: SimClock,
        *,
        seed: int = 0,
        camera: bool = True,
        photo_every_s: float | None = 6 * 3600,
        photo_size: tuple[int, int] = (320, 240),
        min_window_real_s: float = 0.6,
        state_file: Path | None = None,
        config: pv.Config | None = None,
    ) -> None:
        self.radio = radio
        self.mac = mac.upper()
        self.bindkey = bindkey
        self.clock = clock
        self.name = default_node_name(self.mac)
        self.camera = camera
        self.photo_every_s = photo_every_s
        self.photo_size = photo_size
        self.min_window_real_s = min_window_real_s
        self.state_file = state_file
        self.seed = seed
        self.environment = PlantEnvironment(seed=seed)
        self.faults = NodeFaults()
        self.log: list[Measurement] = []
        self.served: list[tuple[int, str]] = []  # (image id, sha256) of every photo sent whole
        self.incarnation = 0
        self.acked_upto = 0
        self.flash = _Flash(config=config or pv.Config())
        self.journal = NodeJournal(state_file.with_suffix(".jsonl")) if state_file else None
        self._load_state()
        self.time_set = False  # no RTC: the clock is unset until the hub writes Time
        self.boots = 1
        self.sessions = 0  # GATT connections served
        self._clock_offset: float | None = None  # node epoch - garden epoch once set
        self._last_photo_epoch: float | None = None
        self._device: Device | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake_now = asyncio.Event()
        self._operation: asyncio.Task[None] | None = None
        self._advertising_until = 0.0
        self._connection: Connection | None = None

    # --- persistence ------------------------------------------------------------------------

    def _load_state(self) -> None:
        if self.state_file is not None and self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            self.flash.counter = EncryptionCounter(int(state["counter"]))
        if self.journal is not None:
            self._replay_journal(self.journal)

    def _replay_journal(self, journal: NodeJournal) -> None:
        # The process died with the node in it: rebuild the flash the way it was.
        state = journal.replay()
        self.incarnation = state.incarnation
        self.acked_upto = state.acked_upto
        self.served = list(state.served)
        self.log = [
            Measurement(m.seq, m.measured_at, m.values, m.incarnation) for m in state.measurements
        ]
        self.flash.records.extend(
            pv.Record(m.seq, m.epoch, m.values)
            for m in state.measurements
            if m.incarnation == state.incarnation and m.seq > state.acked_upto
        )
        for photo in state.photos.values():
            path = journal.image_path(photo.image_id)
            if path.exists():
                data = path.read_bytes()
                self.flash.images[photo.image_id] = StoredImage(photo.image_id, data, photo.epoch)
        if state.photos:
            self.flash.next_image_id = max(state.photos) % 0xFFFF + 1
        current = [m.seq for m in state.measurements if m.incarnation == state.incarnation]
        if current and max(current) > self.flash.counter.last:
            self.flash.counter = EncryptionCounter(max(current))

    def _save_state(self) -> None:
        # The counter is written to flash before the burst, so it never goes back after a reboot.
        if self.state_file is not None:
            self.state_file.write_text(json.dumps({"counter": self.flash.counter.last}))

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def counter(self) -> int:
        """The last encryption counter used (= last measurement's seq)."""
        return self.flash.counter.last

    @property
    def status(self) -> NodeStatus:
        """The scan-response status bits."""
        status = NodeStatus.NONE
        if len(self.flash.records) >= RECORD_CAPACITY * 3 // 4:
            status |= NodeStatus.STORAGE_HIGH
        if self.flash.images:
            status |= NodeStatus.IMAGE_READY
        if not self.time_set:
            status |= NodeStatus.TIME_UNSET
        return status

    async def start(self) -> None:
        """Boot: bring up the host stack and start the wake loop."""
        for attempt in range(1, POWER_ON_ATTEMPTS + 1):
            device = self.radio.add_peripheral(self.mac, self.name)
            self._build_gatt(device)
            device.on(device.EVENT_CONNECTION, self._on_connection)
            try:
                # Bumble's host waits without a bound for each HCI reply; on a loaded machine a
                # reboot's reset sequence has lost one ("no pending response future"): boot
                # again on a fresh controller instead of hanging.
                async with asyncio.timeout(POWER_ON_TIMEOUT_S):
                    await device.power_on()
                break
            except TimeoutError:
                self.radio.remove_peripheral(device)
                if attempt == POWER_ON_ATTEMPTS:
                    raise
                logger.warning("emulated node %s: power-on stalled, booting again", self.mac)
        self._device = device
        self._task = asyncio.create_task(self._run(), name=f"node-{self.mac}")

    async def stop(self) -> None:
        """Power off (the state in ``flash`` stays)."""
        task, self._task = self._task, None
        if task is not None:
            # Bounded like every step below: a wake stuck in an HCI exchange must not hang it.
            await _cancel_bounded(task)
        await self._cancel_operation()
        device = self._device
        self._device = None
        if device is not None:
            # Bounded: a half-torn-down link must not hang a test or the demo's shutdown.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_STEP_S):
                    for connection in list(device.connections.values()):
                        await connection.disconnect()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_STEP_S):
                    await device.stop_advertising()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_STEP_S):
                    await device.power_off()
            self.radio.remove_peripheral(device)

    async def reboot(self, *, keep_counter: bool = True) -> None:
        """Restart the firmware. Without ``keep_counter`` the flash was lost: counter, records,
        images and config start over (the node then needs re-pairing with a fresh bindkey)."""
        await self.stop()
        if not keep_counter:
            self.incarnation += 1
            if self.journal is not None:
                self.journal.wiped(self.incarnation, list(self.flash.images))
            self.flash = _Flash()
            self.acked_upto = 0
            if self.state_file is not None:
                self.state_file.unlink(missing_ok=True)
        self.time_set = False
        self._clock_offset = None
        self.boots += 1
        await self.start()

    async def go_silent(self) -> None:
        """Stop waking and advertising (battery pulled, out of range)."""
        self.faults.silent = True
        self._advertising_until = 0.0
        await self._stop_advertising()

    async def go_out_of_range(self) -> None:
        """Out of the hub's range: it keeps measuring into its record store, unheard."""
        self.faults.out_of_range = True
        self._advertising_until = 0.0
        await self._stop_advertising()
        device = self._device
        if device is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    for connection in list(device.connections.values()):
                        await connection.disconnect()

    def resume(self) -> None:
        """Come back after ``go_silent`` or ``go_out_of_range``."""
        self.faults.silent = False
        self.faults.out_of_range = False
        self.wake_now()

    def wake_now(self) -> None:
        """Cut the current sleep short (tests use it to get the next measurement promptly)."""
        self._wake_now.set()

    async def _run(self) -> None:
        while True:
            if not self.faults.silent:
                try:
                    await self.wake()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("emulated node %s: wake failed", self.mac)
            interval = self._interval_s()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_now.wait(), self.clock.real_seconds(interval))
            self._wake_now.clear()

    def _interval_s(self) -> float:
        config = self.flash.config
        latest = self.log[-1].values if self.log else {}
        moisture = latest.get(Metric.MOISTURE)
        temperature = latest.get(Metric.TEMPERATURE)
        alarming = (
            moisture is not None and not config.moisture_low <= moisture <= config.moisture_high
        ) or (
            temperature is not None
            and not config.temperature_low <= temperature <= config.temperature_high
        )
        # As the firmware: an alarm never makes the node report less often than normally.
        if alarming:
            return float(min(config.alert_interval_s, config.sampling_interval_s))
        return float(config.sampling_interval_s)

    def node_epoch(self) -> int:
        """The node's own clock: 0 until the hub set it."""
        if self._clock_offset is None:
            return 0
        return int(self.clock.epoch() + self._clock_offset)

    # --- a wake -----------------------------------------------------------------------------

    async def wake(self) -> Measurement:
        """Measure, store, maybe photograph, and advertise the burst."""
        now = self.clock.now()
        values = self.environment.sample(now)
        seq = self.flash.counter.next()
        self._save_state()
        measurement = Measurement(seq, now, values, self.incarnation)
        epoch = self.node_epoch()
        if self.journal is not None:
            self.journal.measured(JournalMeasurement(seq, now, epoch, self.incarnation, values))
        self.log.append(measurement)
        self.flash.records.append(pv.Record(seq, epoch, values))
        self.environment.drain(0.01)
        every = self.flash.config.camera_interval_s or self.photo_every_s
        if self.camera and every:
            due = self._last_photo_epoch is None or (
                now.timestamp() - self._last_photo_epoch >= every
            )
            if due or self._camera_time_passed(now):
                await self.capture()
        await self._advertise(node_advert(values, mac=self.mac, bindkey=self.bindkey, counter=seq))
        return measurement

    async def seed_history(
        self, span_s: float, step_s: float, photo_every_s: float | None = 86_400
    ) -> int:
        """A node that has been in the garden for ``span_s`` before this hub first hears it.

        Only on a node that never measured (no log, no journal): it takes the measurements of
        that week every ``step_s``, with the clock a hub set on it then (every record carries
        its time), into its log, journal and record store, and the photos its camera took every
        ``photo_every_s`` (at most the newest ``MAX_IMAGES``: what its flash keeps). The environment
        runs through the week as it would live (dry-downs, waterings, growth, battery), so the
        hub backfills the records and fetches the photos over GATT like any it missed. The
        number of measurements it added.
        """
        if self.log or step_s <= 0 or span_s <= 0:
            return 0
        now = self.clock.now()
        start = now - timedelta(seconds=span_s)
        steps = int(span_s // step_s)
        times = [start + timedelta(seconds=i * step_s) for i in range(steps)]
        every = photo_every_s if self.camera else None
        photo_times: set[int] = set()
        if every:
            taken = [i for i, t in enumerate(times) if (t - start).total_seconds() % every < step_s]
            photo_times = set(taken[-MAX_IMAGES:])
        for index, at in enumerate(times):
            values = self.environment.sample(at)
            seq = self.flash.counter.next()
            epoch = int(at.timestamp())
            if self.journal is not None:
                self.journal.measured(JournalMeasurement(seq, at, epoch, self.incarnation, values))
            self.log.append(Measurement(seq, at, values, self.incarnation))
            self.flash.records.append(pv.Record(seq, epoch, values))
            self.environment.drain(0.01)
            if index in photo_times:
                await self._store_photo(epoch, at)
        self._save_state()
        # It kept the time a hub set on it: its next records carry a time too.
        self._clock_offset = 0.0
        self.time_set = True
        return len(times)

    async def _store_photo(self, epoch: int, at: datetime) -> StoredImage:
        photo = await asyncio.to_thread(
            draw_plant_photo,
            self.environment.canopy,
            self.seed * 100_003 + self.flash.next_image_id,
            self.photo_size,
        )
        image = StoredImage(self.flash.next_image_id, photo, epoch)
        if self.journal is not None:
            self.journal.photo(image.image_id, image.epoch, photo, self.incarnation)
        self.flash.images[image.image_id] = image
        self.flash.next_image_id = self.flash.next_image_id % 0xFFFF + 1
        self._last_photo_epoch = at.timestamp()
        self.environment.drain(0.05)
        return image

    def _camera_time_passed(self, now: datetime) -> bool:
        # A scheduled capture minute (UTC) fell between the previous wake and this one.
        times = self.flash.config.camera_times
        if not times or len(self.log) < 2:
            return False
        before = self.log[-2].measured_at
        span = min(pv.MINUTES_PER_DAY, int((now - before).total_seconds() // 60))
        start = int(before.timestamp() // 60)
        minutes = {(start + i) % pv.MINUTES_PER_DAY for i in range(1, span + 1)}
        return any(t in minutes for t in times)

    async def capture(self) -> StoredImage | None:
        """Take a photo of the plant (drawn in a thread: Pillow blocks)."""
        if len(self.flash.images) >= MAX_IMAGES:
            return None
        return await self._store_photo(self.node_epoch(), self.clock.now())

    def _window_real_s(self) -> float:
        config = self.flash.config
        burst = config.advert_burst_count * config.advert_burst_interval_ms / 1000
        window = self.clock.real_seconds(config.connectable_window_s)
        interval = self.clock.real_seconds(self._interval_s())
        return max(burst, min(max(window, self.min_window_real_s), 0.8 * interval))

    async def _advertise(self, adv_data: bytes, scan_response: bytes | None = None) -> None:
        device = self._device
        if device is None or self.faults.silent or self.faults.out_of_range:
            return
        if self.faults.skip_adverts > 0:
            self.faults.skip_adverts -= 1
            return
        response = scan_response or build_scan_response(self.name, self.status)
        window = self._window_real_s()
        loop = asyncio.get_running_loop()
        self._advertising_until = loop.time() + window
        device.advertising_data = adv_data
        device.scan_response_data = response
        if self._connection is None or self.faults.advertise_while_connected:
            await self._start_advertising()
        loop.call_later(window, self._window_closed)

    async def _start_advertising(self) -> None:
        device = self._device
        if device is None:
            return
        interval = self.flash.config.advert_burst_interval_ms
        with contextlib.suppress(Exception):
            await device.start_advertising(
                advertising_data=device.advertising_data,
                scan_response_data=device.scan_response_data,
                advertising_interval_min=interval,
                advertising_interval_max=interval,
            )

    def _window_closed(self) -> None:
        device = self._device
        if device is None or asyncio.get_running_loop().time() < self._advertising_until - 1e-3:
            return
        if self._connection is None:
            asyncio.get_running_loop().create_task(self._stop_advertising())

    async def _stop_advertising(self) -> None:
        if self._device is not None:
            with contextlib.suppress(Exception):
                await self._device.stop_advertising()

    async def send_garbage(
        self, kind: Literal["malformed", "wrong_key", "plaintext", "replay"]
    ) -> None:
        """Broadcast a bad advert under this node's address (a broken or hostile radio)."""
        values = self.log[-1].values if self.log else {Metric.MOISTURE: 50.0}
        if kind == "malformed":
            service_data = bytes([0x41, 0x02, 0x01])  # encrypted flag but far too short
        elif kind == "wrong_key":
            service_data = encrypt_service_data(
                advert_values(values, self.counter + 1),
                mac=self.mac,
                bindkey=bytes(16),
                counter=self.counter + 1,
            )
        elif kind == "plaintext":
            service_data = encode_service_data(values)
        else:
            counter = max(1, self.counter - 5)
            service_data = encrypt_service_data(
                advert_values(values, counter), mac=self.mac, bindkey=self.bindkey, counter=counter
            )
        await self._advertise(build_adv_data(service_data))

    async def replay(self, seq: int) -> None:
        """Re-broadcast the exact advert of an earlier measurement (a recorded, replayed advert)."""
        old = next(m for m in self.log if m.seq == seq)
        await self._advertise(
            node_advert(old.values, mac=self.mac, bindkey=self.bindkey, counter=old.seq)
        )

    # --- GATT server -----------------------------------------------------------------------

    def _build_gatt(self, device: Device) -> None:
        props = gatt.Characteristic.Properties
        perms = gatt.Characteristic.Permissions
        # Writes need an encrypted (bonded) link, as on the firmware.
        write_perm = perms.WRITEABLE | perms.WRITE_REQUIRES_ENCRYPTION
        self._cp: gatt.Characteristic[bytes] = gatt.Characteristic(
            ble_uuids.CONTROL_POINT_UUID,
            props.WRITE | props.INDICATE,
            write_perm,
            gatt.CharacteristicValue[bytes](write=self._on_control_point),
        )
        self._records = gatt.Characteristic(ble_uuids.RECORDS_UUID, props.NOTIFY, perms(0), b"")
        self._image_data = gatt.Characteristic(
            ble_uuids.IMAGE_DATA_UUID, props.NOTIFY, perms(0), b""
        )
        service = gatt.Service(
            ble_uuids.PLANT_VITA_SERVICE_UUID,
            [
                gatt.Characteristic(
                    ble_uuids.INFO_UUID,
                    props.READ,
                    perms.READABLE,
                    gatt.CharacteristicValue(read=lambda _c: self._info().encode()),
                ),
                gatt.Characteristic(
                    ble_uuids.CONFIG_UUID,
                    props.READ | props.WRITE,
                    perms.READABLE | write_perm,
                    gatt.CharacteristicValue(
                        read=lambda _c: self.flash.config.encode(), write=self._on_config
                    ),
                ),
                gatt.Characteristic(
                    ble_uuids.TIME_UUID,
                    props.WRITE,
                    write_perm,
                    gatt.CharacteristicValue(write=self._on_time),
                ),
                self._cp,
                self._records,
                self._image_data,
            ],
        )
        battery = gatt.Service(
            ble_uuids.BATTERY_SERVICE_UUID,
            [
                gatt.Characteristic(
                    ble_uuids.BATTERY_LEVEL_UUID,
                    props.READ,
                    perms.READABLE,
                    gatt.CharacteristicValue(
                        read=lambda _c: bytes([round(self.environment.battery)])
                    ),
                )
            ],
        )
        info = gatt.Service(
            ble_uuids.DEVICE_INFORMATION_SERVICE_UUID,
            [
                gatt.Characteristic(uuid, props.READ, perms.READABLE, value.encode())
                for uuid, value in (
                    (ble_uuids.MANUFACTURER_NAME_UUID, "Plant-Vita"),
                    (ble_uuids.MODEL_NUMBER_UUID, "PV-1 (emulated)"),
                    (ble_uuids.FIRMWARE_REVISION_UUID, FIRMWARE_VERSION),
                )
            ],
        )
        device.add_services([service, battery, info])

    def _info(self) -> pv.Info:
        caps = (
            pv.Capability.MOISTURE
            | pv.Capability.TEMPERATURE_HUMIDITY
            | pv.Capability.ILLUMINANCE
            | pv.Capability.BATTERY
        )
        if self.camera:
            caps |= pv.Capability.CAMERA
        return pv.Info(
            protocol_version=pv.PROTOCOL_VERSION,
            capabilities=caps,
            max_image_size=MAX_IMAGE_SIZE if self.camera else 0,
            record_capacity=RECORD_CAPACITY,
            firmware_version=FIRMWARE_VERSION,
        )

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self.sessions += 1

        def on_disconnection(_reason: int) -> None:
            self._connection = None
            asyncio.get_running_loop().create_task(self._after_disconnect())

        connection.on(connection.EVENT_DISCONNECTION, on_disconnection)

    async def _after_disconnect(self) -> None:
        await self._cancel_operation()
        if self._device is not None:
            # The firmware refreshes its status once the hub is done (photos taken, clock set).
            self._device.scan_response_data = build_scan_response(self.name, self.status)
        if self._device is not None and asyncio.get_running_loop().time() < self._advertising_until:
            await self._start_advertising()

    def _on_config(self, _connection: Connection, value: bytes) -> None:
        try:
            config = pv.Config.decode(value)
        except pv.ProtocolError as exc:
            raise att.ATT_Error(_APP_ERROR_VALUE_NOT_ALLOWED, message=str(exc)) from exc
        self.flash.config = config

    def _on_time(self, _connection: Connection, value: bytes) -> None:
        try:
            epoch = pv.decode_time(value)
        except pv.ProtocolError as exc:
            raise att.ATT_Error(_APP_ERROR_VALUE_NOT_ALLOWED, message=str(exc)) from exc
        self._clock_offset = epoch - self.clock.epoch()
        self.time_set = True

    def _subscribed(self, connection: Connection, char: gatt.Characteristic[bytes]) -> int:
        """The hub's CCCD bits for ``char`` on this connection (0 when not subscribed)."""
        device = self._device
        if device is None:
            return 0
        return int.from_bytes(device.gatt_server.read_cccd(connection, char), "little")

    def _on_control_point(self, connection: Connection, value: bytes) -> None:
        # Answers nobody would receive are refused at ATT level, as the firmware does.
        if not self._subscribed(connection, self._cp) & _CCCD_INDICATE:
            raise att.ATT_Error(_ATT_ERROR_CCCD_IMPROPER, message="Control Point not subscribed")
        try:
            request = pv.decode_request(value)
        except pv.ProtocolError as exc:
            opcode = value[0] if value else 0
            self._answer_later(connection, opcode, exc.status)
            return
        target = (
            self._records
            if isinstance(request, pv.ReportSince)
            else self._image_data
            if isinstance(request, pv.ImgGet)
            else None
        )
        if target is not None and not self._subscribed(connection, target) & _CCCD_NOTIFY:
            raise att.ATT_Error(_ATT_ERROR_CCCD_IMPROPER, message="data not subscribed")
        if isinstance(request, pv.Abort):
            asyncio.get_running_loop().create_task(self._abort(connection))
            return
        if self._operation is not None and not self._operation.done():
            self._answer_later(connection, request.opcode, pv.Status.BUSY)
            return
        self._operation = asyncio.get_running_loop().create_task(
            self._run_operation(connection, request)
        )

    def _answer_later(self, connection: Connection, opcode: int, status: pv.Status) -> None:
        try:
            op = pv.Opcode(opcode)
        except ValueError:
            # An unknown opcode is echoed raw: the response codec only knows defined opcodes.
            raw = bytes([pv.RESPONSE_CODE, opcode & 0xFF, status])
            asyncio.get_running_loop().create_task(self._indicate(connection, raw))
            return
        response = pv.ControlResponse(op, status)
        asyncio.get_running_loop().create_task(self._indicate(connection, response.encode()))

    async def _indicate(self, connection: Connection, value: bytes) -> None:
        device = self._device
        if device is None:
            return
        with contextlib.suppress(Exception):
            await device.indicate_subscriber(connection, self._cp, value)

    async def _abort(self, connection: Connection) -> None:
        await self._cancel_operation()
        await self._indicate(
            connection, pv.ControlResponse(pv.Opcode.ABORT, pv.Status.SUCCESS).encode()
        )

    async def _cancel_operation(self) -> None:
        operation = self._operation
        self._operation = None
        if operation is not None and not operation.done():
            # Its ABORTED indication may wait for a confirmation that never comes: bounded.
            await _cancel_bounded(operation)

    async def _run_operation(self, connection: Connection, request: pv.ControlRequest) -> None:
        try:
            result = await self._execute(connection, request)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._indicate(
                    connection, pv.ControlResponse(request.opcode, pv.Status.ABORTED).encode()
                )
            raise
        except _OperationFailed as failure:
            self._operation_finished()
            await self._indicate(
                connection, pv.ControlResponse(request.opcode, failure.status).encode()
            )
            return
        self._operation_finished()
        await self._indicate(
            connection, pv.ControlResponse(request.opcode, pv.Status.SUCCESS, result).encode()
        )

    def _operation_finished(self) -> None:
        # As the firmware: the operation is over once its answer goes out, so a request the
        # hub writes as soon as it has the indication (before the confirmation came back to
        # this side) is served, not answered BUSY.
        if self._operation is asyncio.current_task():
            self._operation = None

    def _payload(self, connection: Connection) -> int:
        return pv.max_payload(int(connection.att_mtu))

    async def _notify(
        self, connection: Connection, characteristic: gatt.Characteristic[bytes], value: bytes
    ) -> None:
        device = self._device
        if device is None:
            raise asyncio.CancelledError
        await device.notify_subscriber(connection, characteristic, value)

    async def _execute(
        self, connection: Connection, request: pv.ControlRequest
    ) -> pv.ResponseResult | None:
        flash = self.flash
        match request:
            case pv.Count():
                seqs = [r.seq for r in flash.records]
                return pv.CountResult(len(seqs), min(seqs, default=0), max(seqs, default=0))
            case pv.ReportSince(seq):
                records = [r for r in flash.records if r.seq >= seq]
                for value in pv.pack_records(records, self._payload(connection)):
                    await self._notify(connection, self._records, value)
                return pv.ReportDone(len(records), records[-1].seq if records else 0)
            case pv.AckUpto(seq):
                if self.faults.ack_delay_s:
                    await asyncio.sleep(self.faults.ack_delay_s)
                if not self.faults.ignore_acks:
                    kept = [r for r in flash.records if r.seq > seq]
                    flash.records.clear()
                    flash.records.extend(kept)
                    self.acked_upto = max(self.acked_upto, seq)
                    if self.journal is not None:
                        self.journal.acked(seq)
                return pv.AckDone(len(flash.records))
            case pv.Capture():
                if not self.camera:
                    raise _OperationFailed(pv.Status.NO_CAMERA)
                image = await self.capture()
                if image is None:
                    raise _OperationFailed(pv.Status.STORAGE_FULL)
                return image.entry
            case pv.ImgList(after_id):
                per_page = pv.max_images_per_page(self._payload(connection))
                later = [flash.images[i].entry for i in sorted(flash.images) if i > after_id]
                return pv.ImageListPage(tuple(later[:per_page]), len(later) > per_page)
            case pv.ImgGet(image_id, offset):
                image = flash.images.get(image_id)
                if image is None:
                    raise _OperationFailed(pv.Status.NOT_FOUND)
                if offset > len(image.data):
                    raise _OperationFailed(pv.Status.INVALID_PARAMETER)
                await self._send_image(connection, image, offset)
                self.served.append((image.image_id, hashlib.sha256(image.data).hexdigest()))
                if self.journal is not None:
                    self.journal.served(image.image_id, image.data)
                return pv.ImageDone(image.image_id, len(image.data), pv.crc32(image.data))
            case pv.ImgDelete(image_id):
                if flash.images.pop(image_id, None) is None:
                    raise _OperationFailed(pv.Status.NOT_FOUND)
                if self.journal is not None:
                    self.journal.deleted(image_id)
                return None
        raise _OperationFailed(pv.Status.UNKNOWN_OPCODE)

    async def _send_image(self, connection: Connection, image: StoredImage, offset: int) -> None:
        faults = self.faults
        for chunk in pv.image_chunks(image.image_id, image.data, self._payload(connection), offset):
            data = chunk.data
            if faults.corrupt_next_chunk:
                faults.corrupt_next_chunk = False
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            await self._notify(
                connection,
                self._image_data,
                pv.ImageChunk(chunk.image_id, chunk.offset, data).encode(),
            )
            sent = chunk.offset + len(chunk.data)
            if faults.drop_link_after_bytes is not None and sent >= faults.drop_link_after_bytes:
                faults.drop_link_after_bytes = None
                # Give the link a moment to deliver what was sent, then lose it.
                await asyncio.sleep(0.01)
                await connection.disconnect()
                raise asyncio.CancelledError

    def unacked_records(self) -> list[pv.Record]:
        """Records still in the node's store."""
        return list(self.flash.records)


async def _cancel_bounded(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait at most ``STOP_STEP_S`` for it to end (then leave it)."""
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=STOP_STEP_S)
    for ended in done:
        if not ended.cancelled():
            ended.exception()  # retrieved: a failure was already logged where it happened


class _OperationFailed(Exception):
    def __init__(self, status: pv.Status) -> None:
        super().__init__(status.name)
        self.status = status


def utc_from_epoch(epoch: int) -> datetime:
    """A node epoch as an aware datetime."""
    return datetime.fromtimestamp(epoch, UTC)
