"""Gemini API answers as the real service shapes them, for respx routes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cloud.diagnosis.ports import (
    AlertSummary,
    CanopyPoint,
    DailyMetricSummary,
    PlantContext,
)
from shared.metrics import Metric
from shared.sync import AlertKind, ImageMetrics, Thresholds

GENERATE_URL = (
    r"^https://generativelanguage\.googleapis\.com/v1(?:beta)?/models/[^/:]+:generateContent$"
)

GOOD_ANSWER: dict[str, Any] = {
    "health": "stressed",
    "confidence": 0.82,
    "summary": "Drooping, curled leaves consistent with underwatering.",
    "findings": [
        {
            "issue": "Leaves drooping and curling at the edges",
            "likely_cause": "Soil too dry for several days",
            "cause_type": "abiotic",
            "evidence": "Moisture mean 18 % on 2026-11-25, below the 40 % minimum",
        }
    ],
    "recommended_actions": ["Water thoroughly until it drains", "Check again tomorrow"],
    "follow_up": "Photograph again in 2 days; leaves should recover turgor within 24 h.",
}

USAGE = {"promptTokenCount": 1290, "candidatesTokenCount": 184, "totalTokenCount": 1474}


def gemini_body(
    text: str | None = None,
    *,
    finish: str = "STOP",
    block_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A ``generateContent`` response body."""
    body: dict[str, Any] = {"usageMetadata": usage or USAGE, "modelVersion": "gemini-2.5-flash"}
    if block_reason is not None:
        body["promptFeedback"] = {"blockReason": block_reason}
        return body
    candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    body["candidates"] = [candidate]
    return body


def good_text() -> str:
    """The good answer as the model writes it."""
    return json.dumps(GOOD_ANSWER)


def error_body(
    code: int, status: str, message: str, retry_delay: str | None = None
) -> dict[str, Any]:
    """A Google API error body (google.rpc.Status)."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if retry_delay is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        ]
    return {"error": error}


def sample_context(now: datetime | None = None) -> PlantContext:
    """A Monstera that has been dry for days, with a shrinking canopy and an open alert."""
    now = now or datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    daily = []
    for offset in range(3, 0, -1):
        day: date = (now - timedelta(days=offset)).date()
        daily.append(
            DailyMetricSummary(day=day, metric=Metric.MOISTURE, min=14, mean=18.5, max=25, count=96)
        )
        daily.append(
            DailyMetricSummary(
                day=day, metric=Metric.TEMPERATURE, min=19, mean=21.25, max=23.5, count=96
            )
        )
        daily.append(
            DailyMetricSummary(
                day=day, metric=Metric.ILLUMINANCE, min=0, mean=2500, max=9000, count=96
            )
        )
    return PlantContext(
        plant_name="Living-room monstera",
        species_common_name="Swiss cheese plant",
        species_scientific_name="Monstera deliciosa",
        location="north window",
        thresholds=Thresholds(
            moisture_min=40,
            moisture_max=70,
            temperature_min=18,
            temperature_max=27,
            humidity_min=50,
            humidity_max=80,
            light_lux_min=2000,
            light_lux_max=20000,
        ),
        captured_at=now,
        image_metrics=ImageMetrics(
            canopy_cover=0.31, excess_green_mean=24.5, green_pixels=40_000, brightness=120
        ),
        daily=daily,
        canopy_trend=[
            CanopyPoint(captured_at=now - timedelta(days=6), canopy_cover=0.42),
            CanopyPoint(captured_at=now - timedelta(days=3), canopy_cover=0.37),
        ],
        recent_alerts=[
            AlertSummary(
                kind=AlertKind.LOW,
                metric=Metric.MOISTURE,
                message="Soil moisture below 40 %",
                opened_at=now - timedelta(days=3),
            )
        ],
    )
