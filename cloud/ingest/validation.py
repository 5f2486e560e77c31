"""Batch validation: a columnar fast path, and an item-by-item path with the same verdicts.

``fast_columns`` checks a batch of plain good readings column by column (numpy, C-level
``map``) and yields columns ready for the binary COPY; any unusual item sends the whole
batch to ``validate_readings``. That one validates the list in pydantic-core (Rust) against
a dataclass whose constraints are the ones ``ReadingIn`` checks in Python (ranges from
``shared.metrics``, finite numbers, canonical MAC); items it refuses, and items without any
metric, go through ``shared.sync.parse_readings`` one by one, which gives the authoritative
verdict and message. Neither path accepts an item ``ReadingIn`` would refuse, nor loses one
it would accept.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass as plain_dataclass
from dataclasses import field as dataclass_field
from dataclasses import make_dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, ConfigDict, Field, StrictFloat, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from shared.mac import normalize_mac
from shared.metrics import METRIC_NAMES, SPECS, Metric
from shared.sync import MAX_CHANNEL, U32_MAX, ItemRejection, ReadingIn, parse_readings

_CANONICAL_MAC = r"^[0-9A-F]{2}(?::[0-9A-F]{2}){5}$"
SOURCE_CODES: dict[str, int] = {"advert": 0, "backfill": 1, "poll": 2}


def _metric_field(metric: Metric) -> Any:
    entry = SPECS[metric]
    bounded = Annotated[StrictFloat, Field(ge=entry.minimum, le=entry.maximum, allow_inf_nan=False)]
    return (bounded | None, dataclass_field(default=None))


# A validated reading as stored (field names are the wire names): key fields, then one
# optional, range-checked field per registry metric.
ValidReading: Any = dataclass(
    make_dataclass(
        "ValidReading",
        [
            ("node_mac", Annotated[str, Field(pattern=_CANONICAL_MAC)]),
            ("measured_at", AwareDatetime),
            (
                "channel",
                Annotated[int, Field(ge=0, le=MAX_CHANNEL)],
                dataclass_field(default=0),
            ),
            ("seq", Annotated[int, Field(ge=0, le=U32_MAX)] | None, dataclass_field(default=None)),
            ("source", Literal["advert", "backfill", "poll"], dataclass_field(default="advert")),
            *((metric.value, *_metric_field(metric)) for metric in Metric),
        ],
        slots=True,
    ),
    config=ConfigDict(extra="forbid"),
)

_fast_list: TypeAdapter[list[Any]] = TypeAdapter(list[ValidReading])


def _from_model(model: ReadingIn) -> Any:
    reading = ValidReading.__new__(ValidReading)
    reading.node_mac = model.node_mac
    reading.measured_at = model.measured_at
    reading.channel = model.channel
    reading.seq = model.seq
    reading.source = model.source.value
    for metric in Metric:
        setattr(reading, metric.value, model.value(metric))
    return reading


def validate_readings(
    raw: list[Any],
) -> tuple[list[int], list[Any], list[ItemRejection]]:
    """Split raw items into (indexes, valid readings) and rejections sorted by index."""
    try:
        fast = _fast_list.validate_python(raw)
        failed: set[int] = set()
        passing = range(len(raw))
    except ValidationError as exc:
        failed = {
            err["loc"][0]
            for err in exc.errors(include_url=False, include_input=False)
            if err["loc"] and isinstance(err["loc"][0], int)
        }
        if not failed:
            failed = set(range(len(raw)))
        passing = [index for index in range(len(raw)) if index not in failed]  # type: ignore[assignment]
        fast = _fast_list.validate_python([raw[index] for index in passing])
    indexes: list[int] = []
    valid: list[Any] = []
    slow = sorted(failed)
    for index, reading in zip(passing, fast, strict=True):
        if all(getattr(reading, name) is None for name in METRIC_NAMES):
            slow.append(index)  # no metric at all: parse_readings words the rejection
            continue
        indexes.append(index)
        valid.append(reading)
    if not slow:
        return indexes, valid, []
    slow.sort()
    slow_valid, slow_rejected = parse_readings([raw[index] for index in slow])
    merged = list(zip(indexes, valid, strict=True))
    merged += [(slow[position], _from_model(model)) for position, model in slow_valid]
    merged.sort(key=lambda pair: pair[0])
    rejected = [
        rejection.model_copy(update={"index": slow[rejection.index]}) for rejection in slow_rejected
    ]
    return [pair[0] for pair in merged], [pair[1] for pair in merged], rejected


# --- columnar fast path -------------------------------------------------------------------------

_ITEM_KEYS = frozenset(("node_mac", "measured_at", "channel", "seq", "source", *METRIC_NAMES))
_MAC_FORMAT = re.compile(_CANONICAL_MAC)
_LOWS = np.array([SPECS[metric].minimum for metric in Metric])
_HIGHS = np.array([SPECS[metric].maximum for metric in Metric])
_NUMBER_TYPES = frozenset((int, float, type(None)))
_SEQ_TYPES = frozenset((int, type(None)))
# The UTC forms hubs send: seconds, milliseconds (SQLite's %f) or microseconds, then "Z".
_TIME_LENGTHS = frozenset((20, 24, 27))
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Years whose microsecond timestamps stay exact through a float (the item-by-item path's
# arithmetic): the fast path takes only these, so both paths store the same instant.
_FAST_YEARS = (1971, 2200)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@plain_dataclass(slots=True)
class ReadingColumns:
    """Valid readings as columns; row ``i`` is batch item ``indexes[i]``.

    ``metrics`` holds the registry's metrics in ``Metric`` order with NaN where a metric is
    missing (a valid reading is always finite); ``seq`` is -1 where missing; ``micros`` is
    measured_at in microseconds since the Unix epoch; ``channel`` the sensor index.
    """

    indexes: npt.NDArray[np.int64]
    macs: list[str]
    micros: npt.NDArray[np.int64]
    seq: npt.NDArray[np.int64]
    source: npt.NDArray[np.int16]
    metrics: npt.NDArray[np.float64]
    channel: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.macs)


@plain_dataclass(slots=True)
class NodeReadings:
    """One node's staged readings in time order (ties in batch order): times and metrics."""

    micros: npt.NDArray[np.int64]
    metrics: npt.NDArray[np.float64]

    def column(self, metric: Metric) -> npt.NDArray[np.float64]:
        """The values of one metric (NaN where the reading lacks it)."""
        return self.metrics[:, METRIC_NAMES.index(metric.value)]

    def at(self, row: int) -> datetime:
        """measured_at of a row, in UTC."""
        return utc_from_micros(int(self.micros[row]))


def utc_from_micros(micros: int) -> datetime:
    """The UTC datetime ``micros`` microseconds after the Unix epoch."""
    return _UNIX_EPOCH + timedelta(microseconds=micros)


def _micros(times: list[datetime]) -> npt.NDArray[np.int64]:
    # Same float arithmetic as round(at.timestamp() * 1e6): exact below 2**52 microseconds.
    seconds = np.fromiter(map(datetime.timestamp, times), dtype=np.float64, count=len(times))
    return np.rint(seconds * 1e6).astype(np.int64)


def _number(chars: npt.NDArray[np.int64], first: int, last: int) -> npt.NDArray[np.int64]:
    value = np.zeros(len(chars), dtype=np.int64)
    for position in range(first, last):
        value = value * 10 + chars[:, position]
    return value


def _canonical_micros(values: list[Any]) -> npt.NDArray[np.int64] | None:
    """Microseconds since the epoch when every value is a well-formed UTC timestamp string
    of one length (``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z``) for a real date, else None.

    Parsed with integer arithmetic on the characters, all rows at once; any other form
    (offsets, other precisions, odd years) is left to pydantic on the item-by-item path.
    """
    if set(map(type, values)) != {str}:
        return None
    lengths = set(map(len, values))
    if len(lengths) != 1:
        return None
    length = lengths.pop()
    if length not in _TIME_LENGTHS:
        return None
    codes = np.array(values, dtype=f"<U{length}").view(np.uint32).reshape(len(values), length)
    literals = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", length - 1: "Z"}
    if length > 20:
        literals[19] = "."
    for position, char in literals.items():
        if not np.all(codes[:, position] == ord(char)):
            return None
    chars = codes.astype(np.int64) - ord("0")
    digits = chars[:, [p for p in range(length) if p not in literals]]
    if not np.all((digits >= 0) & (digits <= 9)):
        return None
    year, month, day = _number(chars, 0, 4), _number(chars, 5, 7), _number(chars, 8, 10)
    hour, minute, second = _number(chars, 11, 13), _number(chars, 14, 16), _number(chars, 17, 19)
    if year.min() < _FAST_YEARS[0] or year.max() > _FAST_YEARS[1]:
        return None
    if month.min() < 1 or month.max() > 12 or day.min() < 1:
        return None
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    if np.any(day > _DAYS_IN_MONTH[month] + (leap & (month == 2))):
        return None
    if hour.max() > 23 or minute.max() > 59 or second.max() > 59:
        return None
    # Days since 1970-01-01 from the civil date (H. Hinnant's days_from_civil).
    shifted = year - (month <= 2)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    micros: npt.NDArray[np.int64] = (days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000
    if length > 20:
        micros += _number(chars, 20, length - 1) * 10 ** (27 - length)
    return micros


def _source_codes(sources: list[str]) -> npt.NDArray[np.int16]:
    if set(sources) == {"advert"}:
        return np.full(len(sources), SOURCE_CODES["advert"], dtype=np.int16)
    return np.array([SOURCE_CODES[source] for source in sources], dtype=np.int16)


def fast_columns(items: list[Any]) -> ReadingColumns | None:
    """Every item validated column by column, or None when any item needs ``validate_readings``.

    Accepts only items ``shared.sync.ReadingIn`` accepts, with the same values: objects with
    known keys, canonical MACs, UTC timestamps, int/float metrics inside their ranges with
    at least one present, int seq in range, a known source. Any unusual item sends the
    whole batch to the item-by-item path, which words the rejections.
    """
    n = len(items)
    if n == 0 or set(map(type, items)) != {dict}:
        return None
    if not set().union(*items) <= _ITEM_KEYS:
        return None
    get = dict.get
    macs: list[Any] = list(map(get, items, repeat("node_mac")))
    for mac in set(macs):
        if type(mac) is not str or not _MAC_FORMAT.fullmatch(mac) or normalize_mac(mac) != mac:
            return None
    micros = _canonical_micros(list(map(get, items, repeat("measured_at"))))
    if micros is None:
        return None
    sources = list(map(get, items, repeat("source"), repeat("advert")))
    if not set(sources) <= SOURCE_CODES.keys():
        return None
    seq_values: list[Any] = list(map(get, items, repeat("seq")))
    seq_types = set(map(type, seq_values))
    if not seq_types <= _SEQ_TYPES:
        return None
    present_seq = seq_values
    if type(None) in seq_types:
        present_seq = [value for value in seq_values if value is not None]
        seq_values = [-1 if value is None else value for value in seq_values]
    if present_seq and (min(present_seq) < 0 or max(present_seq) > U32_MAX):
        return None
    channels: list[Any] = list(map(get, items, repeat("channel"), repeat(0)))
    if set(map(type, channels)) != {int} or min(channels) < 0 or max(channels) > MAX_CHANNEL:
        return None
    metrics = np.empty((n, len(METRIC_NAMES)), dtype=np.float64)
    for column, name in enumerate(METRIC_NAMES):
        values: list[Any] = list(map(get, items, repeat(name)))
        types = set(map(type, values))
        if not types <= _NUMBER_TYPES:
            return None
        if type(None) in types:
            values = [math.nan if value is None else value for value in values]
        try:
            metrics[:, column] = values
        except OverflowError:  # an int too large for a float: pydantic refuses it too
            return None
    with np.errstate(invalid="ignore"):
        if ((metrics < _LOWS) | (metrics > _HIGHS)).any():
            return None
    if not (~np.isnan(metrics)).any(axis=1).all():
        return None  # a reading without any metric: parse_readings words the rejection
    return ReadingColumns(
        indexes=np.arange(n, dtype=np.int64),
        macs=macs,
        micros=micros,
        seq=np.array(seq_values, dtype=np.int64),
        source=_source_codes(sources),
        metrics=metrics,
        channel=np.array(channels, dtype=np.int16),
    )


def batch_digest(size: int, columns: ReadingColumns, rejected: Sequence[ItemRejection]) -> str:
    """SHA-256 of what a batch says once validated (values, not their JSON spelling): a batch
    id re-sent with these contents is a replay, with other contents a conflict."""
    digest = hashlib.sha256(size.to_bytes(8, "little"))
    digest.update("\n".join(columns.macs).encode())
    arrays = [columns.indexes, columns.micros, columns.seq, columns.source, columns.metrics]
    if columns.channel.any():
        # Only then: a batch of channel-0 readings keeps the digest it had before channels.
        arrays.append(columns.channel)
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr([(item.index, item.reason.value) for item in rejected]).encode())
    return digest.hexdigest()


def columns_from_valid(indexes: list[int], valid: list[Any]) -> ReadingColumns:
    """Columns of readings validated item by item (the path for batches with unusual items)."""
    metrics = np.array(
        [
            [math.nan if (value := getattr(r, name)) is None else value for name in METRIC_NAMES]
            for r in valid
        ],
        dtype=np.float64,
    ).reshape(len(valid), len(METRIC_NAMES))
    return ReadingColumns(
        indexes=np.array(indexes, dtype=np.int64),
        macs=[reading.node_mac for reading in valid],
        micros=_micros([reading.measured_at for reading in valid]),
        seq=np.array([-1 if r.seq is None else r.seq for r in valid], dtype=np.int64),
        source=np.array([SOURCE_CODES[r.source] for r in valid], dtype=np.int16),
        metrics=metrics,
        channel=np.array([r.channel for r in valid], dtype=np.int16),
    )
