"""The daily light integral as a status: today so far, yesterday, against the plant's range.

One reading of illuminance says little (every night is dark); the day's integral against the
species' ``dli_min``/``dli_max`` does. The alert engine judges completed days with hysteresis;
this helper gives the UIs and APIs the same verdict for display. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.metrics import DLI, daily_light_integral

DliStatus = Literal["low", "ok", "high", "unknown"]


@dataclass(frozen=True, slots=True)
class DayLight:
    """One UTC day's light: its integral (or None when too few readings) and how it stands."""

    dli: float | None
    samples: int
    hours: float  # hours of the day the integral covers (24 for a completed day)
    status: DliStatus


def integral(mean_lux: float | None, samples: int, hours: float = 24.0) -> float | None:
    """The DLI (mol/m²/day, 2 decimals) from a mean illuminance over ``hours`` of the day, or
    None with fewer than the rule's minimum samples."""
    if mean_lux is None or samples < DLI.min_samples:
        return None
    return round(daily_light_integral(mean_lux, hours), 2)


def status(dli: float | None, low: float | None, high: float | None) -> DliStatus:
    """A completed day's DLI against the plant's range."""
    if dli is None:
        return "unknown"
    if low is not None and dli < low:
        return "low"
    if high is not None and dli > high:
        return "high"
    return "ok"


def today_status(dli_so_far: float | None, high: float | None) -> DliStatus:
    """Today before it ends: only "too much" is certain already (light only adds up)."""
    if dli_so_far is None:
        return "unknown"
    if high is not None and dli_so_far > high:
        return "high"
    return "ok"


def day(
    mean_lux: float | None,
    samples: int,
    low: float | None,
    high: float | None,
    hours: float = 24.0,
) -> DayLight:
    """A day's light with its verdict; ``hours`` < 24 is today so far."""
    value = integral(mean_lux, samples, hours)
    verdict = status(value, low, high) if hours >= 24.0 else today_status(value, high)
    return DayLight(dli=value, samples=samples, hours=hours, status=verdict)
