"""Hub-facing sync routes (hub token only): readings, alerts, node inventory, config snapshot,
diagnoses of the hub's plants.

``GET /sync/config?since_revision=N`` answers **304 Not Modified** (empty body, ``ETag``)
when the hub already holds revision N, and the full ``ConfigSnapshot`` otherwise.
``GET /sync/diagnoses`` carries a strong ``ETag`` of its body; ``If-None-Match`` with it: 304.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cloud.alerts import service as alerts_service
from cloud.auth.dependencies import CurrentHub, CurrentHubCaller
from cloud.conventions import etag_matches, etag_of
from cloud.db.session import SessionDep
from cloud.dependencies import MetricsDep, SettingsDep
from cloud.diagnosis import service as diagnosis_service
from cloud.ingest.body import read_body, read_json_body
from cloud.registry import service as registry_service
from cloud.telemetry import service as telemetry_service
from shared.sync import (
    SYNC_ALERTS_PATH,
    SYNC_CONFIG_PATH,
    SYNC_DIAGNOSES_PATH,
    SYNC_NODES_PATH,
    SYNC_PLANT_EDITS_PATH,
    SYNC_READINGS_PATH,
    SYNC_STATUS_PATH,
    AlertBatch,
    BatchAck,
    ConfigSnapshot,
    DiagnosisDigest,
    HubSyncStatus,
    NodeInventory,
    NodeInventoryAck,
    PlantEditAck,
    PlantEditBatch,
    ReadingBatch,
    config_etag,
    config_revision_of,
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
async def push_readings(request: Request, hub: CurrentHubCaller) -> Response:
    """Store a batch of readings; the ack lists accepted, duplicate and rejected items.

    The batch is committed, with others that arrived meanwhile, before the ack goes out."""
    state = request.app.state  # no more dependencies: each costs time on the hottest route
    body = await read_body(request, state.settings.max_body_bytes)
    ack = await telemetry_service.ingest_readings(state.ingest_groups, hub, body)
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


@router.put(SYNC_STATUS_PATH, status_code=204)
async def put_status(status: HubSyncStatus, hub: CurrentHub) -> Response:
    """What the hub still holds unsent at the end of its sync pass (the app's sync health)."""
    registry_service.record_sync_status(hub, status, datetime.now(UTC))
    return Response(status_code=204)


@router.post(SYNC_PLANT_EDITS_PATH, response_model=PlantEditAck)
async def post_plant_edits(
    batch: PlantEditBatch, hub: CurrentHub, session: SessionDep
) -> PlantEditAck:
    """Plant edits made on the hub (names, species, thresholds, node): applied when made on the
    cloud's current revision of the plant, else a conflict the hub shows (the cloud wins)."""
    return await registry_service.apply_plant_edits(session, hub, batch)


@router.get(
    SYNC_CONFIG_PATH,
    response_model=ConfigSnapshot,
    responses={304: {"description": "the hub already holds this revision"}},
)
async def get_config(
    request: Request,
    hub: CurrentHub,
    session: SessionDep,
    since_revision: Annotated[
        int | None, Query(ge=0, description='older form of `If-None-Match: "rev-N"`')
    ] = None,
) -> Response:
    """The config snapshot, or 304 when ``If-None-Match`` names the current revision's ETag
    (or ``since_revision`` is the current revision)."""
    held = config_revision_of(request.headers.get("if-none-match"))
    registry_service.acknowledge_config(hub, since_revision if held is None else held)
    cache = {"ETag": config_etag(hub.config_revision), "Cache-Control": "private, no-cache"}
    if since_revision == hub.config_revision or etag_matches(
        request.headers.get("if-none-match"), cache["ETag"]
    ):
        return Response(status_code=304, headers=cache)
    snapshot = await registry_service.config_snapshot(session, hub)
    return Response(snapshot.model_dump_json(), media_type="application/json", headers=cache)


@router.get(
    SYNC_DIAGNOSES_PATH,
    response_model=DiagnosisDigest,
    responses={304: {"description": "the hub already holds this version (If-None-Match)"}},
)
async def get_diagnoses(request: Request, hub: CurrentHub, session: SessionDep) -> Response:
    """The newest diagnoses of the hub's plants; 304 when ``If-None-Match`` names this version."""
    digest = await diagnosis_service.hub_digest(session, hub)
    body = digest.model_dump_json().encode()
    etag = etag_of(body)
    cache = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=cache)
    return Response(body, media_type="application/json", headers=cache)
