"""Turning a plant's history into what a diagnoser reads: daily summaries and the prompt text."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Final

from cloud.diagnosis.ports import DailyMetricSummary, PlantContext
from shared.metrics import PLANT_METRICS, SPECS, Metric, daily_light_integral

CONTEXT_DAYS: Final = 7

SYSTEM_INSTRUCTION: Final = """\
You are a plant-health assistant for home gardeners. You receive one photo of a potted or garden \
plant and the plant's context: its species, the comfortable ranges for its soil moisture, air \
temperature, humidity and light, a per-day summary of its sensor readings over the last week, \
the canopy cover (fraction of green pixels) of earlier photos, and recent alerts.

Judge the plant's health from the photo first and use the context to explain what you see. \
Distinguish biotic causes (fungi, bacteria, viruses, insects, mites) from abiotic ones (water, \
light, temperature, nutrients, root space). Cite concrete evidence for every finding: a visible \
symptom, or a reading outside the plant's range. If the photo shows no plant, answer \
"not_a_plant"; if it is too dark, blurred or ambiguous to judge, answer "unclear" with a low \
confidence. Never invent readings that are not in the context. Recommend at most five concrete \
actions, most important first, and say when to check again. Answer with JSON only, following \
the response schema."""


def summarize_readings(
    readings: Iterable[tuple[datetime, Mapping[Metric, float]]],
    *,
    now: datetime,
    days: int = CONTEXT_DAYS,
) -> list[DailyMetricSummary]:
    """Min/mean/max per plant metric per UTC day, over the ``days`` days up to ``now``.

    Battery is left out: it describes the node, not the plant.
    """
    since = now - timedelta(days=days)
    buckets: dict[tuple[date, Metric], list[float]] = defaultdict(list)
    for measured_at, values in readings:
        if not since <= measured_at <= now:
            continue
        day = measured_at.astimezone(UTC).date()
        for metric, value in values.items():
            if metric in PLANT_METRICS:
                buckets[(day, metric)].append(value)
    return [
        DailyMetricSummary(
            day=day,
            metric=metric,
            min=min(values),
            mean=sum(values) / len(values),
            max=max(values),
            count=len(values),
        )
        for (day, metric), values in sorted(buckets.items(), key=lambda item: item[0])
    ]


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"


def _range(low: float | None, high: float | None, unit: str) -> str:
    if low is None and high is None:
        return "no limit set"
    if low is None:
        return f"at most {_fmt(high or 0)} {unit}"
    if high is None:
        return f"at least {_fmt(low)} {unit}"
    return f"{_fmt(low)}-{_fmt(high)} {unit}"


def render_context(context: PlantContext) -> str:
    """The plant's context as the text part of the prompt, compact and unambiguous."""
    lines: list[str] = [f"Plant: {context.plant_name}"]
    species = context.species_common_name or "unknown species"
    if context.species_scientific_name:
        species += f" ({context.species_scientific_name})"
    lines.append(f"Species: {species}")
    if context.location:
        lines.append(f"Location: {context.location}")
    lines.append(f"Photo taken: {context.captured_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")

    lines.append("Comfortable ranges:")
    for metric in PLANT_METRICS:
        low, high = context.thresholds.bounds(metric)
        # Lux limits hold while the light is on; the daily rows below are 24-hour means.
        label = "illuminance while lit" if metric is Metric.ILLUMINANCE else metric.value
        lines.append(f"- {label}: {_range(low, high, SPECS[metric].unit)}")
    dli_min, dli_max = context.thresholds.daily_bounds(Metric.ILLUMINANCE)
    if dli_min is not None or dli_max is not None:
        lines.append(f"- daily light integral: {_range(dli_min, dli_max, 'mol/m2/day')}")

    if context.daily:
        lines.append(f"Sensor readings, last {CONTEXT_DAYS} days (UTC day, min / mean / max):")
        for summary in context.daily:
            unit = SPECS[summary.metric].unit
            row = (
                f"- {summary.day.isoformat()} {summary.metric.value}: {_fmt(summary.min)} / "
                f"{_fmt(summary.mean)} / {_fmt(summary.max)} {unit} ({summary.count} readings)"
            )
            if summary.metric is Metric.ILLUMINANCE:
                row += f", DLI about {_fmt(daily_light_integral(summary.mean))} mol/m2/day"
            lines.append(row)
    else:
        lines.append("Sensor readings: none in the last week.")

    if context.image_metrics is not None:
        m = context.image_metrics
        flags = ", ".join(flag.value for flag in m.flags) or "none"
        lines.append(
            f"This photo: canopy cover {m.canopy_cover:.1%}, mean excess green "
            f"{_fmt(m.excess_green_mean)}, brightness {_fmt(m.brightness)}/255, "
            f"quality flags: {flags}"
        )
    if context.canopy_trend:
        lines.append("Canopy cover of earlier photos (oldest first):")
        for point in sorted(context.canopy_trend, key=lambda p: p.captured_at):
            lines.append(
                f"- {point.captured_at.astimezone(UTC):%Y-%m-%d %H:%M}: {point.canopy_cover:.1%}"
            )
    if context.recent_alerts:
        lines.append("Recent alerts:")
        for alert in context.recent_alerts:
            state = (
                f"resolved {alert.resolved_at.astimezone(UTC):%Y-%m-%d %H:%M}"
                if alert.resolved_at
                else "still open"
            )
            lines.append(
                f"- {alert.opened_at.astimezone(UTC):%Y-%m-%d %H:%M} {alert.kind.value}"
                f"{' ' + alert.metric.value if alert.metric else ''}: {alert.message} ({state})"
            )
    else:
        lines.append("Recent alerts: none.")
    return "\n".join(lines)
