"""Batch validation with a fast path that accepts exactly what ``shared.sync.ReadingIn`` accepts.

The fast path validates the whole list in pydantic-core (Rust) against a TypedDict whose
constraints are the ones ``ReadingIn`` checks in Python (ranges from ``shared.units``,
finite numbers, canonical MAC). Items it refuses, and items without any metric, go through
``shared.sync.parse_readings`` one by one, which gives the authoritative verdict and message.
So the fast path never accepts an item ``ReadingIn`` would refuse, and never loses one it
would accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from shared.sync import U32_MAX, ItemRejection, ReadingSource, parse_readings
from shared.units import RANGES, Metric

_CANONICAL_MAC = r"^[0-9A-F]{2}(?::[0-9A-F]{2}){5}$"
SOURCE_CODES: dict[str, int] = {ReadingSource.ADVERT.value: 0, ReadingSource.BACKFILL.value: 1}


def _metric(metric: Metric) -> Any:
    limits = RANGES[metric]
    return Annotated[float | None, Field(ge=limits.minimum, le=limits.maximum, allow_inf_nan=False)]


class _FastReading(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    node_mac: Annotated[str, Field(pattern=_CANONICAL_MAC)]
    measured_at: AwareDatetime
    seq: NotRequired[Annotated[int, Field(ge=0, le=U32_MAX)] | None]
    source: NotRequired[Literal["advert", "backfill"]]
    moisture: NotRequired[_metric(Metric.MOISTURE)]  # type: ignore[valid-type]
    temperature: NotRequired[_metric(Metric.TEMPERATURE)]  # type: ignore[valid-type]
    humidity: NotRequired[_metric(Metric.HUMIDITY)]  # type: ignore[valid-type]
    illuminance: NotRequired[_metric(Metric.ILLUMINANCE)]  # type: ignore[valid-type]
    battery: NotRequired[_metric(Metric.BATTERY)]  # type: ignore[valid-type]


_fast_list = TypeAdapter(list[_FastReading])
_METRIC_KEYS = tuple(metric.value for metric in Metric)


@dataclass(frozen=True, slots=True)
class ValidReading:
    """A validated reading: its index in the batch and the values to store."""

    index: int
    mac: str
    measured_at: datetime
    seq: int | None
    source: int
    moisture: float | None
    temperature: float | None
    humidity: float | None
    illuminance: float | None
    battery: float | None


def _from_fast(index: int, item: dict[str, Any]) -> ValidReading | None:
    get = item.get
    values = [get(key) for key in _METRIC_KEYS]
    if values.count(None) == len(values):
        return None  # no metric: let parse_readings say so
    return ValidReading(
        index,
        item["node_mac"],
        item["measured_at"],
        get("seq"),
        SOURCE_CODES[get("source", "advert")],
        *values,
    )


def validate_readings(raw: list[Any]) -> tuple[list[ValidReading], list[ItemRejection]]:
    """Split a batch's raw items into valid readings and rejections (sorted by index)."""
    try:
        fast_items: list[dict[str, Any]] = _fast_list.validate_python(raw)  # type: ignore[assignment]
        failed: set[int] = set()
    except ValidationError as exc:
        failed = {
            err["loc"][0]
            for err in exc.errors(include_url=False, include_input=False)
            if err["loc"] and isinstance(err["loc"][0], int)
        }
        if not failed:  # the list itself is malformed; validate item by item
            failed = set(range(len(raw)))
        passing = [item for index, item in enumerate(raw) if index not in failed]
        fast_items = _fast_list.validate_python(passing)  # type: ignore[assignment]
    valid: list[ValidReading] = []
    slow: list[int] = sorted(failed)
    passing_indexes = (index for index in range(len(raw)) if index not in failed)
    for index, item in zip(passing_indexes, fast_items, strict=True):
        reading = _from_fast(index, item)
        if reading is None:
            slow.append(index)
        else:
            valid.append(reading)
    rejected: list[ItemRejection] = []
    if slow:
        slow.sort()
        slow_valid, slow_rejected = parse_readings([raw[index] for index in slow])
        for position, model in slow_valid:
            valid.append(
                ValidReading(
                    slow[position],
                    model.node_mac,
                    model.measured_at,
                    model.seq,
                    SOURCE_CODES[model.source.value],
                    model.moisture,
                    model.temperature,
                    model.humidity,
                    model.illuminance,
                    model.battery,
                )
            )
        rejected = [
            rejection.model_copy(update={"index": slow[rejection.index]})
            for rejection in slow_rejected
        ]
        valid.sort(key=lambda reading: reading.index)
    return valid, rejected
