"""Latest readings with threshold status, and history at a resolution fitted to the window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hub.plants.schemas import (
    ChannelStatus,
    History,
    HistoryPoint,
    MetricStatus,
    Resolution,
)
from hub.readings import repository
from hub.readings.repository import HOUR_MS
from hub.store.types import from_ms, to_ms
from shared.freshness import stale_after as freshness_window
from shared.metrics import DLI, SPECS, Metric
from shared.plant_status import (
    DailyLight,
    day_start,
    light_status,
    metric_status,
)
from shared.plant_status import daily_light as shared_daily_light
from shared.sync import Thresholds
from shared.watering import HISTORY as WATERING_HISTORY
from shared.watering import MoistureSample, WateringPublic, watering_public

_COLUMNS = {m: m.value for m in Metric}
RAW_WINDOW = timedelta(days=2)  # longer windows read hourly rollups


async def channels(session: AsyncSession, node: int) -> list[int]:
    """The sensor channels the node has readings of (0 first; ``[0]`` when it has none)."""
    found = await repository.node_channels(session, node)
    return found if found and found[0] == 0 else [0, *found]


async def latest_channels(
    session: AsyncSession, node: int
) -> dict[int, dict[Metric, tuple[float, int]]]:
    """Newest (value, epoch ms) of each metric of each channel above 0 (the extra sensors)."""
    out: dict[int, dict[Metric, tuple[float, int]]] = {}
    for channel in await channels(session, node):
        if channel > 0:
            latest = await latest_values(session, node, channel)
            if latest:
                out[channel] = latest
    return out


async def node_id(session: AsyncSession, mac: str) -> int | None:
    """Row id of a node by MAC."""
    return await repository.node_row_id(session, mac)


async def latest_values(
    session: AsyncSession, node: int, channel: int = 0
) -> dict[Metric, tuple[float, int]]:
    """For each metric, the newest (value, epoch ms) of the node's sensor ``channel``."""
    return (await latest_values_of(session, [node], channel)).get(node, {})


Latest = dict[int, dict[Metric, tuple[float, int]]]  # node -> metric -> (value, epoch ms)


async def latest_values_of(session: AsyncSession, nodes: Sequence[int], channel: int = 0) -> Latest:
    """Node -> each metric's newest (value, epoch ms) of its sensor ``channel``, in one query
    for all the nodes; a node without readings is left out."""
    found = await repository.newest_values(session, nodes, channel)
    return {
        node: {m: by_column[c] for m, c in _COLUMNS.items() if c in by_column}
        for node, by_column in found.items()
    }


def status_of(
    metric: Metric,
    latest: tuple[float, int] | None,
    thresholds: Thresholds,
    now: datetime,
    stale_after: timedelta,
    daily: DailyLight | None = None,
) -> MetricStatus:
    """How one metric stands (the rule both tiers share: ``shared.plant_status``). Light is
    judged by ``daily`` (the daily light integral) when given, besides a too-bright reading."""
    low, high = (None, None) if metric is Metric.BATTERY else thresholds.bounds(metric)
    value, measured = (latest[0], from_ms(latest[1])) if latest else (None, None)
    status = metric_status(
        metric, value, measured, thresholds, now, stale_after, light=light_status(daily)
    )
    return MetricStatus(
        metric=metric,
        unit=SPECS[metric].unit,
        value=value,
        measured_at=measured,
        status=status,
        minimum=low,
        maximum=high,
        daily=daily,
    )


async def mean_illuminances(
    session: AsyncSession, nodes: Sequence[int], start: datetime, end: datetime
) -> dict[int, tuple[float | None, int]]:
    """Node -> mean illuminance and reading count of a window, from the hourly rollups (None
    and 0 for a node without any)."""
    totals = await repository.illuminance_totals(session, nodes, to_ms(start), to_ms(end))
    out: dict[int, tuple[float | None, int]] = {}
    for node in nodes:
        total, count = totals.get(node, (0.0, 0))
        out[node] = (total / count if count else None), count
    return out


async def daily_light(
    session: AsyncSession, node: int, thresholds: Thresholds, now: datetime
) -> DailyLight:
    """Today's light integral so far and yesterday's against the plant's DLI range."""
    return (await daily_lights(session, [(node, thresholds)], now))[0]


async def daily_lights(
    session: AsyncSession, plants: Sequence[tuple[int, Thresholds]], now: datetime
) -> list[DailyLight]:
    """For each (node, thresholds): today's light integral so far and yesterday's against the
    plant's DLI range (the rule both tiers share: ``shared.plant_status.daily_light``), from
    two queries whatever the number of plants."""
    today = day_start(now)
    yesterday = today - timedelta(days=1)
    nodes = sorted({node for node, _ in plants})
    today_light = await mean_illuminances(session, nodes, today, today + timedelta(days=1))
    yesterday_light = await mean_illuminances(session, nodes, yesterday, today)
    return [
        shared_daily_light(today_light[node], yesterday_light[node], thresholds, now)
        for node, thresholds in plants
    ]


@dataclass(frozen=True, slots=True)
class Watched:
    """What judging a plant's metrics needs: the row id of the node watching it (None: none),
    its thresholds, the node's sampling interval, and whether the node's values are
    superseded (it now sends adverts this hub cannot read: a wrong key)."""

    node: int | None
    thresholds: Thresholds
    sampling_interval_s: float | None = None
    superseded: bool = False


async def plant_metrics(
    session: AsyncSession,
    node: int | None,
    thresholds: Thresholds,
    now: datetime,
    sampling_interval_s: float | None,
    metrics: tuple[Metric, ...] = tuple(Metric),
    *,
    superseded: bool = False,
) -> list[MetricStatus]:
    """Every metric of a plant's node against its thresholds; values stop being current after
    a few of the node's own sampling intervals, or at once when ``superseded`` (the node now
    sends adverts this hub cannot read: a wrong key)."""
    watched = Watched(node, thresholds, sampling_interval_s, superseded)
    return (await plants_metrics(session, [watched], now, metrics))[0]


async def plants_metrics(
    session: AsyncSession,
    plants: Sequence[Watched],
    now: datetime,
    metrics: tuple[Metric, ...] = tuple(Metric),
    latest: Latest | None = None,
) -> list[list[MetricStatus]]:
    """``plant_metrics`` of each plant, in order, from a fixed number of queries whatever the
    number of plants; ``latest``: the nodes' ``latest_values_of``, when the caller has it."""
    nodes = sorted({p.node for p in plants if p.node is not None})
    if latest is None:
        latest = await latest_values_of(session, nodes)
    daily = await daily_lights(
        session, [(p.node, p.thresholds) for p in plants if p.node is not None], now
    )
    light = iter(daily)
    out: list[list[MetricStatus]] = []
    for plant in plants:
        values = latest.get(plant.node, {}) if plant.node is not None else {}
        day = next(light) if plant.node is not None else None
        stale = timedelta(0) if plant.superseded else freshness_window(plant.sampling_interval_s)
        out.append(
            [
                status_of(
                    m,
                    values.get(m),
                    plant.thresholds,
                    now,
                    stale,
                    day if m is Metric.ILLUMINANCE else None,
                )
                for m in metrics
            ]
        )
    return out


async def channel_metrics(
    session: AsyncSession,
    node: int | None,
    thresholds: Thresholds,
    now: datetime,
    sampling_interval_s: float | None,
    *,
    superseded: bool = False,
) -> list[ChannelStatus]:
    """The latest values of the node's sensors past the first of each kind, channel by
    channel, judged against the plant's thresholds like the first."""
    if node is None:
        return []
    stale = timedelta(0) if superseded else freshness_window(sampling_interval_s)
    return [
        ChannelStatus(
            channel=channel,
            metrics=[
                status_of(m, latest[m], thresholds, now, stale) for m in Metric if m in latest
            ],
        )
        for channel, latest in (await latest_channels(session, node)).items()
    ]


async def history(
    session: AsyncSession,
    node: int,
    metric: Metric,
    start: datetime,
    end: datetime,
    max_points: int,
    channel: int = 0,
) -> History:
    """Raw points for short windows with few readings; hourly rollups (merged into wider
    buckets when needed) otherwise; never more than ``max_points`` points. ``channel``: which
    of the node's sensors of the kind (0 the first)."""
    column = _COLUMNS[metric]
    start_ms, end_ms = to_ms(start), to_ms(end)
    known = await channels(session, node)
    if end - start <= RAW_WINDOW:
        count = await repository.raw_count(session, node, column, channel, start_ms, end_ms)
        if 0 < count <= max_points:
            raw = await repository.raw_points(session, node, column, channel, start_ms, end_ms)
            points = [
                HistoryPoint(t=from_ms(t), value=v, minimum=v, maximum=v, count=1) for t, v in raw
            ]
            return History(
                metric=metric,
                resolution=Resolution.RAW,
                start=start,
                end=end,
                points=points,
                channel=channel,
                channels=known,
            )
    rows = await repository.hourly_points(
        session, node, column, channel, start_ms // HOUR_MS * HOUR_MS, end_ms
    )
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
    return History(
        metric=metric,
        resolution=resolution,
        start=start,
        end=end,
        points=points,
        channel=channel,
        channels=known,
    )


async def hourly_moisture(
    session: AsyncSession, nodes: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[MoistureSample]]:
    """Node -> mean soil moisture of each completed hour of the window, oldest first
    (rollups); a node without any is left out."""
    rows = await repository.hourly_points_of(
        session, nodes, Metric.MOISTURE.value, 0, to_ms(start), to_ms(end) // HOUR_MS * HOUR_MS
    )
    return {
        node: [MoistureSample(from_ms(hour), total / n) for hour, total, n, _low, _high in found]
        for node, found in rows.items()
    }


def end_of_local_day(now: datetime) -> datetime:
    """Midnight after ``now`` in the hub's own time zone (the gardener's "today")."""
    local = now.astimezone()
    return datetime.combine(local.date() + timedelta(days=1), time(), local.tzinfo)


async def watering(
    session: AsyncSession, node: int | None, thresholds: Thresholds, now: datetime
) -> WateringPublic:
    """Waterings detected in the last two weeks and the forecast (shared with the cloud), which
    the newest reading moves at once (a watering shows before its hour closes)."""
    return (await waterings(session, [(node, thresholds)], now))[0]


async def waterings(
    session: AsyncSession,
    plants: Sequence[tuple[int | None, Thresholds]],
    now: datetime,
    latest: Latest | None = None,
) -> list[WateringPublic]:
    """``watering`` of each (node, thresholds), in order, from two queries (one when the
    caller has the nodes' ``latest_values_of``)."""
    nodes = sorted({node for node, _ in plants if node is not None})
    samples = await hourly_moisture(session, nodes, now - WATERING_HISTORY, now)
    newest = latest if latest is not None else await latest_values_of(session, nodes)
    day_end = end_of_local_day(now)
    out: list[WateringPublic] = []
    for node, thresholds in plants:
        reading = None
        if node is not None and Metric.MOISTURE in newest.get(node, {}):
            value, measured_ms = newest[node][Metric.MOISTURE]
            reading = MoistureSample(from_ms(measured_ms), value)
        out.append(
            watering_public(
                samples.get(node, []) if node is not None else [],
                thresholds.bounds(Metric.MOISTURE)[0],
                now,
                day_end=day_end,
                latest=reading,
            )
        )
    return out


# --- what the alert engine is fed ---------------------------------------------------------

ENGINE_BATCH = 5000  # readings fed per node and metric in one evaluation round


async def series_after(
    session: AsyncSession, node: int, metric: Metric, after: datetime | None
) -> list[tuple[datetime, float]]:
    """(time, value) of the node's readings of ``metric`` after ``after``, oldest first."""
    rows = await repository.values_after(
        session, node, metric.value, to_ms(after) if after else None, ENGINE_BATCH
    )
    return [(from_ms(at), value) for at, value in rows]


async def daily_light_integrals(
    session: AsyncSession, node: int, first: date, end: date
) -> list[tuple[date, float]]:
    """The DLI (2 decimals) of each UTC day in [first, end) with at least
    ``DLI.min_samples`` illuminance readings."""
    start = datetime.combine(first, time(), UTC)
    stop = datetime.combine(end, time(), UTC)
    rows = await repository.daily_illuminance(session, node, to_ms(start), to_ms(stop))
    return [
        (from_ms(day).date(), round(DLI.from_mean(total / samples), 2))
        for day, total, samples in rows
        if samples >= DLI.min_samples
    ]


async def count_readings(session: AsyncSession) -> int:
    """How many readings the hub holds."""
    return await repository.count_all(session)
