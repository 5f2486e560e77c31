"""A rule-based ``Diagnoser`` for installs without a Gemini API key.

It cannot see disease or pests; it reads the plant's sensor history against its comfortable
ranges, the canopy-cover trend of its photos, and the photo's exposure. Every report says it
comes from ``heuristic-v1`` and keeps its confidence modest.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, UnidentifiedImageError

from cloud.diagnosis.ports import (
    CauseType,
    DailyMetricSummary,
    DiagnosisAnswer,
    DiagnosisImage,
    DiagnosisReport,
    DiagnosisSource,
    Finding,
    HealthStatus,
    PlantContext,
)
from shared.metrics import DLI, PLANT_METRICS, SPECS, Metric, daily_light_integral
from shared.sync import ImageQualityFlag

HEURISTIC_MODEL: Final = "heuristic-v1"
CANOPY_DROP: Final = 0.15  # a relative loss of canopy cover worth reporting
BARE_CANOPY: Final = 0.02  # below this, the photo shows hardly any foliage
RECENT_DAYS: Final = 2  # days of readings a finding is based on
_TOO_DARK: Final = 25.0
_OVEREXPOSED: Final = 235.0

_ADVICE: Final[dict[tuple[Metric, str], tuple[str, str]]] = {
    (Metric.MOISTURE, "low"): (
        "Soil too dry",
        "Water thoroughly until water drains, then keep the soil within its range.",
    ),
    (Metric.MOISTURE, "high"): (
        "Soil too wet (risk of root rot)",
        "Let the soil dry out before watering again and check the pot drains freely.",
    ),
    (Metric.TEMPERATURE, "low"): (
        "Too cold",
        "Move the plant away from cold windows or draughts to a warmer spot.",
    ),
    (Metric.TEMPERATURE, "high"): (
        "Too hot",
        "Move the plant away from heaters or hot glass and ventilate.",
    ),
    (Metric.HUMIDITY, "low"): (
        "Air too dry",
        "Raise humidity: group plants together or use a humidifier or pebble tray.",
    ),
    (Metric.HUMIDITY, "high"): (
        "Air too humid (risk of fungal disease)",
        "Improve air circulation and avoid wetting the leaves.",
    ),
    (Metric.ILLUMINANCE, "low"): (
        "Not enough light",
        "Move the plant to a brighter spot or add a grow light.",
    ),
    (Metric.ILLUMINANCE, "high"): (
        "Too much direct light (risk of leaf scorch)",
        "Shade the plant from direct midday sun.",
    ),
    (Metric.CONDUCTIVITY, "low"): (
        "Soil low in nutrients",
        "Feed with a balanced fertiliser at the label's dose during the growing season.",
    ),
    (Metric.CONDUCTIVITY, "high"): (
        "Too much fertiliser salt in the soil (risk of root burn)",
        "Flush the pot with plenty of plain water and feed less often.",
    ),
}


@dataclass(frozen=True, slots=True)
class PhotoStats:
    """What the heuristic measures in a photo when the hub sent no metrics."""

    canopy_cover: float
    brightness: float


def photo_stats(data: bytes) -> PhotoStats | None:
    """Canopy cover (Canopeo rule) and mean brightness of a photo; None if it cannot be read.

    Blocking (Pillow, numpy): call it in a thread.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (320, 320))  # JPEG DCT scaling: decode at reduced size
            rgb = image.convert("RGB")
            rgb.thumbnail((320, 320))
            pixels = np.asarray(rgb, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    safe_green = np.maximum(green, 1.0)
    canopy = (red / safe_green < 0.95) & (blue / safe_green < 0.95) & (2 * green - red - blue > 20)
    return PhotoStats(canopy_cover=float(canopy.mean()), brightness=float(pixels.mean()))


def _recent(daily: list[DailyMetricSummary], metric: Metric) -> list[DailyMetricSummary]:
    rows = sorted((d for d in daily if d.metric is metric), key=lambda d: d.day)
    return rows[-RECENT_DAYS:]


def _range_finding(context: PlantContext, metric: Metric) -> tuple[Finding, str] | None:
    """A finding when the last days' readings sit outside the plant's range for ``metric``.

    Light is judged as the daily light integral: a 24-hour mean of lux (nights included) says
    nothing against "lux while lit" limits, but its DLI compares with the species' DLI range.
    """
    recent = _recent(context.daily, metric)
    if not recent:
        return None
    t = context.thresholds
    if metric is Metric.ILLUMINANCE:
        values = [(d.day, daily_light_integral(d.mean)) for d in recent]
        low, high = t.daily_bounds(metric)
        unit, name = DLI.unit, "daily light integral"
    else:
        values = [(d.day, d.mean) for d in recent]
        low, high = t.bounds(metric)
        unit, name = SPECS[metric].unit, f"daily mean {metric.value}"
    if low is not None and all(value < low for _, value in values):
        side, limit, word = "low", low, "minimum"
    elif high is not None and all(value > high for _, value in values):
        side, limit, word = "high", high, "maximum"
    else:
        return None
    issue, action = _ADVICE[(metric, side)]
    shown = ", ".join(f"{day.isoformat()} {value:.4g} {unit}" for day, value in values)
    finding = Finding(
        issue=issue,
        likely_cause=f"{metric.value} outside the plant's range for {len(values)} days",
        cause_type=CauseType.ABIOTIC,
        evidence=f"{name.capitalize()}: {shown}; {word} {limit:.4g} {unit}.",
    )
    return finding, action


class HeuristicDiagnoser:
    """Sensor history + canopy trend rules; no vision model, no network."""

    @property
    def model(self) -> str:
        """Always ``heuristic-v1``."""
        return HEURISTIC_MODEL

    @property
    def source(self) -> DiagnosisSource:
        """Always ``"heuristic"``."""
        return "heuristic"

    async def diagnose(self, image: DiagnosisImage, context: PlantContext) -> DiagnosisReport:
        """Apply the rules; the photo is only measured (in a thread) when the hub did not."""
        metrics = context.image_metrics
        if metrics is not None:
            cover, brightness = metrics.canopy_cover, metrics.brightness
            flags = set(metrics.flags)
        else:
            stats = await asyncio.to_thread(photo_stats, image.data)
            if stats is None:
                return self._report(
                    HealthStatus.UNCLEAR, 0.2, "The photo could not be decoded.", [], [], ""
                )
            cover, brightness, flags = stats.canopy_cover, stats.brightness, set()
            if brightness < _TOO_DARK:
                flags.add(ImageQualityFlag.TOO_DARK)
            if brightness > _OVEREXPOSED:
                flags.add(ImageQualityFlag.OVEREXPOSED)
        return self._judge(context, cover, flags)

    def _judge(
        self, context: PlantContext, cover: float, flags: set[ImageQualityFlag]
    ) -> DiagnosisReport:
        findings: list[Finding] = []
        actions: list[str] = []
        for metric in PLANT_METRICS:
            finding = _range_finding(context, metric)
            if finding is not None:
                findings.append(finding[0])
                actions.append(finding[1])

        trend = sorted(context.canopy_trend, key=lambda p: p.captured_at)
        if trend and trend[0].canopy_cover > BARE_CANOPY:
            first = trend[0].canopy_cover
            drop = (first - cover) / first
            if drop >= CANOPY_DROP:
                findings.append(
                    Finding(
                        issue="Canopy shrinking",
                        likely_cause="Wilting, leaf drop or leaf loss (or a changed camera angle)",
                        cause_type=CauseType.ABIOTIC,
                        evidence=(
                            f"Canopy cover {first:.0%} on {trend[0].captured_at:%Y-%m-%d}, "
                            f"{cover:.0%} in this photo ({drop:.0%} less)."
                        ),
                    )
                )
                actions.append("Check the plant for wilting or fallen leaves.")

        open_alerts = [a for a in context.recent_alerts if a.resolved_at is None]
        follow_up = (
            "Take another photo in 2-3 days. This report comes from rule-based checks of the "
            "sensor history and green-pixel cover, not from a vision model: it cannot detect "
            "disease or pests."
        )
        if ImageQualityFlag.TOO_DARK in flags or ImageQualityFlag.OVEREXPOSED in flags:
            return self._report(
                HealthStatus.UNCLEAR,
                0.25,
                "The photo is too dark or overexposed to judge the foliage.",
                findings,
                ["Retake the photo in even daylight.", *actions],
                follow_up,
            )
        if cover < BARE_CANOPY and not trend:
            return self._report(
                HealthStatus.UNCLEAR,
                0.3,
                "Hardly any green foliage is visible in the photo.",
                findings,
                ["Check the camera points at the plant.", *actions],
                follow_up,
            )
        if findings:
            confidence = min(0.6, 0.35 + 0.08 * len(findings) + 0.02 * len(open_alerts))
            summary = "Signs of environmental stress: " + "; ".join(f.issue for f in findings)
            return self._report(
                HealthStatus.STRESSED, confidence, summary + ".", findings, actions, follow_up
            )
        return self._report(
            HealthStatus.HEALTHY,
            0.5 if context.daily else 0.35,
            "Readings are within the plant's ranges and the canopy is stable.",
            [],
            [],
            follow_up,
        )

    def _report(
        self,
        health: HealthStatus,
        confidence: float,
        summary: str,
        findings: list[Finding],
        actions: list[str],
        follow_up: str,
    ) -> DiagnosisReport:
        answer = DiagnosisAnswer(
            health=health,
            confidence=round(confidence, 2),
            summary=summary[:1000],
            findings=findings[:10],
            recommended_actions=actions[:10],
            follow_up=follow_up,
        )
        return DiagnosisReport(answer=answer, model=HEURISTIC_MODEL, source="heuristic")
