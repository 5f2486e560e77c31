"""Units and validation ranges of every reading a node can report, used by both tiers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Metric(StrEnum):
    """A quantity a plant node measures. Values are the column names used on both tiers."""

    MOISTURE = "moisture"
    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"
    ILLUMINANCE = "illuminance"
    BATTERY = "battery"


@dataclass(frozen=True, slots=True)
class MetricRange:
    """The unit of a metric and the physically possible range a sensor can report."""

    unit: str
    minimum: float
    maximum: float

    def contains(self, value: float) -> bool:
        """True when ``value`` is a number inside the range (NaN is never inside)."""
        return self.minimum <= value <= self.maximum


RANGES: dict[Metric, MetricRange] = {
    Metric.MOISTURE: MetricRange("%", 0.0, 100.0),
    Metric.TEMPERATURE: MetricRange("°C", -40.0, 85.0),
    Metric.HUMIDITY: MetricRange("%", 0.0, 100.0),
    Metric.ILLUMINANCE: MetricRange("lx", 0.0, 200_000.0),
    Metric.BATTERY: MetricRange("%", 0.0, 100.0),
}

# Metrics a plant's species thresholds apply to (battery is a node property, not a plant need).
PLANT_METRICS: tuple[Metric, ...] = (
    Metric.MOISTURE,
    Metric.TEMPERATURE,
    Metric.HUMIDITY,
    Metric.ILLUMINANCE,
)


def out_of_range(metric: Metric, value: float) -> str | None:
    """Return why ``value`` is not a valid ``metric`` reading, or None when it is valid."""
    allowed = RANGES[metric]
    if not allowed.contains(value):
        limits = f"{allowed.minimum:g}..{allowed.maximum:g} {allowed.unit}"
        return f"{metric.value} {value!r} outside {limits}"
    return None


def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature for display in °F."""
    return celsius * 9.0 / 5.0 + 32.0


# A day's mean illuminance stands for its light integral only with this many readings.
DLI_MIN_SAMPLES = 12


def dli_band(limit: float) -> float:
    """How far back inside a DLI limit a day must be to resolve a light alert (both tiers)."""
    return max(0.5, abs(limit) * 0.1)


def daily_light_integral(mean_lux: float, hours: float = 24.0) -> float:
    """Approximate daily light integral (mol/m²/day) from mean illuminance under daylight.

    Uses the common daylight conversion of 1 µmol/m²/s PPFD ≈ 54 lx.
    """
    ppfd = mean_lux / 54.0
    return ppfd * hours * 3600.0 / 1_000_000.0
