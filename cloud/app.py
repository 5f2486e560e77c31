"""The cloud FastAPI application: ``create_app(settings)`` and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from cloud.conventions import install_http_conventions
from cloud.db.engine import build_engine
from cloud.db.migrations import check_at_head, upgrade_to_head
from cloud.db.replica import open_read_routing
from cloud.db.session import autocommit_connection, open_read_database
from cloud.egress import Egress, EgressPolicy
from cloud.errors import install_error_handlers
from cloud.ingest.group import GroupCommit
from cloud.observability import CloudMetrics, RequestContextMiddleware, configure_logging
from cloud.openapi import install_openapi, operation_id
from cloud.proxies import ForwardedHeadersMiddleware, parse_networks
from cloud.ratelimit import RateLimiter
from cloud.security import AccessTokenMemo, Passwords
from cloud.settings import CloudSettings
from cloud.wiring import wire

_log = structlog.get_logger("cloud.app")


async def _resolve_database_url(settings: CloudSettings, app: FastAPI) -> str:
    """The configured server, or embedded PostgreSQL in ``pgdata_dir`` (migrated if allowed)."""
    if settings.database_url:
        return settings.database_url
    from cloud.db.embedded import start_embedded

    server = await asyncio.to_thread(start_embedded, settings.pgdata_dir)
    app.state.embedded_postgres = server
    url = server.uri()
    _log.warning(
        "embedded_postgres_started",
        pgdata=str(server.pgdata),
        note="no DATABASE_URL set: using embedded PostgreSQL in this data dir",
    )
    if settings.embedded_auto_migrate:
        await asyncio.to_thread(upgrade_to_head, url, settings.retention_policy())
        _log.info("embedded_postgres_migrated", note="embedded mode migrates automatically")
    return url


def create_app(settings: CloudSettings | None = None, *, egress: Egress | None = None) -> FastAPI:
    """Build the app; the engine, metrics and background tasks are created in its lifespan.

    ``egress`` vets user-chosen outbound URLs (webhooks); tests pass one with a static resolver.
    """
    settings = settings or CloudSettings()
    wire()
    configure_logging(settings.log_level, settings.log_json)
    if defaults := settings.development_secrets():
        _log.warning(
            "development_secrets_in_use",
            settings=defaults,
            note="these defaults are public: anyone can forge tokens; set them before "
            "exposing this service (plantvita cloud run refuses a non-loopback address)",
        )
    metrics = CloudMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = await _resolve_database_url(settings, app)
        pooled = settings.db_transaction_pooler
        engine = build_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            transaction_pooler=pooled,
        )
        app.state.engine = engine
        app.state.rate_limiter = RateLimiter(engine, enabled=settings.rate_limits_enabled)
        background: list[asyncio.Task[None]] = []
        try:
            await check_at_head(engine)
            from cloud.alerts.service import run_stale_node_checks
            from cloud.notifications.vapid import vapid_or_none
            from cloud.registry.service import run_offline_hub_checks

            if settings.stale_check_enabled:
                background.append(
                    asyncio.create_task(run_stale_node_checks(engine, settings, metrics))
                )
                background.append(
                    asyncio.create_task(
                        run_offline_hub_checks(
                            engine, settings.hub_offline_after_s, settings.stale_check_interval_s
                        )
                    )
                )
            app.state.vapid = await asyncio.to_thread(vapid_or_none, settings)
            from cloud.auth.dependencies import hub_callers
            from cloud.images.runtime import image_runtime
            from cloud.telemetry.service import (
                GROUP_MAX_READINGS,
                apply_group,
                member_keys,
                member_weight,
            )
            from cloud.worker import inline_worker

            async with (
                open_read_database(
                    url, settings.db_read_pool_size, transaction_pooler=pooled
                ) as read_database,
                open_read_routing(
                    read_database,
                    settings.database_replica_url,
                    settings.db_read_pool_size,
                    transaction_pooler=pooled,
                    max_lag_s=settings.replica_max_lag_s,
                    check_s=settings.replica_lag_check_s,
                ) as read_routing,
                image_runtime(app, settings),
                inline_worker(app, settings, settings.direct_database_url(url)),
                GroupCommit(
                    lambda: autocommit_connection(engine),
                    lambda conn, members: apply_group(conn, settings, metrics, members),
                    member_keys,
                    transactions=settings.ingest_group_transactions,
                    max_batches=settings.ingest_group_max_batches,
                    linger_s=settings.ingest_group_linger_ms / 1000,
                    weight=member_weight,
                    max_weight=GROUP_MAX_READINGS,
                    on_group=metrics.ingest_group_batches.observe,
                    on_fallback=metrics.ingest_group_fallbacks.inc,
                ) as ingest_groups,
                hub_callers(engine) as callers,
            ):
                app.state.ingest_groups = ingest_groups
                app.state.hub_callers = callers
                app.state.read_database = read_database
                app.state.read_routing = read_routing
                _log.info("cloud_started", environment=settings.environment.value)
                yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await engine.dispose()
            embedded = getattr(app.state, "embedded_postgres", None)
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)

    app = FastAPI(
        title="Plant-Vita cloud",
        version="1",
        description="The REST API of the Plant-Vita cloud: docs/cloud.md is the guide.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # cloud/apidocs serves /docs and /redoc offline
        redoc_url=None,
    )
    install_openapi(app, settings.public_base_url)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    app.state.access_token_memo = AccessTokenMemo(settings.token_floor_cache_s)
    app.state.egress = egress or Egress(
        policy=EgressPolicy.from_strings(settings.egress_allowed_networks)
    )
    install_error_handlers(app)
    install_http_conventions(app, settings)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    if settings.trusted_proxies:
        # Outermost: every later layer sees the real caller in ``request.client``.
        app.add_middleware(
            ForwardedHeadersMiddleware, trusted=parse_networks(settings.trusted_proxies)
        )
    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from cloud.alerts.router import router as alerts_router
    from cloud.apidocs.router import router as apidocs_router
    from cloud.auth.router import router as auth_router
    from cloud.diagnosis.router import router as diagnosis_router
    from cloud.garden.router import router as garden_router
    from cloud.health import router as health_router
    from cloud.images.router import router as images_router
    from cloud.notifications.router import router as notifications_router
    from cloud.registry.router import router as registry_router
    from cloud.storage.router import router as storage_router
    from cloud.sync.router import router as sync_router
    from cloud.telemetry.router import router as telemetry_router
    from cloud.web.router import router as web_router

    # Routes are matched in this order, one by one (~2 µs each): the hub batches (most of all
    # requests at fleet scale: bench.fleet), then the hot read routes. No two routers' paths
    # overlap, so the order changes nothing else.
    for router in (
        sync_router,
        health_router,
        telemetry_router,
        auth_router,
        registry_router,
        notifications_router,  # /alerts/webhook before the alerts router's /alerts/{alert_id}
        alerts_router,
        images_router,
        diagnosis_router,
        storage_router,
        garden_router,
        web_router,
        apidocs_router,
    ):
        app.include_router(router)
