"""The built-in heuristic diagnoser and the context summaries."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from cloud.diagnosis.context import render_context, summarize_readings
from cloud.diagnosis.heuristic import HEURISTIC_MODEL, HeuristicDiagnoser, photo_stats
from cloud.diagnosis.ports import (
    CanopyPoint,
    DailyMetricSummary,
    DiagnosisImage,
    HealthStatus,
    PlantContext,
)
from shared.metrics import Metric
from shared.sync import ImageMetrics, ImageQualityFlag, Thresholds
from tests.cloud.diagnosis.gemini_fakes import sample_context

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _jpeg(color: tuple[int, int, int], green_fraction: float = 0.0) -> bytes:
    image = Image.new("RGB", (200, 100), color)
    if green_fraction:
        image.paste((40, 160, 40), (0, 0, int(200 * green_fraction), 100))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def test_photo_stats_measures_canopy_and_brightness() -> None:
    stats = photo_stats(_jpeg((120, 100, 90), green_fraction=0.5))
    assert stats is not None
    assert stats.canopy_cover == pytest.approx(0.5, abs=0.03)
    assert photo_stats(b"not an image") is None


async def test_dry_plant_with_shrinking_canopy_is_stressed() -> None:
    report = await HeuristicDiagnoser().diagnose(
        DiagnosisImage(b"unused: metrics given", "image/jpeg"), sample_context(NOW)
    )
    assert (report.model, report.source, report.usage) == (HEURISTIC_MODEL, "heuristic", None)
    answer = report.answer
    assert answer.health is HealthStatus.STRESSED
    assert answer.confidence <= 0.6
    issues = [f.issue for f in answer.findings]
    assert issues == ["Soil too dry", "Canopy shrinking"]  # temperature and light are in range
    assert "18.5 %" in answer.findings[0].evidence
    assert "42%" in answer.findings[1].evidence
    assert answer.recommended_actions[0].startswith("Water thoroughly")
    assert "not from a vision model" in answer.follow_up


async def test_plant_within_its_ranges_is_healthy() -> None:
    context = sample_context(NOW).model_copy(
        update={
            "daily": [
                DailyMetricSummary(
                    day=NOW.date(), metric=Metric.MOISTURE, min=45, mean=55, max=60, count=10
                )
            ],
            "canopy_trend": [CanopyPoint(captured_at=NOW - timedelta(days=5), canopy_cover=0.3)],
        }
    )
    report = await HeuristicDiagnoser().diagnose(DiagnosisImage(b"", "image/jpeg"), context)
    assert report.answer.health is HealthStatus.HEALTHY
    assert report.answer.findings == []


async def test_dark_photo_measured_from_the_bytes_is_unclear() -> None:
    context = PlantContext(plant_name="Basil", captured_at=NOW, thresholds=Thresholds())
    report = await HeuristicDiagnoser().diagnose(
        DiagnosisImage(_jpeg((5, 8, 5)), "image/jpeg"), context
    )
    assert report.answer.health is HealthStatus.UNCLEAR
    assert report.answer.recommended_actions[0] == "Retake the photo in even daylight."


async def test_flagged_metrics_and_undecodable_photos_are_unclear() -> None:
    context = PlantContext(
        plant_name="Basil",
        captured_at=NOW,
        image_metrics=ImageMetrics(
            canopy_cover=0.4,
            excess_green_mean=10,
            green_pixels=1,
            brightness=250,
            flags=[ImageQualityFlag.OVEREXPOSED],
        ),
    )
    diagnoser = HeuristicDiagnoser()
    flagged = await diagnoser.diagnose(DiagnosisImage(b"", "image/jpeg"), context)
    assert flagged.answer.health is HealthStatus.UNCLEAR
    broken = await diagnoser.diagnose(
        DiagnosisImage(b"garbage", "image/jpeg"), context.model_copy(update={"image_metrics": None})
    )
    assert broken.answer.health is HealthStatus.UNCLEAR
    assert broken.answer.confidence == pytest.approx(0.2)


def test_summarize_readings_per_day_and_metric() -> None:
    readings = [
        (NOW - timedelta(days=1, hours=2), {Metric.MOISTURE: 30.0, Metric.BATTERY: 90.0}),
        (NOW - timedelta(days=1, hours=1), {Metric.MOISTURE: 40.0, Metric.TEMPERATURE: 20.0}),
        (NOW - timedelta(hours=1), {Metric.MOISTURE: 50.0}),
        (NOW - timedelta(days=8), {Metric.MOISTURE: 1.0}),  # outside the week
        (NOW + timedelta(hours=1), {Metric.MOISTURE: 99.0}),  # in the future
    ]
    summaries = summarize_readings(readings, now=NOW)
    assert [(s.day.isoformat(), s.metric, s.min, s.mean, s.max, s.count) for s in summaries] == [
        ("2026-11-25", Metric.MOISTURE, 30.0, 35.0, 40.0, 2),
        ("2026-11-25", Metric.TEMPERATURE, 20.0, 20.0, 20.0, 1),
        ("2026-11-26", Metric.MOISTURE, 50.0, 50.0, 50.0, 1),
    ]


def test_render_context_without_history() -> None:
    text = render_context(PlantContext(plant_name="Fern", captured_at=NOW))
    assert "Species: unknown species" in text
    assert "- moisture: no limit set" in text
    assert "Sensor readings: none in the last week." in text
    assert "Recent alerts: none." in text


async def test_light_is_judged_by_daily_light_integral_not_by_lux_means() -> None:
    # A 24 h mean of 2500 lx (nights included) is ~4 mol/m²/day: under a 6 mol minimum, while
    # the "lux while lit" minimum of 2000 lx must not be compared with a 24-hour mean at all.
    dark_days = [
        DailyMetricSummary(
            day=(NOW - timedelta(days=d)).date(),
            metric=Metric.ILLUMINANCE,
            min=0,
            mean=2500,
            max=9000,
            count=96,
        )
        for d in (2, 1)
    ]
    context = PlantContext(
        plant_name="Fern",
        captured_at=NOW,
        thresholds=Thresholds(light_lux_min=2000, dli_min=6, dli_max=12),
        daily=dark_days,
        image_metrics=ImageMetrics(
            canopy_cover=0.3, excess_green_mean=20, green_pixels=100, brightness=110
        ),
    )
    report = await HeuristicDiagnoser().diagnose(DiagnosisImage(b"", "image/jpeg"), context)
    (finding,) = report.answer.findings
    assert finding.issue == "Not enough light"
    assert "Daily light integral" in finding.evidence
    assert "minimum 6 mol/m²/day" in finding.evidence
    lux_only = context.model_copy(update={"thresholds": Thresholds(light_lux_min=3000)})
    report = await HeuristicDiagnoser().diagnose(DiagnosisImage(b"", "image/jpeg"), lux_only)
    assert report.answer.findings == []


def test_every_plant_metric_has_advice_for_both_sides() -> None:
    # A registry metric with species thresholds and no advice would fail the heuristic at the
    # first out-of-range day (a KeyError), so a new metric brings its advice with it.
    from cloud.diagnosis.heuristic import _ADVICE
    from shared.metrics import PLANT_METRICS

    for metric in PLANT_METRICS:
        for side in ("low", "high"):
            issue, action = _ADVICE[(metric, side)]
            assert issue
            assert action
