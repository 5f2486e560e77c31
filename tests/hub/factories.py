"""Plain ``create_*`` helpers for hub tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.ble.ports import DecodedReading
from shared.metrics import Metric

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def create_readings(
    mac: str, count: int, *, start_seq: int = 0, start: datetime = T0, step_s: int = 60
) -> list[DecodedReading]:
    """``count`` readings a minute apart with increasing sequence numbers."""
    return [
        DecodedReading(
            node_mac=mac,
            measured_at=start + timedelta(seconds=step_s * i),
            values={
                Metric.MOISTURE: 30.0 + (i % 40),
                Metric.TEMPERATURE: 21.5,
                Metric.BATTERY: 90.0,
            },
            seq=start_seq + i,
        )
        for i in range(count)
    ]
