"""Plant-Vita GATT protocol codecs: Info, Config, Time, Control Point, Records, ImageData.

Every byte is specified in docs/protocol.md §3; golden vectors in shared/vectors/gatt.json.
All integers little-endian. Decoders raise ``ProtocolError`` and nothing else. Pure: no I/O.
"""

from __future__ import annotations

import enum
import math
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final

from shared.bthome import Malformed, decode_objects, encode_objects
from shared.metrics import Metric

PROTOCOL_VERSION: Final = 1
ATT_HEADER_LEN: Final = 3  # a notification/indication value holds at most ATT_MTU - 3 bytes
MIN_EPOCH: Final = 1_577_836_800  # 2020-01-01T00:00:00Z: anything earlier is an unset clock
MAX_U16: Final = 0xFFFF
MAX_U32: Final = 0xFFFF_FFFF


class Status(enum.IntEnum):
    """Control Point status codes."""

    SUCCESS = 0x00
    UNKNOWN_OPCODE = 0x01
    INVALID_PARAMETER = 0x02
    NOT_FOUND = 0x03
    BUSY = 0x04
    ABORTED = 0x05
    NO_CAMERA = 0x06
    CAPTURE_FAILED = 0x07
    STORAGE_FULL = 0x08


class ProtocolError(Exception):
    """Bytes that break the Plant-Vita GATT protocol, or a value it cannot carry.

    ``status`` is the Control Point status a node answers with for this error.
    """

    def __init__(self, message: str, status: Status = Status.INVALID_PARAMETER) -> None:
        super().__init__(message)
        self.status = status


def _unpack(fmt: str, data: bytes, what: str) -> tuple[int, ...]:
    """struct.unpack that reports a wrong length as a ProtocolError."""
    if len(data) != struct.calcsize(fmt):
        raise ProtocolError(f"{what}: expected {struct.calcsize(fmt)} bytes, got {len(data)}")
    return struct.unpack(fmt, data)


def _pack(fmt: str, what: str, *values: int) -> bytes:
    """struct.pack that reports an out-of-range value as a ProtocolError."""
    try:
        return struct.pack(fmt, *values)
    except struct.error as exc:
        raise ProtocolError(f"{what}: {exc}") from exc


def max_payload(att_mtu: int) -> int:
    """Largest notification/indication value for a negotiated ATT MTU."""
    return att_mtu - ATT_HEADER_LEN


def crc32(data: bytes) -> int:
    """Whole-image checksum: zlib's CRC-32 (IEEE 802.3), as an unsigned 32-bit int."""
    return zlib.crc32(data) & MAX_U32


# ---------------------------------------------------------------- Info


class Capability(enum.IntFlag):
    """What a node's hardware can do (Info.capabilities)."""

    NONE = 0
    CAMERA = 0x01
    MOISTURE = 0x02
    TEMPERATURE_HUMIDITY = 0x04
    ILLUMINANCE = 0x08
    BATTERY = 0x10


_INFO_HEAD: Final = "<BHIIB"
_INFO_HEAD_LEN: Final = struct.calcsize(_INFO_HEAD)
MAX_FIRMWARE_LEN: Final = 32


@dataclass(frozen=True, slots=True)
class Info:
    """The Info characteristic: what the node is and can do."""

    protocol_version: int
    capabilities: Capability
    max_image_size: int
    record_capacity: int
    firmware_version: str

    def encode(self) -> bytes:
        """Encode as the Info characteristic value."""
        firmware = self.firmware_version.encode()
        if len(firmware) > MAX_FIRMWARE_LEN:
            raise ProtocolError("firmware version longer than 32 bytes")
        head = _pack(
            _INFO_HEAD,
            "info",
            self.protocol_version,
            int(self.capabilities),
            self.max_image_size,
            self.record_capacity,
            len(firmware),
        )
        return head + firmware

    @classmethod
    def decode(cls, data: bytes) -> Info:
        """Decode an Info value; bytes after the firmware string are ignored."""
        if len(data) < _INFO_HEAD_LEN:
            raise ProtocolError("info: too short")
        version, caps, max_image, capacity, fw_len = struct.unpack_from(_INFO_HEAD, data)
        if fw_len > MAX_FIRMWARE_LEN:
            raise ProtocolError("info: firmware version longer than 32 bytes")
        firmware = data[_INFO_HEAD_LEN : _INFO_HEAD_LEN + fw_len]
        if len(firmware) != fw_len:
            raise ProtocolError("info: firmware version truncated")
        try:
            text = firmware.decode()
        except UnicodeDecodeError as exc:
            raise ProtocolError("info: firmware version is not UTF-8") from exc
        return cls(version, Capability(caps), max_image, capacity, text)


# ---------------------------------------------------------------- Config


@dataclass(frozen=True, slots=True)
class _Setting:
    """One scalar Config TLV: wire type, field name, struct format, scale and raw range."""

    tlv_type: int
    name: str
    fmt: str
    scale: int
    raw_min: int
    raw_max: int
    zero_means_off: bool = False  # 0 is allowed below raw_min and switches the feature off


_SETTINGS: Final[tuple[_Setting, ...]] = (
    _Setting(0x01, "sampling_interval_s", "<I", 1, 10, 86_400),
    _Setting(0x02, "advert_burst_count", "<B", 1, 1, 20),
    _Setting(0x03, "advert_burst_interval_ms", "<H", 1, 20, 10_240),
    _Setting(0x05, "moisture_low", "<H", 100, 0, 10_000),
    _Setting(0x06, "moisture_high", "<H", 100, 0, 10_000),
    _Setting(0x07, "temperature_low", "<h", 100, -4_000, 8_500),
    _Setting(0x08, "temperature_high", "<h", 100, -4_000, 8_500),
    _Setting(0x09, "connectable_window_s", "<H", 1, 0, 600),
    _Setting(0x0A, "alert_interval_s", "<I", 1, 10, 86_400),
    _Setting(0x0B, "camera_interval_s", "<I", 1, 600, 604_800, zero_means_off=True),
)
_SETTING_BY_TYPE: Final = {s.tlv_type: s for s in _SETTINGS}
TLV_CAMERA_TIMES: Final = 0x04
MAX_CAMERA_TIMES: Final = 8
MINUTES_PER_DAY: Final = 1440


@dataclass(frozen=True, slots=True)
class Config:
    """The Config characteristic: node settings with the revision the hub assigned.

    Thresholds are in gardener units (%, °C) with 0.01 resolution. The camera captures at each
    of camera_times (minutes after 00:00 UTC) and every camera_interval_s (0 = off).
    """

    revision: int = 0
    sampling_interval_s: int = 600
    advert_burst_count: int = 3
    advert_burst_interval_ms: int = 100
    camera_times: tuple[int, ...] = ()
    moisture_low: float = 20.0
    moisture_high: float = 80.0
    temperature_low: float = 5.0
    temperature_high: float = 35.0
    connectable_window_s: int = 30
    alert_interval_s: int = 300
    camera_interval_s: int = 0

    def _raw(self, setting: _Setting) -> int:
        value: float = getattr(self, setting.name)
        if not math.isfinite(value):
            raise ProtocolError(f"config: {setting.name} is not a finite number")
        raw = round(value * setting.scale)
        if setting.zero_means_off and raw == 0:
            return raw
        if not setting.raw_min <= raw <= setting.raw_max:
            raise ProtocolError(
                f"config: {setting.name} {value!r} outside "
                f"{setting.raw_min / setting.scale:g}..{setting.raw_max / setting.scale:g}"
            )
        return raw

    def validate(self) -> None:
        """Raise ProtocolError when any setting is outside its range (protocol.md §3.2)."""
        if not 0 <= self.revision <= MAX_U32:
            raise ProtocolError("config: revision does not fit u32")
        for setting in _SETTINGS:
            self._raw(setting)
        if len(self.camera_times) > MAX_CAMERA_TIMES:
            raise ProtocolError("config: more than 8 camera times")
        if any(not 0 <= t < MINUTES_PER_DAY for t in self.camera_times):
            raise ProtocolError("config: camera time outside 0..1439 minutes")
        if any(a >= b for a, b in zip(self.camera_times, self.camera_times[1:], strict=False)):
            raise ProtocolError("config: camera times not strictly ascending")
        if round(self.moisture_low * 100) >= round(self.moisture_high * 100):
            raise ProtocolError("config: moisture_low must be below moisture_high")
        if round(self.temperature_low * 100) >= round(self.temperature_high * 100):
            raise ProtocolError("config: temperature_low must be below temperature_high")

    def encode(self) -> bytes:
        """Encode as the Config value: revision then every TLV in type order."""
        self.validate()
        tlvs: dict[int, bytes] = {s.tlv_type: struct.pack(s.fmt, self._raw(s)) for s in _SETTINGS}
        tlvs[TLV_CAMERA_TIMES] = struct.pack(f"<{len(self.camera_times)}H", *self.camera_times)
        out = bytearray(struct.pack("<I", self.revision))
        for tlv_type in sorted(tlvs):
            out += bytes([tlv_type, len(tlvs[tlv_type])]) + tlvs[tlv_type]
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Config:
        """Decode a Config value; unknown TLV types are skipped, absent ones take defaults."""
        if len(data) < 4:
            raise ProtocolError("config: too short for the revision")
        (revision,) = struct.unpack_from("<I", data)
        values: dict[str, object] = {"revision": revision}
        seen: set[int] = set()
        pos = 4
        while pos < len(data):
            if pos + 2 > len(data):
                raise ProtocolError("config: truncated TLV header")
            tlv_type, length = data[pos], data[pos + 1]
            value = data[pos + 2 : pos + 2 + length]
            if len(value) != length:
                raise ProtocolError(f"config: TLV 0x{tlv_type:02x} truncated")
            pos += 2 + length
            if tlv_type in seen:
                raise ProtocolError(f"config: TLV 0x{tlv_type:02x} repeated")
            seen.add(tlv_type)
            if tlv_type == TLV_CAMERA_TIMES:
                if length % 2:
                    raise ProtocolError("config: camera_times length is odd")
                values["camera_times"] = struct.unpack(f"<{length // 2}H", value)
            elif (setting := _SETTING_BY_TYPE.get(tlv_type)) is not None:
                (raw,) = _unpack(setting.fmt, value, f"config {setting.name}")
                values[setting.name] = raw if setting.scale == 1 else round(raw / setting.scale, 2)
            # Any other type comes from a newer protocol: skipped so old nodes/hubs keep working.
        config = cls(**values)  # type: ignore[arg-type]
        config.validate()
        return config


# ---------------------------------------------------------------- Time


def encode_time(epoch: int) -> bytes:
    """Encode the Time value: UTC seconds since 1970 as u32."""
    if not MIN_EPOCH <= epoch <= MAX_U32:
        raise ProtocolError(f"time: {epoch} outside 2020-01-01..2106")
    return struct.pack("<I", epoch)


def decode_time(data: bytes) -> int:
    """Decode the Time value into UTC seconds since 1970."""
    (epoch,) = _unpack("<I", data, "time")
    if epoch < MIN_EPOCH:
        raise ProtocolError(f"time: {epoch} is before 2020-01-01")
    return epoch


# ---------------------------------------------------------------- Control Point


class Opcode(enum.IntEnum):
    """Control Point request opcodes."""

    REPORT_SINCE = 0x01
    ACK_UPTO = 0x02
    COUNT = 0x03
    CAPTURE = 0x04
    IMG_LIST = 0x05
    IMG_GET = 0x06
    IMG_DELETE = 0x07
    ABORT = 0x08


RESPONSE_CODE: Final = 0x80


@dataclass(frozen=True, slots=True)
class ReportSince:
    """Send every stored record with seq >= ``seq`` on Records."""

    seq: int
    opcode: ClassVar[Opcode] = Opcode.REPORT_SINCE
    layout: ClassVar[str] = "<I"


@dataclass(frozen=True, slots=True)
class AckUpto:
    """The hub stored every record up to ``seq``; the node may drop them."""

    seq: int
    opcode: ClassVar[Opcode] = Opcode.ACK_UPTO
    layout: ClassVar[str] = "<I"


@dataclass(frozen=True, slots=True)
class Count:
    """How many records are stored, and their seq range."""

    opcode: ClassVar[Opcode] = Opcode.COUNT
    layout: ClassVar[str] = "<"


@dataclass(frozen=True, slots=True)
class Capture:
    """Take a photo now."""

    opcode: ClassVar[Opcode] = Opcode.CAPTURE
    layout: ClassVar[str] = "<"


@dataclass(frozen=True, slots=True)
class ImgList:
    """List stored images with id > ``after_id`` (one MTU-sized page)."""

    after_id: int = 0
    opcode: ClassVar[Opcode] = Opcode.IMG_LIST
    layout: ClassVar[str] = "<H"


@dataclass(frozen=True, slots=True)
class ImgGet:
    """Stream image ``image_id`` on ImageData from byte ``offset``."""

    image_id: int
    offset: int = 0
    opcode: ClassVar[Opcode] = Opcode.IMG_GET
    layout: ClassVar[str] = "<HI"


@dataclass(frozen=True, slots=True)
class ImgDelete:
    """Delete image ``image_id`` (after the hub stored it)."""

    image_id: int
    opcode: ClassVar[Opcode] = Opcode.IMG_DELETE
    layout: ClassVar[str] = "<H"


@dataclass(frozen=True, slots=True)
class Abort:
    """Stop the running REPORT_SINCE or IMG_GET."""

    opcode: ClassVar[Opcode] = Opcode.ABORT
    layout: ClassVar[str] = "<"


ControlRequest = ReportSince | AckUpto | Count | Capture | ImgList | ImgGet | ImgDelete | Abort
_REQUEST_TYPES: Final[dict[int, type[ControlRequest]]] = {
    cls.opcode: cls
    for cls in (ReportSince, AckUpto, Count, Capture, ImgList, ImgGet, ImgDelete, Abort)
}


def _request_params(request: ControlRequest) -> tuple[int, ...]:
    match request:
        case ReportSince(seq) | AckUpto(seq):
            return (seq,)
        case ImgList(after_id):
            return (after_id,)
        case ImgGet(image_id, offset):
            return (image_id, offset)
        case ImgDelete(image_id):
            return (image_id,)
        case _:
            return ()


def _check_image_id(request: ControlRequest) -> None:
    # Image id 0 means "none": only IMG_LIST may carry it (as "from the start").
    if isinstance(request, ImgGet | ImgDelete) and request.image_id == 0:
        raise ProtocolError("image id 0 is reserved")


def encode_request(request: ControlRequest) -> bytes:
    """Encode a Control Point write."""
    _check_image_id(request)
    params = _pack(request.layout, request.opcode.name, *_request_params(request))
    return bytes([request.opcode]) + params


def decode_request(data: bytes) -> ControlRequest:
    """Decode a Control Point write. ``ProtocolError.status`` is what the node answers."""
    if not data:
        raise ProtocolError("control point: empty write")
    request_type = _REQUEST_TYPES.get(data[0])
    if request_type is None:
        raise ProtocolError(f"unknown opcode 0x{data[0]:02x}", Status.UNKNOWN_OPCODE)
    params = _unpack(request_type.layout, data[1:], request_type.opcode.name)
    request = request_type(*params)
    _check_image_id(request)
    return request


@dataclass(frozen=True, slots=True)
class ReportDone:
    """End of REPORT_SINCE: how many records were sent and the last seq (0 when none)."""

    count: int
    last_seq: int
    layout: ClassVar[str] = "<II"


@dataclass(frozen=True, slots=True)
class AckDone:
    """ACK_UPTO result: records still stored."""

    remaining: int
    layout: ClassVar[str] = "<I"


@dataclass(frozen=True, slots=True)
class CountResult:
    """COUNT result: stored records and their seq range (0, 0 when empty)."""

    count: int
    oldest_seq: int
    newest_seq: int
    layout: ClassVar[str] = "<III"


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """A stored image: id, size, CRC32 and capture time (0 when the clock was unset)."""

    image_id: int
    size: int
    crc32: int
    epoch: int
    layout: ClassVar[str] = "<HIII"


@dataclass(frozen=True, slots=True)
class ImageDone:
    """End of IMG_GET: the whole image's size and CRC32 for the hub to verify."""

    image_id: int
    size: int
    crc32: int
    layout: ClassVar[str] = "<HII"


_ENTRY_LEN: Final = struct.calcsize(ImageEntry.layout)


@dataclass(frozen=True, slots=True)
class ImageListPage:
    """IMG_LIST result: images in ascending id, and whether more follow."""

    images: tuple[ImageEntry, ...]
    more: bool


ResponseResult = ReportDone | AckDone | CountResult | ImageEntry | ImageListPage | ImageDone
# Which result a SUCCESS carries for each opcode; None = no result bytes.
_RESULT_TYPES: Final[dict[Opcode, type[ResponseResult] | None]] = {
    Opcode.REPORT_SINCE: ReportDone,
    Opcode.ACK_UPTO: AckDone,
    Opcode.COUNT: CountResult,
    Opcode.CAPTURE: ImageEntry,
    Opcode.IMG_LIST: ImageListPage,
    Opcode.IMG_GET: ImageDone,
    Opcode.IMG_DELETE: None,
    Opcode.ABORT: None,
}
_FIXED_RESULT_TYPES: Final[
    dict[Opcode, type[ReportDone | AckDone | CountResult | ImageEntry | ImageDone]]
] = {
    Opcode.REPORT_SINCE: ReportDone,
    Opcode.ACK_UPTO: AckDone,
    Opcode.COUNT: CountResult,
    Opcode.CAPTURE: ImageEntry,
    Opcode.IMG_GET: ImageDone,
}


def max_images_per_page(payload: int) -> int:
    """How many image entries an IMG_LIST response holds in ``payload`` bytes."""
    return max(0, (payload - 5) // _ENTRY_LEN)


def _encode_result(result: ResponseResult) -> bytes:
    match result:
        case ImageListPage(images, more):
            if len(images) > 255:
                raise ProtocolError("IMG_LIST page holds at most 255 images")
            body = b"".join(_encode_result(entry) for entry in images)
            return bytes([len(images), int(more)]) + body
        case ReportDone(count, last_seq):
            return _pack(result.layout, "REPORT_SINCE result", count, last_seq)
        case AckDone(remaining):
            return _pack(result.layout, "ACK_UPTO result", remaining)
        case CountResult(count, oldest, newest):
            return _pack(result.layout, "COUNT result", count, oldest, newest)
        case ImageEntry(image_id, size, crc, epoch):
            return _pack(result.layout, "image entry", image_id, size, crc, epoch)
        case ImageDone(image_id, size, crc):
            return _pack(result.layout, "IMG_GET result", image_id, size, crc)
    raise ProtocolError(f"not a Control Point result: {result!r}")


def _decode_image_list(data: bytes) -> ImageListPage:
    if len(data) < 2:
        raise ProtocolError("IMG_LIST response too short")
    count, more = data[0], data[1]
    if more > 1:
        raise ProtocolError("IMG_LIST 'more' must be 0 or 1")
    body = data[2:]
    if len(body) != count * _ENTRY_LEN:
        raise ProtocolError("IMG_LIST entry count does not match its length")
    entries = tuple(
        ImageEntry(*struct.unpack_from(ImageEntry.layout, body, i * _ENTRY_LEN))
        for i in range(count)
    )
    return ImageListPage(entries, bool(more))


def _decode_result(opcode: Opcode, data: bytes) -> ResponseResult | None:
    if opcode is Opcode.IMG_LIST:
        return _decode_image_list(data)
    fixed = _FIXED_RESULT_TYPES.get(opcode)
    if fixed is None:
        if data:
            raise ProtocolError(f"{opcode.name} response carries unexpected bytes")
        return None
    return fixed(*_unpack(fixed.layout, data, f"{opcode.name} result"))


@dataclass(frozen=True, slots=True)
class ControlResponse:
    """A Control Point indication: the request's opcode, its status and (on SUCCESS) result."""

    opcode: Opcode
    status: Status
    result: ResponseResult | None = None

    def _check(self) -> None:
        expected = _RESULT_TYPES[self.opcode] if self.status is Status.SUCCESS else None
        actual = type(self.result) if self.result is not None else None
        if actual is not expected:
            raise ProtocolError(
                f"{self.opcode.name}/{self.status.name} carries "
                f"{expected.__name__ if expected else 'no result'}, not "
                f"{actual.__name__ if actual else 'none'}"
            )

    def encode(self) -> bytes:
        """Encode as the Control Point indication value."""
        self._check()
        head = bytes([RESPONSE_CODE, self.opcode, self.status])
        return head + (_encode_result(self.result) if self.result is not None else b"")

    @classmethod
    def decode(cls, data: bytes) -> ControlResponse:
        """Decode a Control Point indication."""
        if len(data) < 3 or data[0] != RESPONSE_CODE:
            raise ProtocolError("control point: not a response indication")
        try:
            opcode, status = Opcode(data[1]), Status(data[2])
        except ValueError as exc:
            raise ProtocolError(f"control point: {exc}") from exc
        if status is not Status.SUCCESS:
            if len(data) != 3:
                raise ProtocolError("control point: error response carries a result")
            return cls(opcode, status)
        return cls(opcode, status, _decode_result(opcode, data[3:]))


# ---------------------------------------------------------------- Records

_RECORD_HEAD: Final = "<IIB"
_RECORD_HEAD_LEN: Final = struct.calcsize(_RECORD_HEAD)


@dataclass(frozen=True, slots=True)
class Record:
    """A stored measurement sent on backfill: its seq, UTC time (0 = unknown) and readings."""

    seq: int
    epoch: int
    values: Mapping[Metric, float] = field(default_factory=dict)

    def encode(self) -> bytes:
        """Encode one record (header + BTHome objects)."""
        try:
            objects = encode_objects(self.values)
        except ValueError as exc:
            raise ProtocolError(f"record {self.seq}: {exc}") from exc
        return _pack(_RECORD_HEAD, "record", self.seq, self.epoch, len(objects)) + objects


def encode_records(records: Sequence[Record]) -> bytes:
    """Encode records back to back as one Records notification value."""
    return b"".join(record.encode() for record in records)


def decode_records(data: bytes) -> list[Record]:
    """Decode one Records notification into its records (at least one)."""
    if not data:
        raise ProtocolError("records: empty notification")
    records: list[Record] = []
    pos = 0
    while pos < len(data):
        if pos + _RECORD_HEAD_LEN > len(data):
            raise ProtocolError("records: truncated record header")
        seq, epoch, length = struct.unpack_from(_RECORD_HEAD, data, pos)
        start = pos + _RECORD_HEAD_LEN
        objects = data[start : start + length]
        if len(objects) != length:
            raise ProtocolError(f"records: record {seq} truncated")
        try:
            values = decode_objects(objects)
        except Malformed as exc:
            raise ProtocolError(f"records: record {seq}: {exc}") from exc
        records.append(Record(seq, epoch, values))
        pos = start + length
    return records


def pack_records(records: Sequence[Record], payload: int) -> list[bytes]:
    """Group records into notification values of at most ``payload`` bytes, never splitting one."""
    notifications: list[bytes] = []
    current = b""
    for record in records:
        encoded = record.encode()
        if len(encoded) > payload:
            raise ProtocolError(
                f"record {record.seq} needs {len(encoded)} bytes, MTU allows {payload}"
            )
        if len(current) + len(encoded) > payload:
            notifications.append(current)
            current = b""
        current += encoded
    if current:
        notifications.append(current)
    return notifications


# ---------------------------------------------------------------- ImageData

_CHUNK_HEAD: Final = "<HI"
_CHUNK_HEAD_LEN: Final = struct.calcsize(_CHUNK_HEAD)


@dataclass(frozen=True, slots=True)
class ImageChunk:
    """One ImageData notification: bytes of image ``image_id`` starting at ``offset``."""

    image_id: int
    offset: int
    data: bytes

    def encode(self) -> bytes:
        """Encode as an ImageData notification value."""
        if self.image_id == 0 or not self.data:
            raise ProtocolError("image chunk needs an image id > 0 and at least one byte")
        return _pack(_CHUNK_HEAD, "image chunk", self.image_id, self.offset) + self.data

    @classmethod
    def decode(cls, data: bytes) -> ImageChunk:
        """Decode an ImageData notification value."""
        if len(data) <= _CHUNK_HEAD_LEN:
            raise ProtocolError("image chunk: no image bytes")
        image_id, offset = struct.unpack_from(_CHUNK_HEAD, data)
        if image_id == 0:
            raise ProtocolError("image chunk: image id 0 is reserved")
        return cls(image_id, offset, bytes(data[_CHUNK_HEAD_LEN:]))


def image_chunks(
    image_id: int, image: bytes, payload: int, offset: int = 0
) -> Iterator[ImageChunk]:
    """Split ``image`` from ``offset`` into chunks that fill ``payload``-byte notifications."""
    step = payload - _CHUNK_HEAD_LEN
    if step <= 0:
        raise ProtocolError("MTU too small for image chunks")
    if not 0 <= offset <= len(image):
        raise ProtocolError(f"offset {offset} outside image of {len(image)} bytes")
    for start in range(offset, len(image), step):
        yield ImageChunk(image_id, start, image[start : start + step])


class ImageAssembler:
    """Reassemble one image from ImageData chunks, for resumable transfers.

    ``held`` is the contiguous byte count received: the offset to resume with IMG_GET.
    Chunks must arrive exactly at ``held``; gaps and overlaps are refused rather than patched,
    because the node sends in order and anything else means a lost or stale notification.
    """

    __slots__ = ("_buffer", "expected_size", "image_id")

    def __init__(self, image_id: int, expected_size: int | None = None) -> None:
        """Start assembling ``image_id``; ``expected_size`` (from IMG_LIST) bounds memory use."""
        self.image_id = image_id
        self.expected_size = expected_size
        self._buffer = bytearray()

    @property
    def held(self) -> int:
        """Contiguous bytes received so far (the resume offset)."""
        return len(self._buffer)

    def add(self, chunk: ImageChunk) -> None:
        """Append a chunk; raises ProtocolError for another image, a gap, an overlap or overflow."""
        if chunk.image_id != self.image_id:
            raise ProtocolError(f"chunk of image {chunk.image_id}, assembling {self.image_id}")
        if chunk.offset > self.held:
            raise ProtocolError(f"chunk at {chunk.offset} leaves a gap after {self.held}")
        if chunk.offset < self.held:
            raise ProtocolError(f"chunk at {chunk.offset} overlaps bytes held up to {self.held}")
        if self.expected_size is not None and self.held + len(chunk.data) > self.expected_size:
            raise ProtocolError(f"chunk runs past the image size {self.expected_size}")
        self._buffer += chunk.data

    def finish(self, done: ImageDone) -> bytes:
        """Verify the IMG_GET completion (size and CRC32) and return the whole image."""
        if done.image_id != self.image_id:
            raise ProtocolError(f"completion for image {done.image_id}, assembling {self.image_id}")
        if done.size != self.held:
            raise ProtocolError(f"image {self.image_id}: hold {self.held} of {done.size} bytes")
        image = bytes(self._buffer)
        if crc32(image) != done.crc32:
            raise ProtocolError(f"image {self.image_id}: CRC32 mismatch")
        return image
