"""Hub-facing sync routes (hub token only): readings, alerts, node inventory, config snapshot,
diagnoses of the hub's plants.

``GET /sync/config?since_revision=N`` answers **304 Not Modified** (empty body, ``ETag``)
when the hub already holds revision N, and the full ``ConfigSnapshot`` otherwise.
``GET /sync/diagnoses`` carries a strong ``ETag`` of its body; ``If-None-Match`` with it: 304.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cloud.alerts import service as alerts_service
from cloud.auth.dependencies import CurrentHub
from cloud.db.session import SessionDep
from cloud.dependencies import MetricsDep, SettingsDep
from cloud.diagnosis import service as diagnosis_service
from cloud.registry import service as registry_service
from cloud.sync.body import read_body, read_json_body
from cloud.telemetry import service as telemetry_service
from shared.sync import (
    SYNC_ALERTS_PATH,
    SYNC_CONFIG_PATH,
    SYNC_DIAGNOSES_PATH,
    SYNC_NODES_PATH,
    SYNC_READINGS_PATH,
    AlertBatch,
    BatchAck,
    ConfigSnapshot,
    DiagnosisDigest,
    NodeInventory,
    NodeInventoryAck,
    ReadingBatch,
)

router = APIRouter(tags=["sync"])


def _body_doc(model: type[Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
            "description": "JSON, optionally with Content-Encoding: gzip",
        }
    }


@router.post(
    SYNC_READINGS_PATH,
    response_model=BatchAck,
    openapi_extra=_body_doc(ReadingBatch),
    responses={413: {"description": "body over the size cap"}},
)
async def push_readings(
    request: Request,
    hub: CurrentHub,
    session: SessionDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> Response:
    """Store a batch of readings; the ack lists accepted, duplicate and rejected items."""
    body = await read_body(request, settings.max_body_bytes)
    ack = await telemetry_service.ingest_readings(session, settings, metrics, hub, body)
    return Response(ack.model_dump_json(), media_type="application/json")


@router.post(SYNC_ALERTS_PATH, response_model=BatchAck, openapi_extra=_body_doc(AlertBatch))
async def push_alerts(
    request: Request,
    hub: CurrentHub,
    session: SessionDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> Response:
    """Store alerts the hub raised locally (idempotent by ``local_id``)."""
    payload = await read_json_body(request, settings.max_body_bytes)
    batch = alerts_service.parse_alert_batch(payload)
    ack = await alerts_service.ingest_hub_alerts(session, metrics, hub, batch)
    return Response(ack.model_dump_json(), media_type="application/json")


@router.put(SYNC_NODES_PATH, response_model=NodeInventoryAck)
async def put_nodes(
    inventory: NodeInventory, hub: CurrentHub, session: SessionDep
) -> NodeInventoryAck:
    """The hub's paired nodes: new MACs are registered, known ones updated."""
    return await registry_service.apply_inventory(session, hub, inventory)


@router.get(
    SYNC_CONFIG_PATH,
    response_model=ConfigSnapshot,
    responses={304: {"description": "the hub already holds this revision"}},
)
async def get_config(
    hub: CurrentHub,
    session: SessionDep,
    since_revision: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The config snapshot, or 304 when ``since_revision`` is the current revision."""
    registry_service.acknowledge_config(hub, since_revision)
    etag = f'"rev-{hub.config_revision}"'
    if since_revision is not None and since_revision == hub.config_revision:
        return Response(status_code=304, headers={"ETag": etag})
    snapshot = await registry_service.config_snapshot(session, hub)
    return Response(
        snapshot.model_dump_json(), media_type="application/json", headers={"ETag": etag}
    )


@router.get(
    SYNC_DIAGNOSES_PATH,
    response_model=DiagnosisDigest,
    responses={304: {"description": "the hub already holds this version (If-None-Match)"}},
)
async def get_diagnoses(request: Request, hub: CurrentHub, session: SessionDep) -> Response:
    """The newest diagnoses of the hub's plants; 304 when ``If-None-Match`` names this version."""
    digest = await diagnosis_service.hub_digest(session, hub)
    body = digest.model_dump_json().encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    cache = {"ETag": etag, "Cache-Control": "private, no-cache"}
    wanted = request.headers.get("if-none-match", "")
    if etag in (tag.strip().removeprefix("W/") for tag in wanted.split(",")):
        return Response(status_code=304, headers=cache)
    return Response(body, media_type="application/json", headers=cache)
