"""One GATT session with a Plant-Vita node (docs/protocol.md §4), over bleak's public API.

Set the time, read Info and Config, push the wanted config, backfill the records the node kept
(ACKed only once the store committed them), then fetch every stored photo with resume and a
CRC32 check, and delete it from the node once the store has it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic

from hub.ble.ports import AlarmThresholds, DecodedReading, GatewayStore, NodeStatus, ReceivedImage
from shared import ble_uuids
from shared import gatt as pv
from shared.metrics import Metric
from shared.sync import NodeConfig, ReadingSource

logger = logging.getLogger(__name__)


class SessionError(Exception):
    """The node answered something the session cannot continue from."""


class LinkLost(SessionError):
    """The connection dropped during the session."""


class ConnectFailed(SessionError):
    """No connection within the bounded connect timeout (node absent, out of range, busy)."""


@dataclass(slots=True)
class SessionReport:
    """What one session did (logged, and read by tests)."""

    time_set: bool = False
    info: pv.Info | None = None
    config_revision: int | None = None
    config_written: bool = False
    node_config: pv.Config | None = None  # the Config the node runs after the session
    records: int = 0
    acked_upto: int | None = None
    images: list[int] = field(default_factory=list)
    crc_failures: int = 0
    resumed_from: list[int] = field(default_factory=list)
    counter_checked: bool = False  # COUNT compared with the hub's last seq (node held records)
    seq_epoch: int | None = None  # set when the node's counter restarted: the new epoch
    newest_seq: int | None = None  # the node's newest record seq (COUNT), when it held any
    held: int = 0  # records left on the node: taken before its clock was ever set, no anchor
    photo_asked: bool = False  # a photo was asked for (CAPTURE sent, or the node has no camera)
    photo_taken: int | None = None  # the id of the photo the node took on request


def config_for_node(wanted: NodeConfig, current: pv.Config) -> pv.Config:
    """The node's Config value for the hub's ``NodeConfig`` (thresholds the node keeps)."""
    return pv.Config(
        revision=wanted.revision,
        sampling_interval_s=wanted.sampling_interval_s,
        advert_burst_count=wanted.advert_burst,
        advert_burst_interval_ms=current.advert_burst_interval_ms,
        camera_times=current.camera_times,
        moisture_low=current.moisture_low,
        moisture_high=current.moisture_high,
        temperature_low=current.temperature_low,
        temperature_high=current.temperature_high,
        connectable_window_s=wanted.connectable_window_s,
        # A node in alarm must not report less often than it does normally.
        alert_interval_s=min(current.alert_interval_s, wanted.sampling_interval_s),
        camera_interval_s=wanted.camera_interval_s or 0,
    )


def _limit(value: float | None, lowest: float, highest: float) -> float | None:
    # The node keeps 0.01 steps; a value outside what it accepts is not written.
    if value is None:
        return None
    value = round(value, 2)
    return value if lowest <= value <= highest else None


def with_thresholds(config: pv.Config, wanted: AlarmThresholds | None) -> pv.Config:
    """``config`` with the plant's alarm limits where they are set; a side without a limit keeps
    the node's value, and a metric whose pair would not satisfy low < high is left as it was."""
    if wanted is None:
        return config
    moisture_low = _limit(wanted.moisture_low, 0.0, 100.0)
    moisture_high = _limit(wanted.moisture_high, 0.0, 100.0)
    temperature_low = _limit(wanted.temperature_low, -40.0, 85.0)
    temperature_high = _limit(wanted.temperature_high, -40.0, 85.0)
    m_low = config.moisture_low if moisture_low is None else moisture_low
    m_high = config.moisture_high if moisture_high is None else moisture_high
    t_low = config.temperature_low if temperature_low is None else temperature_low
    t_high = config.temperature_high if temperature_high is None else temperature_high
    if m_low < m_high:
        config = replace(config, moisture_low=m_low, moisture_high=m_high)
    if t_low < t_high:
        config = replace(config, temperature_low=t_low, temperature_high=t_high)
    return config


# Half a 0.01 step and a little: the same measurement decoded from an advert or a record.
_SAME_VALUE = 0.006


def _same_measurement(record: Mapping[Metric, float], stored: Mapping[Metric, float]) -> bool:
    """True when a record and a stored reading carry the same values (metrics both hold)."""
    common = set(record) & set(stored)
    return bool(common) and all(abs(record[m] - stored[m]) <= _SAME_VALUE for m in common)


def thresholds_applied(wanted: AlarmThresholds | None, held: pv.Config | None) -> bool:
    """True when the node's Config already holds every limit its plant sets."""
    if wanted is None:
        return True
    return held is not None and with_thresholds(held, wanted) == held


@dataclass(slots=True)
class PartialImage:
    """An image transfer interrupted by a disconnect: resumed from ``assembler.held``."""

    assembler: pv.ImageAssembler
    entry: pv.ImageEntry


class NodeSession:
    """Drive one connected ``BleakClient`` through a Plant-Vita session."""

    def __init__(
        self,
        client: BleakClient,
        mac: str,
        store: GatewayStore,
        *,
        now: Callable[[], datetime],
        op_timeout_s: float,
        wanted_config: NodeConfig | None,
        since_seq: int | None,
        partial_images: dict[int, PartialImage],
        image_attempts: int,
        last_seq: int | None = None,
        seq_epoch: int = 0,
        wanted_thresholds: AlarmThresholds | None = None,
        take_photo: bool = False,
    ) -> None:
        self.client = client
        self.mac = mac
        self.store = store
        self.now = now
        self.op_timeout_s = op_timeout_s
        self.wanted_config = wanted_config
        self.wanted_thresholds = wanted_thresholds
        self.take_photo = take_photo
        self.since_seq = since_seq
        self.last_seq = last_seq
        self.seq_epoch = seq_epoch
        self.partial_images = partial_images
        self.image_attempts = image_attempts
        self.report = SessionReport()
        self._responses: asyncio.Queue[pv.ControlResponse | None] = asyncio.Queue()
        self._records: list[pv.Record] = []
        self._assembler: pv.ImageAssembler | None = None
        self._chunk_error: pv.ProtocolError | None = None
        self._node_config: pv.Config | None = None  # as the node had it while it measured

    def link_lost(self) -> None:
        """The client's disconnected callback: wake whoever waits for an indication."""
        self._responses.put_nowait(None)

    # --- notifications (callbacks: never await) ---------------------------------------------

    def _on_control_point(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            self._responses.put_nowait(pv.ControlResponse.decode(bytes(data)))
        except pv.ProtocolError as exc:
            logger.warning("%s: unreadable Control Point indication: %s", self.mac, exc)

    def _on_records(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            self._records.extend(pv.decode_records(bytes(data)))
        except pv.ProtocolError as exc:
            logger.warning("%s: unreadable Records notification: %s", self.mac, exc)

    def _on_image_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        assembler = self._assembler
        if assembler is None or self._chunk_error is not None:
            return
        try:
            assembler.add(pv.ImageChunk.decode(bytes(data)))
        except pv.ProtocolError as exc:
            self._chunk_error = exc

    # --- Control Point ----------------------------------------------------------------------

    async def request(self, request: pv.ControlRequest) -> pv.ControlResponse:
        """Write a Control Point request and wait for its indication."""
        await self.client.write_gatt_char(
            ble_uuids.CONTROL_POINT_UUID, pv.encode_request(request), response=True
        )
        async with asyncio.timeout(self.op_timeout_s):
            while True:
                response = await self._responses.get()
                if response is None:
                    raise LinkLost(f"{self.mac}: link lost during {request.opcode.name}")
                if response.opcode is request.opcode:
                    return response
                logger.debug("%s: stray indication %s", self.mac, response)

    async def _ok(self, request: pv.ControlRequest) -> pv.ControlResponse:
        response = await self.request(request)
        if response.status is not pv.Status.SUCCESS:
            raise SessionError(f"{request.opcode.name} answered {response.status.name}")
        return response

    # --- the session ------------------------------------------------------------------------

    async def run(self) -> SessionReport:
        """The whole session; raises on a lost link (the gateway retries later)."""
        client = self.client
        await client.start_notify(ble_uuids.CONTROL_POINT_UUID, self._on_control_point)
        await client.start_notify(ble_uuids.RECORDS_UUID, self._on_records)
        await client.start_notify(ble_uuids.IMAGE_DATA_UUID, self._on_image_data)
        await self._set_time()
        info = pv.Info.decode(bytes(await client.read_gatt_char(ble_uuids.INFO_UUID)))
        self.report.info = info
        await self._sync_config()
        await self.store.update_node_status(
            [
                NodeStatus(
                    node_mac=self.mac,
                    last_seen=self.now(),
                    firmware_version=info.firmware_version,
                    config_revision_applied=self.report.config_revision,
                )
            ]
        )
        await self._backfill()
        if info.capabilities & pv.Capability.CAMERA:
            if self.take_photo:
                await self._capture()
            await self._fetch_images()
        elif self.take_photo:
            logger.warning("%s: a photo was asked for, but the node has no camera", self.mac)
            self.report.photo_asked = True
        return self.report

    async def _capture(self) -> None:
        """Take a photo now (the gardener asked); it is fetched with the others right after."""
        response = await self.request(pv.Capture())
        self.report.photo_asked = True
        if response.status is not pv.Status.SUCCESS:
            # A full flash or a failed camera is the node's answer, not a broken session.
            logger.warning("%s: CAPTURE answered %s", self.mac, response.status.name)
            return
        entry = response.result
        assert isinstance(entry, pv.ImageEntry)
        self.report.photo_taken = entry.image_id

    async def _set_time(self) -> None:
        epoch = int(self.now().timestamp())
        await self.client.write_gatt_char(ble_uuids.TIME_UUID, pv.encode_time(epoch), response=True)
        self.report.time_set = True

    async def _sync_config(self) -> None:
        current = pv.Config.decode(bytes(await self.client.read_gatt_char(ble_uuids.CONFIG_UUID)))
        self._node_config = current
        wanted = self.wanted_config
        value = current
        if wanted is not None and wanted.revision != current.revision:
            value = config_for_node(wanted, current)
        # The node alarms (samples faster) on its plant's limits: species with overrides.
        value = with_thresholds(value, self.wanted_thresholds)
        if value != current:
            await self.client.write_gatt_char(ble_uuids.CONFIG_UUID, value.encode(), response=True)
            current = pv.Config.decode(
                bytes(await self.client.read_gatt_char(ble_uuids.CONFIG_UUID))
            )
            self.report.config_written = True
        self.report.config_revision = current.revision
        self.report.node_config = current

    async def _backfill(self) -> None:
        count = (await self._ok(pv.Count())).result
        assert isinstance(count, pv.CountResult)
        if count.count == 0:
            return
        self.report.newest_seq = count.newest_seq
        self.report.counter_checked = self.last_seq is not None
        # A node still holding records the hub acked (it lost its flash, or an ACK) sends
        # them again: harmless duplicates, and the overlap is what reveals a restart below.
        since = count.oldest_seq
        if self.since_seq is not None:
            since = min(max(self.since_seq, 0), count.oldest_seq)
        if self.last_seq is not None and count.newest_seq < self.last_seq:
            # Counters never go back and a node keeps its newest measurement until it is
            # acked, so a node holding records all below what the hub accepted restarted its
            # counter. This answer comes over the bonded link: a replayer cannot give it.
            await self._counter_restarted(())
        self._records.clear()
        done = (await self._ok(pv.ReportSince(since))).result
        assert isinstance(done, pv.ReportDone)
        records = sorted({r.seq: r for r in self._records}.values(), key=lambda r: r.seq)
        if len(records) != done.count:
            raise SessionError(f"REPORT_SINCE announced {done.count} records, got {len(records)}")
        if records and self.report.seq_epoch is None and self.last_seq is not None:
            await self._compare_with_stored(records)
        if records:
            await self.store.store_readings(self._readings(records))
            self.report.records = len(records)
        if self.report.held:
            # Readings of a clock that was never set are not guessed at: the node keeps them
            # (this session set its clock, so its next records will place them by seq).
            return
        # The node may only forget what the store has durably committed.
        last = done.last_seq if records else count.newest_seq
        ack = (await self._ok(pv.AckUpto(last))).result
        assert isinstance(ack, pv.AckDone)
        self.report.acked_upto = last

    async def _counter_restarted(self, moved: Sequence[int]) -> None:
        self.seq_epoch = await self.store.start_counter_epoch(self.mac, moved)
        self.report.seq_epoch = self.seq_epoch

    async def _compare_with_stored(self, records: list[pv.Record]) -> None:
        # A node that restarted its counter and then measured past the hub's last seq before
        # the hub heard it again holds records whose seqs the hub stored with other values.
        stored = await self.store.stored_values(self.mac, [r.seq for r in records])
        same: list[int] = []
        differs = False
        for record in records:
            held = stored.get(record.seq)
            if held is None:
                continue
            if _same_measurement(record.values, held):
                same.append(record.seq)
            else:
                differs = True
        if differs:
            # Readings already stored that match the node's records were heard after the
            # restart (under the old epoch): they move to the new epoch with the rest.
            await self._counter_restarted(same)

    def _readings(self, records: list[pv.Record]) -> list[DecodedReading]:
        readings: list[DecodedReading] = []
        known = [(r.seq, r.epoch) for r in records if r.epoch >= pv.MIN_EPOCH]
        # Records without a time are placed at the interval the node sampled at, which is
        # its own config's until this session writes another one.
        if self._node_config is not None:
            interval = self._node_config.sampling_interval_s
        else:
            interval = self.wanted_config.sampling_interval_s if self.wanted_config else 600
        for record in records:
            if not record.values:
                continue
            if record.epoch >= pv.MIN_EPOCH:
                # The node's clock counts whole seconds; readings are keyed by (node, time), so
                # two taken in one second (a wake for a photo) are told apart by their seq.
                measured_at = datetime.fromtimestamp(record.epoch, UTC) + timedelta(
                    milliseconds=record.seq % 1000
                )
            elif known:
                # Taken while the node's clock was unset: place it by its distance in seq
                # from the nearest record that has a time.
                seq, epoch = min(known, key=lambda k: abs(k[0] - record.seq))
                measured_at = datetime.fromtimestamp(epoch, UTC) + timedelta(
                    seconds=(record.seq - seq) * interval
                )
            else:
                # No record of this fetch has a time: nothing to place them by. They stay on
                # the node (not acked) until a later fetch brings timed records after them.
                self.report.held += 1
                continue
            readings.append(
                DecodedReading(
                    node_mac=self.mac,
                    measured_at=measured_at,
                    values=dict(record.values),
                    seq=record.seq,
                    source=ReadingSource.BACKFILL,
                    seq_epoch=self.seq_epoch,
                )
            )
        return readings

    async def _fetch_images(self) -> None:
        after = 0
        entries: list[pv.ImageEntry] = []
        while True:
            page = (await self._ok(pv.ImgList(after))).result
            assert isinstance(page, pv.ImageListPage)
            entries.extend(page.images)
            if not page.more or not page.images:
                break
            after = page.images[-1].image_id
        for entry in entries:
            await self._fetch_image(entry)

    async def _fetch_image(self, entry: pv.ImageEntry) -> None:
        partial = self.partial_images.get(entry.image_id)
        if partial is not None and (partial.entry.size, partial.entry.crc32) != (
            entry.size,
            entry.crc32,
        ):
            partial = None  # the id was reused for another photo
        for _attempt in range(self.image_attempts):
            if partial is None:
                partial = PartialImage(pv.ImageAssembler(entry.image_id, entry.size), entry)
            # Registered before the transfer so a disconnect leaves what arrived resumable.
            self.partial_images[entry.image_id] = partial
            self._assembler = partial.assembler
            self._chunk_error = None
            offset = partial.assembler.held
            if offset:
                self.report.resumed_from.append(offset)
            response = await self.request(pv.ImgGet(entry.image_id, offset))
            self._assembler = None
            if response.status is pv.Status.NOT_FOUND:
                self.partial_images.pop(entry.image_id, None)
                return
            if response.status is not pv.Status.SUCCESS:
                raise SessionError(f"IMG_GET answered {response.status.name}")
            done = response.result
            assert isinstance(done, pv.ImageDone)
            try:
                if self._chunk_error is not None:
                    raise self._chunk_error
                data = partial.assembler.finish(done)
            except pv.ProtocolError as exc:
                # Corrupted or out-of-order: throw the bytes away and fetch it again whole.
                logger.warning("%s: image %d refetched: %s", self.mac, entry.image_id, exc)
                self.report.crc_failures += 1
                partial = None
                continue
            captured_at = (
                datetime.fromtimestamp(entry.epoch, UTC)
                if entry.epoch >= pv.MIN_EPOCH
                else self.now()
            )
            await self.store.store_image(ReceivedImage(self.mac, entry.image_id, captured_at, data))
            self.partial_images.pop(entry.image_id, None)
            await self._ok(pv.ImgDelete(entry.image_id))
            self.report.images.append(entry.image_id)
            return
        self.partial_images.pop(entry.image_id, None)
        raise SessionError(f"image {entry.image_id} failed its CRC {self.image_attempts} times")
