"""Logs (structlog JSON with a request id), Prometheus metrics in a per-app registry, errors."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import HubError
from shared.errors import ErrorBody, ErrorDetail

log = structlog.get_logger(__name__)


def configure_logging(json_logs: bool = True, level: int = logging.INFO) -> None:
    """structlog to stdout, JSON in production, with context vars (request id) merged in."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )


class HubMetrics:
    """The hub's Prometheus metrics, registered in the app's own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hub_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hub_http_request_seconds", "HTTP latency", ["route"], registry=self.registry
        )
        self.readings_stored = Gauge(
            "hub_readings_stored", "Readings held in the local store", registry=self.registry
        )
        self.pending = Gauge(
            "hub_sync_pending", "Rows waiting for the cloud", ["kind"], registry=self.registry
        )
        self.sync_lag = Gauge(
            "hub_sync_lag_seconds",
            "Age of the oldest reading not yet acknowledged by the cloud",
            registry=self.registry,
        )
        self.sync_bytes = Gauge(
            "hub_sync_bytes_sent",
            "Bytes sent to the cloud, per kind",
            ["kind"],
            registry=self.registry,
        )
        self.adverts_dropped = Gauge(
            "hub_adverts_dropped",
            "Adverts dropped by the gateway as broken or untrusted, per node and reason",
            ["node", "reason"],
            registry=self.registry,
        )
        self.adverts = Gauge(
            "hub_adverts",
            "Adverts heard from each paired node, by the one outcome each ended in "
            "(docs/hub-ble.md)",
            ["node", "outcome"],
            registry=self.registry,
        )
        self.commit_failures = Gauge(
            "hub_store_commit_failures_total",
            "Store transactions that could not be committed (full disk, I/O errors)",
            registry=self.registry,
        )
        self.disk_free = Gauge(
            "hub_disk_free_bytes",
            "Free space on the filesystem holding the hub's data",
            registry=self.registry,
        )
        self.clock_steps = Counter(
            "hub_clock_steps_total",
            "Wall-clock steps seen (NTP at boot or after an outage); jobs follow elapsed time",
            ["direction"],
            registry=self.registry,
        )
        self.job_late = Gauge(
            "hub_scheduled_job_late_seconds",
            "How far past its due time a scheduled job is without having started",
            ["job"],
            registry=self.registry,
        )
        self.job_running = Gauge(
            "hub_scheduled_job_running_seconds",
            "How long the scheduled job's current run has been going (0: idle)",
            ["job"],
            registry=self.registry,
        )
        self.job_runs = Gauge(
            "hub_scheduled_job_runs",
            "Runs of the scheduled job since the hub started, by outcome",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.data_dropped = Gauge(
            "hub_unsynced_dropped_total",
            "Unsynced rows dropped to stay in the disk budget",
            ["kind"],
            registry=self.registry,
        )
        self.mqtt_connected = Gauge(
            "hub_mqtt_connected",
            "1 while connected to the Home Assistant MQTT broker, 0 while not, -1 when none is set",
            registry=self.registry,
        )
        self.mqtt_messages = Gauge(
            "hub_mqtt_messages_published",
            "MQTT messages published since the hub started (discovery, states, availability)",
            registry=self.registry,
        )
        self.mqtt_failures = Gauge(
            "hub_mqtt_failed_attempts",
            "Failed MQTT connection attempts since the last successful connection",
            registry=self.registry,
        )


def _error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


class RequestContext:
    """Request id, access metrics and the last-resort 500 in the one error format.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) runs every
    request in a task group with memory streams around its body, which on a Pi's quarter core
    cost more than the garden overview's own handler and slowed every chunk of a photo upload.
    """

    def __init__(self, app: ASGIApp, metrics: HubMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the request, count and time it; answer 500 for an exception nothing handled."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = (Headers(scope=scope).get("x-request-id") or uuid.uuid4().hex)[:64]
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def tagged_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        except Exception:
            log.exception("unhandled_error", path=scope["path"])
            if response_started:
                raise
            await _error_response(500, "internal_error", "internal error")(
                scope, receive, tagged_send
            )
        finally:
            structlog.contextvars.clear_contextvars()
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)


def install(app: FastAPI, metrics: HubMetrics) -> None:
    """Request id + access metrics middleware and the one error handler family."""
    app.add_middleware(RequestContext, metrics=metrics)

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        response = _error_response(exc.status_code, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers or {})
        # The web UI asks for the password itself; a Basic challenge would pop the browser's.
        if exc.status_code == 401 and "x-requested-with" not in request.headers:
            response.headers["WWW-Authenticate"] = 'Basic realm="plantvita-hub"'
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return _error_response(422, "validation_error", "request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return _error_response(exc.status_code, code, str(exc.detail))
