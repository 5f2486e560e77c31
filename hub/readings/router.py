"""A plant's readings: latest status of each metric, watering forecast, history of a metric.

The plant's node and its readings meet here (``hub.plants`` knows neither), so the plant routes
that read sensor data live with the readings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from hub.dependencies import ReadSessionDep
from hub.errors import BadRequest, NotFound
from hub.nodes import service as nodes_service
from hub.plants import service
from hub.plants.schemas import History, PlantStatus
from hub.readings import service as readings
from hub.store.types import utcnow
from shared.freshness import NodeState
from shared.metrics import Metric
from shared.sync import MAX_CHANNEL
from shared.watering import NO_NODE, WateringPublic, as_of_node, withheld

router = APIRouter(prefix="/api/v1", tags=["plants"])


@router.get("/plants/{plant_id}/status", response_model=PlantStatus)
async def plant_status(plant_id: str, session: ReadSessionDep) -> PlantStatus:
    """Latest value of each metric with ok / low / high / stale / unknown."""
    plant = await service.get_plant(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    thresholds = service.effective_thresholds(plant, await service.species_map(session))
    node = await nodes_service.node_by_mac(session, plant.node_mac) if plant.node_mac else None
    now = utcnow()
    metrics = await readings.plant_metrics(
        session,
        node.id if node else None,
        thresholds,
        now,
        node.sampling_interval_s if node else None,
        superseded=node is not None and nodes_service.state_of(node, now) is NodeState.WRONG_KEY,
    )
    extra = await readings.channel_metrics(
        session,
        node.id if node else None,
        thresholds,
        now,
        node.sampling_interval_s if node else None,
        superseded=node is not None and nodes_service.state_of(node, now) is NodeState.WRONG_KEY,
    )
    return PlantStatus(plant_id=plant.id, node_mac=plant.node_mac, metrics=metrics, channels=extra)


@router.get("/plants/{plant_id}/watering", response_model=WateringPublic)
async def plant_watering(plant_id: str, session: ReadSessionDep) -> WateringPublic:
    """Waterings detected from moisture rises (two weeks, newest first) and when the plant
    needs water next: the same shared forecast the cloud API returns."""
    plant = await service.get_plant(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    thresholds = service.effective_thresholds(plant, await service.species_map(session))
    node = await nodes_service.node_by_mac(session, plant.node_mac) if plant.node_mac else None
    now = utcnow()
    watering = await readings.watering(session, node.id if node else None, thresholds, now)
    if node is None:
        return withheld(watering, NO_NODE)
    return as_of_node(watering, nodes_service.state_of(node, now))


@router.get("/plants/{plant_id}/history", response_model=History)
async def plant_history(
    plant_id: str,
    session: ReadSessionDep,
    metric: Metric,
    start: datetime | None = None,
    end: datetime | None = None,
    max_points: Annotated[int, Query(ge=2, le=5000)] = 500,
    channel: Annotated[int, Query(ge=0, le=MAX_CHANNEL)] = 0,
) -> History:
    """A metric over a window (default: the last 24 h), raw or rolled up to fit max_points;
    ``channel`` picks which of the node's sensors of the kind (0 the first, 1 the second…)."""
    plant = await service.get_plant(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    end = end or utcnow()
    start = start or end - timedelta(days=1)
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRequest("start and end need a timezone (e.g. 2026-05-01T00:00:00Z)")
    if start >= end:
        raise BadRequest("start must be before end")
    node = await readings.node_id(session, plant.node_mac) if plant.node_mac else None
    if node is None:
        return History(
            metric=metric, resolution="raw", start=start, end=end, points=[], channel=channel
        )
    return await readings.history(session, node, metric, start, end, max_points, channel)
