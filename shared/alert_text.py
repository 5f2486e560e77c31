"""Alert texts in the gardener's words: the plant's current name and their temperature unit.

An alert keeps the value and the limit it opened on, and its text is written when it is shown,
so a renamed plant's alerts carry the new name and a gardener who reads °F sees °F. Pure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from shared.metrics import DLI, SPECS, Metric

TemperatureUnit = Literal["C", "F"]


def in_unit(metric: Metric, value: float, unit: TemperatureUnit) -> tuple[float, str]:
    """A value of ``metric`` in the gardener's unit, with the unit's symbol."""
    if metric is Metric.TEMPERATURE and unit == "F":
        return value * 9 / 5 + 32, "°F"
    return value, SPECS[metric].unit


def _value_and_limit(
    metric: Metric, value: float, bound: float, unit: TemperatureUnit
) -> tuple[str, str]:
    """Both numbers with the metric's decimals, one more while rounding makes them equal
    ("50.3 % above 50.0 %", never "50 % above 50 %")."""
    (shown, symbol), (limit, _) = in_unit(metric, value, unit), in_unit(metric, bound, unit)
    digits = SPECS[metric].decimals
    while digits < 2 and f"{shown:.{digits}f}" == f"{limit:.{digits}f}":
        digits += 1
    return f"{shown:.{digits}f} {symbol}", f"{limit:.{digits}f} {symbol}"


def describe(
    kind: str,
    *,
    subject: str,
    metric: Metric | None,
    rule: str | None,
    value: float | None,
    bound: float | None,
    opened_at: datetime,
    unit: TemperatureUnit = "C",
    fallback: str,
) -> str:
    """The alert's text; ``fallback`` (the text stored at opening) when the facts are missing."""
    if kind in ("low", "high") and metric is not None and value is not None and bound is not None:
        side = "below" if kind == "low" else "above"
        if rule == DLI.name:
            limit = "minimum" if kind == "low" else "maximum"
            day = (opened_at - timedelta(days=1)).date()
            return (
                f"{subject}: daily light integral {value:g} {DLI.unit} on "
                f"{day:%Y-%m-%d} {side} the plant's {limit} {bound:g}"
            )
        label = SPECS[metric].label.lower()
        shown, limit = _value_and_limit(metric, value, bound, unit)
        return f"{subject}: {label} {shown} {side} {limit}"
    if kind == "stale" and value is not None:
        return f"{subject}: no data for {value:.0f} min"
    if kind == "low_battery" and value is not None:
        return f"{subject}: battery at {value:.0f} %"
    return fallback
