"""The metric registry: one entry per quantity a node reports, used by both tiers.

Every list of metrics in the project is derived from ``REGISTRY``: the hub's columns and sync
select, the sync wire schema, the cloud's staging/insert/rollup SQL and COPY layout, history
points, CSV columns, threshold fields, alert rules and both UIs' labels (served by
``GET /api/v1/metrics``). Adding a metric is adding an entry here (plus the storage migrations
and, for Plant-Vita nodes, the firmware encoder). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, StrictFloat


class Metric(StrEnum):
    """A quantity a node measures. Values are the column and wire names used on both tiers."""

    MOISTURE = "moisture"
    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"
    ILLUMINANCE = "illuminance"
    BATTERY = "battery"
    CONDUCTIVITY = "conductivity"


class Role(StrEnum):
    """Whether a metric describes the plant's conditions or the node itself."""

    PLANT = "plant"  # species thresholds apply, shown as the plant's conditions
    NODE = "node"  # a property of the device (battery), not a plant need


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """How far back inside a limit a value must come before an open alert resolves.

    The band at ``limit`` is ``max(absolute, relative * |limit|)`` in the metric's unit: one
    rule for every metric and for the daily light integral, on both tiers.
    """

    absolute: float
    relative: float = 0.0

    def band(self, limit: float) -> float:
        """The resolve band at ``limit``."""
        return max(self.absolute, abs(limit) * self.relative)


@dataclass(frozen=True, slots=True)
class BTHomeObject:
    """How a BTHome v2 object carries a metric: id, byte size, signedness, scale, library key."""

    object_id: int
    size: int
    signed: bool
    scale: int  # raw integer = round(value * scale)
    key: str  # bthome-ble's sensor key (its device class) for this object


@dataclass(frozen=True, slots=True)
class Storage:
    """How both tiers store a value: the SQL column type (``cloud.db.arrays`` sends it)."""

    sql: str


REAL: Final = Storage("REAL")

RollupKind = Literal["count", "min", "max", "sum"]
# Mergeable aggregates kept per metric in hourly and daily rollups; the mean is sum / count.
ROLLUP_KINDS: Final[tuple[RollupKind, ...]] = ("count", "min", "max", "sum")


@dataclass(frozen=True, slots=True)
class DailyIntegral:
    """A daily quantity derived from one metric's day mean, judged once per completed UTC day.

    Low light is such a quantity: every night is dark, so a low illuminance reading alone
    never alerts; the day's light integral against the plant's range does.
    """

    name: str  # threshold field prefix and alert rule name
    label: str
    unit: str
    decimals: int
    min_samples: int  # a day's mean stands for the integral only with this many readings
    hysteresis: Hysteresis
    from_mean: Callable[[float], float]


def daily_light_integral(mean_lux: float, hours: float = 24.0) -> float:
    """Approximate daily light integral (mol/m²/day) from mean illuminance under daylight.

    Uses the common daylight conversion of 1 µmol/m²/s PPFD ≈ 54 lx.
    """
    ppfd = mean_lux / 54.0
    return ppfd * hours * 3600.0 / 1_000_000.0


DLI: Final = DailyIntegral(
    name="dli",
    label="Daily light integral",
    unit="mol/m²/day",
    decimals=1,
    min_samples=12,
    hysteresis=Hysteresis(0.5, 0.1),
    from_mean=daily_light_integral,
)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """Everything both tiers know of one metric."""

    metric: Metric
    label: str  # what the gardener reads ("Soil moisture")
    unit: str
    minimum: float  # the physically possible range a sensor can report
    maximum: float
    decimals: int  # digits shown in the UIs
    bthome: tuple[BTHomeObject, ...]  # the first is the one Plant-Vita nodes send
    hysteresis: Hysteresis
    role: Role = Role.PLANT
    threshold: str | None = None  # prefix of the species/plant threshold fields (None: none)
    daily: DailyIntegral | None = None  # low values are judged by this daily quantity instead
    compact_above: float | None = None  # UIs show thousands as "12.3k" from this value on
    storage: Storage = REAL
    rollups: tuple[RollupKind, ...] = ROLLUP_KINDS
    # Which encrypted adverts of a Plant-Vita node carry this metric: None every advert, 0 those
    # with an even counter, 1 those with an odd one (all of them do not fit in 31 bytes; see
    # ``shared.bthome.advert_metrics``). Every measurement is whole in the node's records.
    advert_slot: int | None = None

    @property
    def name(self) -> str:
        """The column and wire name."""
        return self.metric.value

    def contains(self, value: float) -> bool:
        """True when ``value`` is a number inside the physical range (NaN is never inside)."""
        return self.minimum <= value <= self.maximum

    def out_of_range(self, value: float) -> str | None:
        """Why ``value`` is not a valid reading of this metric, or None when it is valid."""
        if not self.contains(value):
            limits = f"{self.minimum:g}..{self.maximum:g} {self.unit}"
            return f"{self.name} {value!r} outside {limits}"
        return None

    def columns(self, kinds: tuple[RollupKind, ...] | None = None) -> tuple[str, ...]:
        """Rollup column names of this metric (``moisture_count``, ``moisture_min``, …)."""
        return tuple(f"{self.name}_{kind}" for kind in kinds or self.rollups)


def _bthome(object_id: int, size: int, signed: bool, scale: int, key: str) -> BTHomeObject:
    return BTHomeObject(object_id, size, signed, scale, key)


REGISTRY: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        Metric.MOISTURE,
        label="Soil moisture",
        unit="%",
        minimum=0.0,
        maximum=100.0,
        decimals=0,
        bthome=(_bthome(0x14, 2, False, 100, "moisture"),),
        hysteresis=Hysteresis(3.0),
        threshold="moisture",
    ),
    MetricSpec(
        Metric.TEMPERATURE,
        label="Temperature",
        unit="°C",
        minimum=-40.0,
        maximum=85.0,
        decimals=1,
        bthome=(_bthome(0x02, 2, True, 100, "temperature"),),
        hysteresis=Hysteresis(1.0),
        threshold="temperature",
    ),
    MetricSpec(
        Metric.HUMIDITY,
        label="Air humidity",
        unit="%",
        minimum=0.0,
        maximum=100.0,
        decimals=0,
        bthome=(_bthome(0x03, 2, False, 100, "humidity"),),
        hysteresis=Hysteresis(3.0),
        threshold="humidity",
        advert_slot=0,
    ),
    MetricSpec(
        Metric.ILLUMINANCE,
        label="Light",
        unit="lx",
        minimum=0.0,
        maximum=200_000.0,
        decimals=0,
        bthome=(_bthome(0x05, 3, False, 100, "illuminance"),),
        hysteresis=Hysteresis(50.0, 0.1),
        threshold="light_lux",
        daily=DLI,
        compact_above=10_000.0,
    ),
    MetricSpec(
        Metric.BATTERY,
        label="Battery",
        unit="%",
        minimum=0.0,
        maximum=100.0,
        decimals=0,
        bthome=(_bthome(0x01, 1, False, 1, "battery"),),
        hysteresis=Hysteresis(5.0),
        role=Role.NODE,
    ),
    MetricSpec(
        Metric.CONDUCTIVITY,
        label="Soil conductivity",  # the "fertility" of Xiaomi Flower Care sensors
        unit="µS/cm",
        minimum=0.0,
        maximum=20_000.0,
        decimals=0,
        bthome=(_bthome(0x56, 2, False, 1, "conductivity"),),
        hysteresis=Hysteresis(50.0, 0.1),
        threshold="conductivity",
        compact_above=10_000.0,
        advert_slot=1,
    ),
)

SPECS: Final[dict[Metric, MetricSpec]] = {spec.metric: spec for spec in REGISTRY}
METRIC_NAMES: Final[tuple[str, ...]] = tuple(spec.name for spec in REGISTRY)
# Metrics a plant's species thresholds apply to (battery is a node property, not a plant need).
PLANT_METRICS: Final[tuple[Metric, ...]] = tuple(
    spec.metric for spec in REGISTRY if spec.threshold is not None
)
_BY_NAME: Final = {spec.name: spec for spec in REGISTRY}


def spec(metric: Metric | str) -> MetricSpec:
    """The registry entry of ``metric`` (KeyError for an unknown name)."""
    return SPECS[metric] if isinstance(metric, Metric) else _BY_NAME[metric]


def out_of_range(metric: Metric, value: float) -> str | None:
    """Return why ``value`` is not a valid ``metric`` reading, or None when it is valid."""
    return SPECS[metric].out_of_range(value)


def threshold_pairs() -> Iterator[tuple[str, str]]:
    """(min field, max field) of every threshold range, in registry order."""
    for entry in REGISTRY:
        if entry.threshold is not None:
            yield f"{entry.threshold}_min", f"{entry.threshold}_max"
        if entry.daily is not None:
            yield f"{entry.daily.name}_min", f"{entry.daily.name}_max"


def threshold_fields() -> Iterator[str]:
    """Names of every threshold field (``moisture_min``, …, ``dli_max``), in registry order."""
    for low, high in threshold_pairs():
        yield low
        yield high


def threshold_conflicts(limits: Mapping[str, float | None]) -> list[str]:
    """Why these limits cannot be a plant's ranges: each pair whose minimum is not below its
    maximum (an empty range alerts on every reading). The one validator both tiers use, on
    what a client sends and on what it gives once merged into the species' ranges."""
    problems = []
    for low_name, high_name in threshold_pairs():
        low, high = limits.get(low_name), limits.get(high_name)
        if low is not None and high is not None and low >= high:
            name = low_name.removesuffix("_min").replace("_", " ")
            problems.append(f"{name}: the minimum ({low:g}) must be below the maximum ({high:g})")
    return problems


def metric_fields(
    suffixes: tuple[str, ...] = ("",), default: Any = None, *, strict: bool = False
) -> dict[str, Any]:
    """pydantic ``create_model`` field definitions: one ``float | None`` field per metric and
    suffix (``suffixes=("", "_min", "_max")`` gives ``moisture``, ``moisture_min``, …);
    ``default=...`` makes them required. ``strict``: only JSON numbers (ints and floats), never
    ``true`` or ``"12"`` -- for what clients send."""
    number = StrictFloat if strict else float
    return {
        f"{name}{suffix}": (number | None, default) for name in METRIC_NAMES for suffix in suffixes
    }


# --- the public description served by GET /api/v1/metrics on both tiers ----------------------


class DailyIntegralPublic(BaseModel):
    """A daily quantity derived from a metric (the daily light integral)."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    unit: str
    decimals: int
    min_samples: int


class MetricPublic(BaseModel):
    """One metric as the UIs and API clients see it."""

    model_config = ConfigDict(frozen=True)

    name: Metric
    label: str
    unit: str
    minimum: float
    maximum: float
    decimals: int
    role: Role
    thresholds: bool  # species thresholds apply
    threshold_prefix: str | None  # ``moisture`` → thresholds ``moisture_min``/``moisture_max``
    compact_above: float | None
    daily: DailyIntegralPublic | None


def public_metrics() -> list[MetricPublic]:
    """The registry as the public API serves it, in display order."""
    return [
        MetricPublic(
            name=entry.metric,
            label=entry.label,
            unit=entry.unit,
            minimum=entry.minimum,
            maximum=entry.maximum,
            decimals=entry.decimals,
            role=entry.role,
            thresholds=entry.threshold is not None,
            threshold_prefix=entry.threshold,
            compact_above=entry.compact_above,
            daily=None
            if entry.daily is None
            else DailyIntegralPublic(
                name=entry.daily.name,
                label=entry.daily.label,
                unit=entry.daily.unit,
                decimals=entry.daily.decimals,
                min_samples=entry.daily.min_samples,
            ),
        )
        for entry in REGISTRY
    ]
