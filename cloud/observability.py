"""Logs, metrics and request ids: structlog JSON, a per-app Prometheus registry, middleware."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Configure structlog once per process: JSON lines with the request id bound per request."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        cache_logger_on_first_use=False,
    )


@dataclass(frozen=True)
class CloudMetrics:
    """The app's Prometheus collectors, registered on a registry owned by the app."""

    registry: CollectorRegistry
    request_latency: Histogram
    ingest_rows: Counter
    alerts_opened: Counter
    batch_id_conflicts: Counter
    ingest_group_batches: Histogram
    ingest_group_fallbacks: Counter

    @classmethod
    def create(cls) -> CloudMetrics:
        """Build a fresh registry and collectors (one per app, so tests never share counters)."""
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            request_latency=Histogram(
                "plantvita_cloud_request_duration_seconds",
                "HTTP request latency by route template",
                ["method", "route", "status"],
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
            ingest_rows=Counter(
                "plantvita_cloud_ingest_readings",
                "Readings received through the sync API by outcome",
                ["outcome"],
                registry=registry,
            ),
            alerts_opened=Counter(
                "plantvita_cloud_alerts_opened",
                "Alerts opened by kind",
                ["kind", "source"],
                registry=registry,
            ),
            batch_id_conflicts=Counter(
                "plantvita_cloud_batch_id_conflicts",
                "Batch ids re-sent with different contents (answered 409)",
                ["kind"],
                registry=registry,
            ),
            ingest_group_batches=Histogram(
                "plantvita_cloud_ingest_group_batches",
                "Reading batches applied per ingest transaction (group commit)",
                registry=registry,
                buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            ),
            ingest_group_fallbacks=Counter(
                "plantvita_cloud_ingest_group_fallbacks",
                "Ingest groups that failed and were applied again one batch per transaction",
                registry=registry,
            ),
        )


class RequestContextMiddleware:
    """Pure ASGI middleware: request id header, structlog context, latency histogram, access log."""

    def __init__(self, app: ASGIApp, metrics: CloudMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = structlog.get_logger("cloud.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request_latency.labels(scope["method"], template, str(status)).observe(
                elapsed
            )
            self.log.info(
                "request",
                method=scope["method"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate: str = value.decode("latin-1")[:64]
            if candidate.replace("-", "").isalnum():
                return candidate
    return None
