"""Batch validation with a fast path that accepts exactly what ``shared.sync.ReadingIn`` accepts.

The fast path validates the whole list in pydantic-core (Rust) against a dataclass whose
constraints are the ones ``ReadingIn`` checks in Python (ranges from ``shared.units``,
finite numbers, canonical MAC). Items it refuses, and items without any metric, go through
``shared.sync.parse_readings`` one by one, which gives the authoritative verdict and message.
So the fast path never accepts an item ``ReadingIn`` would refuse, and never loses one it
would accept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from shared.sync import U32_MAX, ItemRejection, ReadingIn, parse_readings
from shared.units import RANGES, Metric

_CANONICAL_MAC = r"^[0-9A-F]{2}(?::[0-9A-F]{2}){5}$"
SOURCE_CODES: dict[str, int] = {"advert": 0, "backfill": 1}

_M = RANGES[Metric.MOISTURE]
_T = RANGES[Metric.TEMPERATURE]
_H = RANGES[Metric.HUMIDITY]
_L = RANGES[Metric.ILLUMINANCE]
_B = RANGES[Metric.BATTERY]


@dataclass(slots=True, config=ConfigDict(extra="forbid"))
class ValidReading:
    """A validated reading as stored (field names are the wire names)."""

    node_mac: Annotated[str, Field(pattern=_CANONICAL_MAC)]
    measured_at: AwareDatetime
    seq: Annotated[int, Field(ge=0, le=U32_MAX)] | None = None
    source: Literal["advert", "backfill"] = "advert"
    moisture: Annotated[float, Field(ge=_M.minimum, le=_M.maximum, allow_inf_nan=False)] | None = (
        None
    )
    temperature: (
        Annotated[float, Field(ge=_T.minimum, le=_T.maximum, allow_inf_nan=False)] | None
    ) = None
    humidity: Annotated[float, Field(ge=_H.minimum, le=_H.maximum, allow_inf_nan=False)] | None = (
        None
    )
    illuminance: (
        Annotated[float, Field(ge=_L.minimum, le=_L.maximum, allow_inf_nan=False)] | None
    ) = None
    battery: Annotated[float, Field(ge=_B.minimum, le=_B.maximum, allow_inf_nan=False)] | None = (
        None
    )


_fast_list: TypeAdapter[list[ValidReading]] = TypeAdapter(list[ValidReading])


def _from_model(model: ReadingIn) -> ValidReading:
    reading = ValidReading.__new__(ValidReading)
    reading.node_mac = model.node_mac
    reading.measured_at = model.measured_at
    reading.seq = model.seq
    reading.source = model.source.value
    reading.moisture = model.moisture
    reading.temperature = model.temperature
    reading.humidity = model.humidity
    reading.illuminance = model.illuminance
    reading.battery = model.battery
    return reading


def validate_readings(
    raw: list[Any],
) -> tuple[list[int], list[ValidReading], list[ItemRejection]]:
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
    valid: list[ValidReading] = []
    slow = sorted(failed)
    for index, reading in zip(passing, fast, strict=True):
        if (
            reading.moisture is None
            and reading.temperature is None
            and reading.humidity is None
            and reading.illuminance is None
            and reading.battery is None
        ):
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


def measured_at(reading: ValidReading) -> datetime:
    """Sort key: the measurement time."""
    return reading.measured_at
