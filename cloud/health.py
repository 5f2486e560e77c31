"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from cloud.db.replica import ReadRoutingDep
from cloud.db.session import EngineDep, ReadDatabaseDep
from cloud.dependencies import MetricsDep
from cloud.errors import ServiceUnavailableError
from cloud.storage.dependencies import ObjectStoreDep
from cloud.storage.ports import StorageError

router = APIRouter(tags=["health"])


def _example(body: dict[str, str]) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {"application/json": {"example": body}}}}


@router.get("/healthz", responses=_example({"status": "ok"}))
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses=_example({"status": "ready", "database": "ok", "storage": "gcs", "replica": "none"}),
)
async def readyz(
    engine: EngineDep,
    read_database: ReadDatabaseDep,
    routing: ReadRoutingDep,
    store: ObjectStoreDep,
) -> dict[str, str]:
    """The database (through both pools: the session engine and the read pool) and the image
    store answer."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailableError("database is not reachable") from exc
    try:
        async with read_database.connection() as raw:
            await raw.execute("SELECT 1")
    except Exception as exc:
        raise ServiceUnavailableError("database is not reachable through the read pool") from exc
    replica = "none"
    if routing.replica is not None:
        # Reads fall back to the primary, so a lagging replica degrades, never unreadies.
        replica = routing.state.describe(routing.max_lag_s)
    try:
        await store.check()
    except StorageError as exc:
        raise ServiceUnavailableError("image storage is not reachable") from exc
    return {"status": "ready", "database": "ok", "storage": store.backend, "replica": replica}


@router.get("/metrics", include_in_schema=False)
async def metrics(app_metrics: MetricsDep) -> Response:
    """Prometheus exposition of the app's own registry."""
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
