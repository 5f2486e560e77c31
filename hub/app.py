"""The hub's FastAPI app: ``create_app`` wires the store, writer, scheduler, cloud client and the
(optional) BLE gateway in the lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hub import health
from hub.alerts import router as alerts_router
from hub.alerts import service as alerts_service
from hub.auth import router as auth_router
from hub.auth.limiter import LoginLimiter, VerifiedPasswords
from hub.ble.ports import GatewayControl
from hub.budget import service as budget
from hub.diagnoses import router as diagnoses_router
from hub.hub_store import HubStore, open_store
from hub.images import router as images_router
from hub.images.limits import UploadSizeLimit
from hub.mqtt import router as mqtt_router
from hub.mqtt.service import MqttBridge
from hub.nodes import router as nodes_router
from hub.observability import HubMetrics, configure_logging, install
from hub.plants import router as plants_router
from hub.plants import service as plants_service
from hub.readings import router as readings_router
from hub.schedule import ClockStep, MonotonicScheduler
from hub.settings import Environment, HubSettings
from hub.store.types import utcnow
from hub.sync import router as sync_router
from hub.sync.client import CloudClient, CloudError
from hub.sync.link import LinkManager
from hub.sync.service import SyncEngine
from hub.systemd import systemd_notifier
from hub.web import router as web_router
from hub.web import service as web_service
from shared.errors import ErrorBody, ErrorDetail

log = structlog.get_logger(__name__)

BUDGET_INTERVAL_S = 300.0


class HubGateway(GatewayControl, Protocol):
    """A gateway the app can run: GatewayControl plus start/stop."""

    async def start(self) -> None:
        """Begin scanning."""
        ...

    async def stop(self) -> None:
        """Stop scanning and close sessions."""
        ...


GatewayFactory = Callable[[HubStore, HubSettings], HubGateway]


async def evaluate_alerts(store: HubStore) -> int:
    """One pass of local alert evaluation, the hub's own storage alert first."""
    changed = 0
    incident = store.check_storage()
    if incident is not None:
        # Fails while the disk is full; written (with its start time) once the hub can write.
        changed += await store.write(
            lambda session: alerts_service.record_storage(session, incident)
        )
        store.forget_incident(incident)
    return changed + await store.write(
        lambda session: alerts_service.evaluate(session, store.settings, utcnow())
    )


def create_app(
    settings: HubSettings | None = None,
    *,
    gateway_factory: GatewayFactory | None = None,
    cloud_transport: httpx.AsyncBaseTransport | None = None,
    run_scheduler: bool = True,
) -> FastAPI:
    """The hub app. ``gateway_factory`` builds the BLE gateway (None: API/upload only);
    ``cloud_transport`` lets tests route cloud calls in-process."""
    settings = settings or HubSettings()
    configure_logging(json_logs=settings.environment is not Environment.DEVELOPMENT)
    metrics = HubMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_store(settings) as store,
            httpx.AsyncClient(transport=cloud_transport, timeout=settings.sync_timeout_s) as http,
        ):

            def client_factory(url: str, token: str | None) -> CloudClient:
                return CloudClient(http, url, token)

            await web_service.restore_settings(store)
            await store.write(plants_service.seed_catalogue)
            gateway = gateway_factory(store, settings) if gateway_factory else None
            if gateway is not None and not settings.ble_enabled:
                gateway = None
            engine = SyncEngine(store, settings, client_factory, gateway)

            def clock_stepped(step: ClockStep) -> None:
                metrics.clock_steps.labels("forward" if step.seconds > 0 else "backward").inc()

            # Elapsed time, not the wall clock: NTP steps a Pi's clock by hours (hub/schedule.py).
            scheduler = MonotonicScheduler(on_clock_step=clock_stepped)
            scheduler.add_job(
                engine.run,
                id="sync",
                seconds=settings.sync_interval_s,
                # A week's catch-up under the bandwidth cap takes long: hung only past this.
                stall_after_s=max(3 * settings.sync_interval_s, 3600.0),
            )
            scheduler.add_job(
                evaluate_alerts, id="alerts", seconds=settings.alert_interval_s, args=(store,)
            )
            scheduler.add_job(budget.enforce, id="budget", seconds=BUDGET_INTERVAL_S, args=(store,))
            app.state.settings = settings
            app.state.store = store
            app.state.sync = engine
            app.state.link = LinkManager(store, client_factory)
            app.state.gateway = gateway
            app.state.gateway_started = False
            app.state.scheduler = scheduler
            # Home Assistant: a view of the store on the gardener's MQTT broker (off by default).
            radio = gateway
            mqtt = MqttBridge(
                store,
                sync_now=lambda: engine.run(force=True),
                take_photo=(lambda mac: radio.request_photo(mac)) if radio is not None else None,
            )
            app.state.mqtt = mqtt
            if run_scheduler:
                scheduler.start()
            try:
                if gateway is not None:
                    await gateway.start()
                    app.state.gateway_started = True
                await mqtt.start()
                # What lives as long as the process (modules, classes, the ORM's mappers, the
                # gateway's state) leaves the collector's generations: a full collection then
                # walks only what came later. Each one walked ~235,000 objects, up to 130 ms of
                # CPU (half a second on a Pi's quarter core) that every request waited behind.
                gc.collect()
                gc.freeze()
                log.info(
                    "hub_started", data_dir=str(settings.data_dir), gateway=gateway is not None
                )
                # Tells systemd (Type=notify, WatchdogSec) we are up and keeps the watchdog fed.
                async with systemd_notifier():
                    yield
            finally:
                gc.unfreeze()  # collectable again once the app is gone (tests build many)
                await mqtt.stop()
                await scheduler.shutdown()
                if gateway is not None and app.state.gateway_started:
                    await gateway.stop()
                    app.state.gateway_started = False
                log.info("hub_stopped")

    app = FastAPI(
        title="Plant-Vita hub",
        version="1",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.login_limiter = LoginLimiter(
        settings.login_max_failures, settings.login_failure_window_s
    )
    app.state.verified_passwords = VerifiedPasswords()
    install(app, metrics)
    app.add_middleware(UploadSizeLimit, path="/api/v1/images", max_bytes=settings.image_max_bytes)

    @app.exception_handler(CloudError)
    async def _cloud_error(_request: Request, exc: CloudError) -> JSONResponse:
        body = ErrorBody(error=ErrorDetail(code="cloud_error", message=str(exc)))
        return JSONResponse(body.model_dump(mode="json"), status_code=502)

    for module in (
        health,
        auth_router,
        plants_router,
        readings_router,
        nodes_router,
        images_router,
        diagnoses_router,
        alerts_router,
        sync_router,
        mqtt_router,
        web_router,
    ):
        app.include_router(module.router)
    return app
