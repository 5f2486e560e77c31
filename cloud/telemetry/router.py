"""Telemetry routes for the signed-in user: history at an automatic resolution, latest, CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from cloud.auth.dependencies import CurrentUserId
from cloud.conventions import PUBLIC_CACHE
from cloud.db.replica import READ_SOURCE_HEADER, ReadRoutingDep
from cloud.db.session import EngineDep, ReadDatabase, SessionDep
from cloud.dependencies import SettingsDep
from cloud.pagination import LIST_RESPONSES, PageDep, link_next
from cloud.telemetry import read_service, service
from cloud.telemetry.schemas import History, LatestReading, Resolution
from shared.metrics import MetricPublic, public_metrics
from shared.sync import API_PREFIX, MAX_CHANNEL
from shared.watering import WateringPublic

router = APIRouter(prefix=API_PREFIX, tags=["telemetry"])

Start = Annotated[
    AwareDatetime | None, Query(description="window start (default: end minus one day)")
]
End = Annotated[AwareDatetime | None, Query(description="window end, exclusive (default: now)")]
MaxPoints = Annotated[int | None, Query(ge=10, le=10_000)]
ForcedResolution = Annotated[
    Resolution | None,
    Query(description="force raw/hour/day; by default the finest within max_points"),
]
Channel = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_CHANNEL,
        description="the node's sensor index: 0 its first sensor of each kind, 1 the second",
    ),
]


@router.get("/metrics", response_model=list[MetricPublic], tags=["metrics"])
async def list_metrics(response: Response) -> list[MetricPublic]:
    """What nodes measure (name, label, unit, range, display digits, thresholds), from the
    metric registry (public): history points and CSV columns carry these names."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return public_metrics()


def _json(body: bytes, replica: ReadDatabase | None = None) -> Response:
    return Response(body, media_type="application/json", headers=_source(replica))


def _source(replica: ReadDatabase | None) -> dict[str, str]:
    """Which server answered a routed read (``cloud.db.replica``)."""
    return {READ_SOURCE_HEADER: "replica" if replica is not None else "primary"}


@router.get("/plants/{plant_id}/readings", response_model=History)
async def plant_history(
    plant_id: uuid.UUID,
    user_id: CurrentUserId,
    session: SessionDep,
    settings: SettingsDep,
    routing: ReadRoutingDep,
    start: Start = None,
    end: End = None,
    max_points: MaxPoints = None,
    resolution: ForcedResolution = None,
    channel: Channel = 0,
) -> Response:
    """Readings of the plant's node over the window (raw, hourly or daily rollups), of one
    sensor channel (``?channel=1``: the node's second sensor of each kind)."""
    body, replica = await routing.read(
        user_id,
        lambda replica: service.history(
            session,
            user_id,
            plant_id=plant_id,
            start=start,
            end=end,
            max_points=max_points or settings.history_max_points,
            resolution=resolution,
            raw_days=settings.readings_raw_retention_days,
            hourly_days=settings.readings_hourly_retention_days,
            channel=channel,
            replica=replica,
        ),
    )
    return _json(body, replica)


@router.get("/nodes/{node_id}/readings", response_model=History)
async def node_history(
    node_id: uuid.UUID,
    user_id: CurrentUserId,
    session: SessionDep,
    settings: SettingsDep,
    routing: ReadRoutingDep,
    start: Start = None,
    end: End = None,
    max_points: MaxPoints = None,
    resolution: ForcedResolution = None,
    channel: Channel = 0,
) -> Response:
    """Readings of a node over the window (raw, hourly or daily rollups), of one sensor
    channel."""
    body, replica = await routing.read(
        user_id,
        lambda replica: service.history(
            session,
            user_id,
            node_id=node_id,
            start=start,
            end=end,
            max_points=max_points or settings.history_max_points,
            resolution=resolution,
            raw_days=settings.readings_raw_retention_days,
            hourly_days=settings.readings_hourly_retention_days,
            channel=channel,
            replica=replica,
        ),
    )
    return _json(body, replica)


@router.get("/plants/{plant_id}/watering", response_model=WateringPublic)
async def plant_watering(
    plant_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> WateringPublic:
    """Waterings detected from moisture rises (two weeks, newest first) and when the plant
    needs water next ("today" by UTC): the same shared forecast the hub shows."""
    return await service.watering(session, user_id, plant_id, datetime.now(UTC))


@router.get("/readings/latest", response_model=list[LatestReading], responses=LIST_RESPONSES)
async def latest_all(
    request: Request, user_id: CurrentUserId, routing: ReadRoutingDep, page: PageDep
) -> Response:
    """The newest reading of each of your plants, by plant name (a page: see Pagination)."""
    (body, next_cursor), replica = await routing.read(
        user_id, lambda replica: read_service.latest_json(replica or routing.primary, user_id, page)
    )
    response = _json(body, replica)
    link_next(request, response, next_cursor)
    return response


@router.get("/plants/{plant_id}/readings/latest", response_model=list[LatestReading])
async def latest_plant(
    plant_id: uuid.UUID, user_id: CurrentUserId, routing: ReadRoutingDep
) -> Response:
    """The newest reading of one plant (an empty list when it has none yet)."""
    body, replica = await routing.read(
        user_id,
        lambda replica: read_service.plant_latest_json(
            replica or routing.primary, user_id, plant_id
        ),
    )
    return _json(body, replica)


def _csv_response(
    engine: EngineDep,
    node: uuid.UUID | None,
    start: datetime,
    end: datetime,
    name: str,
    replica: ReadDatabase | None,
) -> StreamingResponse:
    filename = f"{name}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return StreamingResponse(
        service.stream_csv(engine, node, start, end, replica),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            **_source(replica),
        },
    )


@router.get("/plants/{plant_id}/readings.csv", response_class=StreamingResponse)
async def plant_csv(
    plant_id: uuid.UUID,
    user_id: CurrentUserId,
    session: SessionDep,
    engine: EngineDep,
    routing: ReadRoutingDep,
    start: Start = None,
    end: End = None,
) -> StreamingResponse:
    """Raw readings of the plant's node over the window as CSV (streamed)."""
    node, s, e = await service.csv_window(
        session, user_id, plant_id=plant_id, node_id=None, start=start, end=end
    )
    return _csv_response(engine, node, s, e, f"plant-{plant_id}", routing.for_reader(user_id))


@router.get("/nodes/{node_id}/readings.csv", response_class=StreamingResponse)
async def node_csv(
    node_id: uuid.UUID,
    user_id: CurrentUserId,
    session: SessionDep,
    engine: EngineDep,
    routing: ReadRoutingDep,
    start: Start = None,
    end: End = None,
) -> StreamingResponse:
    """Raw readings of a node over the window as CSV (streamed)."""
    node, s, e = await service.csv_window(
        session, user_id, plant_id=None, node_id=node_id, start=start, end=end
    )
    return _csv_response(engine, node, s, e, f"node-{node_id}", routing.for_reader(user_id))
