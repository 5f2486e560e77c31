"""Latest readings with threshold status, and history at a resolution fitted to the window."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.plants.schemas import History, HistoryPoint, MetricStatus, Resolution
from hub.readings.repository import HOUR_MS
from hub.store.types import from_ms, to_ms
from shared.metrics import SPECS, Metric
from shared.plant_status import metric_status
from shared.sync import Thresholds

_COLUMNS = {m: m.value for m in Metric}
RAW_WINDOW = timedelta(days=2)  # longer windows read hourly rollups


async def node_id(session: AsyncSession, mac: str) -> int | None:
    """Row id of a node by MAC."""
    row = (await session.execute(text("select id from nodes where mac = :m"), {"m": mac})).first()
    return None if row is None else int(row[0])


async def latest_values(session: AsyncSession, node: int) -> dict[Metric, tuple[float, int]]:
    """For each metric, the newest (value, epoch ms) of the node."""
    out: dict[Metric, tuple[float, int]] = {}
    for metric, column in _COLUMNS.items():
        row = (
            await session.execute(
                text(
                    f"select {column}, measured_at from readings "  # noqa: S608
                    f"where node_id = :n and {column} is not null "
                    "order by measured_at desc limit 1"
                ),
                {"n": node},
            )
        ).first()
        if row is not None:
            out[metric] = (float(row[0]), int(row[1]))
    return out


def status_of(
    metric: Metric,
    latest: tuple[float, int] | None,
    thresholds: Thresholds,
    now: datetime,
    stale_after: timedelta,
) -> MetricStatus:
    """How one metric stands (the rule both tiers share: ``shared.plant_status``)."""
    low, high = (None, None) if metric is Metric.BATTERY else thresholds.bounds(metric)
    value, measured = (latest[0], from_ms(latest[1])) if latest else (None, None)
    status = metric_status(metric, value, measured, thresholds, now, stale_after)
    return MetricStatus(
        metric=metric,
        unit=SPECS[metric].unit,
        value=value,
        measured_at=measured,
        status=status,
        minimum=low,
        maximum=high,
    )


async def history(
    session: AsyncSession,
    node: int,
    metric: Metric,
    start: datetime,
    end: datetime,
    max_points: int,
) -> History:
    """Raw points for short windows with few readings; hourly rollups (merged into wider
    buckets when needed) otherwise; never more than ``max_points`` points."""
    column = _COLUMNS[metric]
    start_ms, end_ms = to_ms(start), to_ms(end)
    if end - start <= RAW_WINDOW:
        count = (
            await session.execute(
                text(
                    f"select count({column}) from readings "  # noqa: S608
                    "where node_id = :n and measured_at >= :s and measured_at < :e"
                ),
                {"n": node, "s": start_ms, "e": end_ms},
            )
        ).scalar_one()
        if 0 < count <= max_points:
            rows = (
                await session.execute(
                    text(
                        f"select measured_at, {column} from readings "  # noqa: S608
                        f"where node_id = :n and measured_at >= :s and measured_at < :e "
                        f"and {column} is not null order by measured_at"
                    ),
                    {"n": node, "s": start_ms, "e": end_ms},
                )
            ).all()
            points = [
                HistoryPoint(t=from_ms(t), value=v, minimum=v, maximum=v, count=1) for t, v in rows
            ]
            return History(
                metric=metric, resolution=Resolution.RAW, start=start, end=end, points=points
            )
    rows = (
        await session.execute(
            text(
                f"select hour, {column}_sum, {column}_n, {column}_min, {column}_max "  # noqa: S608
                f"from readings_hourly where node_id = :n and hour >= :s and hour < :e "
                f"and {column}_n > 0 order by hour"
            ),
            {"n": node, "s": start_ms // HOUR_MS * HOUR_MS, "e": end_ms},
        )
    ).all()
    window_hours = -(-(end_ms - start_ms) // HOUR_MS)
    if window_hours <= max_points:
        resolution, bucket_ms = Resolution.HOURLY, HOUR_MS
    else:
        days_per_bucket = -(-window_hours // 24 // max_points) or 1
        resolution, bucket_ms = Resolution.DAILY, days_per_bucket * 24 * HOUR_MS
    merged: dict[int, list[float]] = {}
    for hour, total, n, low, high in rows:
        key = hour // bucket_ms * bucket_ms
        acc = merged.setdefault(key, [0.0, 0.0, float("inf"), float("-inf")])
        acc[0] += total
        acc[1] += n
        acc[2] = min(acc[2], low)
        acc[3] = max(acc[3], high)
    points = [
        HistoryPoint(t=from_ms(k), value=a[0] / a[1], minimum=a[2], maximum=a[3], count=int(a[1]))
        for k, a in sorted(merged.items())
    ][:max_points]
    return History(metric=metric, resolution=resolution, start=start, end=end, points=points)
