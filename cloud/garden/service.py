"""The garden overview: hubs with sync health, every plant with its latest values against its
thresholds (``shared.plant_status``, the hub's rule), its node and its open alerts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db.session import Reads
from cloud.garden import repository
from cloud.garden.schemas import (
    ChannelStatus,
    Garden,
    GardenPlant,
    HubHealth,
    MetricStatus,
    NodeBrief,
    PlantStatus,
)
from cloud.pagination import PageRequest
from cloud.registry import service as registry
from cloud.registry.schemas import HubPublic, PlantPublic
from cloud.settings import CloudSettings
from cloud.telemetry import read_service
from cloud.telemetry.read_service import DayMeans
from shared import freshness
from shared.metrics import SPECS, Metric
from shared.plant_status import daily_light, light_status, metric_status

MAX_PLANTS = 500  # a garden page beyond this is a list, not an overview
DEFAULT_SAMPLING_S = freshness.DEFAULT_SAMPLING_INTERVAL_S


def _status(
    plant: PlantPublic,
    latest: dict[str, Any] | None,
    light: DayMeans | None,
    sampling_s: int,
    now: datetime,
) -> PlantStatus:
    stale_after = freshness.stale_after(sampling_s)
    measured = latest["measured_at"] if latest else None
    # Light by the day's integral, as the hub judges it (no node: nothing to judge).
    node_id = latest["node_id"] if latest else plant.node_id
    daily = None
    if node_id is not None:
        empty: tuple[float | None, int] = (None, 0)
        today, yesterday = light or (empty, empty)
        daily = daily_light(today, yesterday, plant.thresholds, now)
    metrics = []
    for metric in Metric:
        value = latest.get(metric.value) if latest else None
        low, high = (None, None) if metric is Metric.BATTERY else plant.thresholds.bounds(metric)
        day = daily if metric is Metric.ILLUMINANCE else None
        metrics.append(
            MetricStatus(
                metric=metric,
                unit=SPECS[metric].unit,
                value=value,
                measured_at=measured if value is not None else None,
                status=metric_status(
                    metric,
                    value,
                    measured,
                    plant.thresholds,
                    now,
                    stale_after,
                    light=light_status(day),
                ),
                minimum=low,
                maximum=high,
                daily=day,
            )
        )
    return PlantStatus(
        plant_id=plant.id,
        node_id=node_id,
        measured_at=measured,
        metrics=metrics,
    )


def hub_health(public: HubPublic, settings: CloudSettings, now: datetime) -> HubHealth:
    """A hub with its online state: it called in within ``hub_offline_after_s``."""
    seen = public.last_seen_at
    online = (
        public.linked
        and seen is not None
        and (now - seen).total_seconds() <= settings.hub_offline_after_s
    )
    return HubHealth(
        **public.model_dump(), online=online, offline_after_s=settings.hub_offline_after_s
    )


async def _overview_rows(
    session: AsyncSession, settings: CloudSettings, owner_id: uuid.UUID, now: datetime
) -> tuple[
    list[HubHealth], set[uuid.UUID], list[PlantPublic], dict[uuid.UUID, Any], dict[uuid.UUID, int]
]:
    """The overview's session queries: hubs (with sync health), plants, nodes, alert counts."""
    overview_page = PageRequest(limit=MAX_PLANTS)
    hub_page = await registry.list_hubs(session, owner_id, overview_page)
    hubs = [hub_health(h, settings, now) for h in hub_page.items]
    pending = {h.id for h in hubs if h.config_pending}
    plants = (await registry.list_plants(session, owner_id, overview_page)).items
    nodes = {row[0]: row for row in await repository.nodes_of(session, owner_id)}
    alerts = await repository.open_alert_counts(session, owner_id)
    return hubs, pending, plants, nodes, alerts


async def overview(
    session: AsyncSession,
    database: Reads,
    settings: CloudSettings,
    owner_id: uuid.UUID,
) -> Garden:
    """Everything the garden page shows."""
    now = datetime.now(UTC)
    # The latest readings come from the read pool (a connection of its own, outside the
    # session's transaction either way): fetch them while the session's queries run, so the
    # page waits for one round trip fewer. On the session's own connection (behind a
    # transaction pooler) they are read first instead, one query at a time.
    if database.shares_session:
        latest, light = await read_service.garden_readings(database, owner_id, now)
        hubs, pending, plants, nodes, alerts = await _overview_rows(
            session, settings, owner_id, now
        )
    else:
        latest_task = asyncio.ensure_future(read_service.garden_readings(database, owner_id, now))
        try:
            hubs, pending, plants, nodes, alerts = await _overview_rows(
                session, settings, owner_id, now
            )
            latest, light = await latest_task
        finally:
            if not latest_task.done():
                latest_task.cancel()
                with contextlib.suppress(BaseException):
                    await latest_task
    cards = []
    for plant in plants:
        node = nodes.get(plant.node_id) if plant.node_id else None
        sampling = node[6] if node else DEFAULT_SAMPLING_S
        cards.append(
            GardenPlant(
                plant=plant,
                node=NodeBrief(
                    id=node[0],
                    name=node[1],
                    mac=node[2],
                    hub_id=node[3],
                    battery=node[4],
                    last_seen_at=node[5],
                )
                if node
                else None,
                status=_status(
                    plant,
                    latest.get(plant.id),
                    light.get(plant.node_id) if plant.node_id else None,
                    sampling,
                    now,
                ),
                open_alerts=alerts.get(plant.id, 0),
                config_pending=bool(node and node[3] in pending)
                or (node is None and bool(pending)),
            )
        )
    return Garden(generated_at=now, hubs=hubs, plants=cards)


async def plant_status(
    session: AsyncSession,
    database: Reads,
    settings: CloudSettings,
    owner_id: uuid.UUID,
    plant_id: uuid.UUID,
) -> PlantStatus:
    """One plant's latest values against its thresholds; 404 when not the owner's."""
    plant = await registry.plant_detail(session, owner_id, plant_id)
    now = datetime.now(UTC)
    latest, light, further = await read_service.plant_readings(database, owner_id, plant_id, now)
    sampling = DEFAULT_SAMPLING_S
    if plant.node_id is not None:
        node = await registry.get_node(session, owner_id, plant.node_id)
        sampling = node.sampling_interval_s
    status = _status(plant, latest, light, sampling, now)
    status.channels = [
        ChannelStatus(
            channel=row["channel"],
            measured_at=row["measured_at"],
            metrics=[
                m for m in _status(plant, row, None, sampling, now).metrics if m.value is not None
            ],
        )
        for row in further
    ]
    return status
