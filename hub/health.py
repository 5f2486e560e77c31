"""``/healthz`` (process), ``/readyz`` (database, writer, scheduler, gateway, MQTT broker),
``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.budget import service as budget
from hub.dependencies import StoreDep
from hub.nodes import service as nodes_service
from hub.observability import HubMetrics
from hub.readings import service as readings_service
from hub.schedule import MonotonicScheduler
from hub.store.types import from_ms, utcnow
from hub.sync import service as sync_service

# Advert outcomes that are drops (broken or untrusted): also exported as hub_adverts_dropped.
DROPPED = ("replayed", "wrong_key", "malformed")

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, store: StoreDep) -> JSONResponse:
    """Ready when the database answers, the writer runs, the scheduler runs and, when a
    gateway is configured, it is started."""
    checks: dict[str, Any] = {}
    try:
        await store.ping()
        if not store.writer.running:
            checks["database"] = "writer stopped"
        else:
            # Reading is not enough: a full disk leaves reads working and every commit failing.
            checks["database"] = store.storage_problem() or "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    scheduler: MonotonicScheduler | None = request.app.state.scheduler
    problems = scheduler.problems() if scheduler is not None else ["stopped"]
    checks["scheduler"] = "; ".join(problems) if problems else "ok"
    gateway = request.app.state.gateway
    if gateway is None:
        checks["gateway"] = "disabled"
    else:
        problem = gateway.radio_problem
        if problem is not None:
            checks["gateway"] = problem
        else:
            checks["gateway"] = "ok" if request.app.state.gateway_started else "not started"
    # Home Assistant: "disabled" while no broker is configured; a configured broker the hub is
    # not connected to is a problem the gardener should see, not a hidden one.
    mqtt = getattr(request.app.state, "mqtt", None)
    if mqtt is None or not mqtt.config.enabled:
        checks["mqtt"] = "disabled"
    else:
        checks["mqtt"] = mqtt.problem() or "ok"
    ok = all(v in ("ok", "disabled") for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/metrics")
async def metrics(request: Request, store: StoreDep) -> Response:
    """Prometheus metrics (gauges refreshed from the store on each scrape)."""
    hub_metrics: HubMetrics = request.app.state.metrics
    hub_metrics.commit_failures.set(store.writer.commit_failures)
    hub_metrics.disk_free.set(store.free_bytes())
    mqtt = getattr(request.app.state, "mqtt", None)
    if mqtt is not None:
        bridge = mqtt.status()
        hub_metrics.mqtt_connected.set(
            -1 if bridge.state == "off" else 1 if bridge.state == "connected" else 0
        )
        hub_metrics.mqtt_messages.set(bridge.messages_published)
        hub_metrics.mqtt_failures.set(bridge.failed_attempts)
    scheduler: MonotonicScheduler | None = request.app.state.scheduler
    if scheduler is not None:
        now = scheduler.now_monotonic()
        for job in scheduler.get_jobs():
            hub_metrics.job_late.labels(job.id).set(job.late_by_s(now))
            hub_metrics.job_running.labels(job.id).set(job.running_for_s(now))
            hub_metrics.job_runs.labels(job.id, "ok").set(job.runs - job.failures)
            hub_metrics.job_runs.labels(job.id, "failed").set(job.failures)
    async with store.read() as session:
        hub_metrics.readings_stored.set(await readings_service.count_readings(session))
        oldest, pending, sent_bytes = await sync_service.store_stats(session)
        lag = (utcnow() - from_ms(oldest)).total_seconds() if oldest is not None else 0.0
        hub_metrics.sync_lag.set(max(0.0, lag))
        for kind, count in pending.items():
            hub_metrics.pending.labels(kind).set(count)
        for kind, sent in sent_bytes.items():
            hub_metrics.sync_bytes.labels(kind).set(sent)
        for node in await nodes_service.paired_nodes(session):
            for outcome, value in node.advert_counts().items():
                hub_metrics.adverts.labels(node.mac, outcome).set(value)
                if outcome in DROPPED:
                    hub_metrics.adverts_dropped.labels(node.mac, outcome).set(value)
        for kind, count in (await budget.dropped_counts(session)).items():
            hub_metrics.data_dropped.labels(kind).set(count)
    return Response(generate_latest(hub_metrics.registry), media_type=CONTENT_TYPE_LATEST)
