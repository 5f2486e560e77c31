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
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, ConfigDict, Field, StrictFloat, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

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


@plain_dataclass(frozen=True, slots=True)
class _TimeForm:
    """Where one length of ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`` has its literal characters,
    each digit's largest value, and what each digit weighs in three numbers: the date as
    YYYYMMDD, the second of the day and the microseconds."""

    literal_at: list[int]
    literals: npt.NDArray[np.uint8]
    digit_at: list[int]
    digit_max: npt.NDArray[np.uint8]
    weights: npt.NDArray[np.int64]


def _time_form(length: int) -> _TimeForm:
    literal = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", length - 1: "Z"}
    if length > 20:
        literal[19] = "."
    digit_at = [p for p in range(length) if p not in literal]
    # position: (field, weight); month, day, hour, minute and second tens: their largest digit
    place = {0: 10**7, 1: 10**6, 2: 10**5, 3: 10**4, 5: 1000, 6: 100, 8: 10, 9: 1}
    clock = {11: 36_000, 12: 3600, 14: 600, 15: 60, 17: 10, 18: 1}
    tens_max = {5: 1, 8: 3, 11: 2, 14: 5, 17: 5}
    weights = np.zeros((len(digit_at), 3), dtype=np.int64)
    for row, position in enumerate(digit_at):
        if position in place:
            weights[row, 0] = place[position]
        elif position in clock:
            weights[row, 1] = clock[position]
        else:
            weights[row, 2] = 10 ** (25 - position)  # fraction digits: 100,000 down to 1
    return _TimeForm(
        list(literal),
        np.array([ord(char) for char in literal.values()], dtype=np.uint8),
        digit_at,
        np.array([tens_max.get(p, 9) for p in digit_at], dtype=np.uint8),
        weights,
    )


_TIME_FORMS = {length: _time_form(length) for length in _TIME_LENGTHS}
_EPOCH_ORDINAL = _UNIX_EPOCH.toordinal()


def _canonical_micros(values: list[Any]) -> npt.NDArray[np.int64] | None:
    """Microseconds since the epoch when every value is a well-formed UTC timestamp string
    of one length (``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z``) for a real date, else None.

    All rows at once, in a few array operations on the characters (a batch is 40 readings:
    each operation's fixed cost is what counts); the dates, few in a batch, by ``date``. Any
    other form (offsets, other precisions, odd years) is left to pydantic on the
    item-by-item path.
    """
    if set(map(type, values)) != {str}:
        return None
    lengths = set(map(len, values))
    form = _TIME_FORMS.get(lengths.pop()) if len(lengths) == 1 else None
    if form is None:
        return None
    try:
        text = "".join(values).encode("ascii")
    except UnicodeEncodeError:
        return None
    codes = np.frombuffer(text, dtype=np.uint8).reshape(len(values), -1)
    if not (codes[:, form.literal_at] == form.literals).all():
        return None
    digits = codes[:, form.digit_at] - np.uint8(ord("0"))  # below "0" wraps past 9
    if not (digits <= form.digit_max).all():
        return None
    fields = digits.astype(np.int64) @ form.weights
    if fields[:, 1].max() >= 86_400:  # hour 24 to 29
        return None
    days_of: dict[int, int] = {}
    for key in set(fields[:, 0].tolist()):
        year, month_day = divmod(key, 10_000)
        if not _FAST_YEARS[0] <= year <= _FAST_YEARS[1]:
            return None
        try:
            days_of[key] = date(year, *divmod(month_day, 100)).toordinal() - _EPOCH_ORDINAL
        except ValueError:  # month 0 or 13, February 30th, ...
            return None
    if len(days_of) == 1:
        days: Any = next(iter(days_of.values()))
    else:
        days = np.array([days_of[key] for key in fields[:, 0].tolist()], dtype=np.int64)
    micros: npt.NDArray[np.int64] = (days * 86_400 + fields[:, 1]) * 1_000_000 + fields[:, 2]
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
    for mac in set(macs):  # the canonical form only: what normalize_mac makes of any other
        if type(mac) is not str or not _MAC_FORMAT.fullmatch(mac):
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
