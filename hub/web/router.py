"""The web UI: HTML pages and their assets from the package (works with no internet), the
garden overview in one request, a server-sent event stream of overview changes, and settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from hub.auth.dependencies import AdminDep
from hub.ble.ports import GatewayControl
from hub.dependencies import GatewayDep, ReadSessionDep, SettingsDep, StoreDep
from hub.errors import NotFound
from hub.store.types import utcnow
from hub.web import service
from hub.web.schemas import Overview, WebSettings, WebSettingsUpdate
from shared.web.assets import SHARED_STATIC_DIR, load_assets

router = APIRouter(tags=["web"])

STATIC_DIR = Path(__file__).parent / "static"
EVENT_POLL_S = 1.0  # how often the stream looks for changes (one indexed query)
EVENT_HEARTBEAT_S = 15.0
# Streams end after this long and the browser reconnects at once, so a hub shutdown never
# waits long on open event streams (uvicorn lets in-flight responses finish).
EVENT_STREAM_MAX_S = 30.0

PAGES = {
    "/": "index.html",
    "/nodes": "nodes.html",
    "/sync": "sync.html",
    "/settings": "settings.html",
}


ASSETS = load_assets(STATIC_DIR, SHARED_STATIC_DIR)

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _serve(request: Request, name: str) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFound(f"no such file: {name[:80]}")
    # Revalidate each time: cheap on the LAN and a hub upgrade never serves stale scripts.
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", **_SECURITY_HEADERS}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


async def _page(request: Request) -> Response:
    return _serve(request, PAGES[request.url.path])


for _path in PAGES:
    router.add_api_route(_path, _page, methods=["GET"], include_in_schema=False)


@router.get("/plants/{plant_id}", include_in_schema=False)
async def plant_page(request: Request, plant_id: str) -> Response:
    """The plant page (the script reads the plant id from the address)."""
    return _serve(request, "plant.html")


@router.get("/static/{name:path}", include_in_schema=False)
async def static_file(request: Request, name: str) -> Response:
    """A CSS, JS or SVG asset shipped in the package."""
    return _serve(request, name)


@router.get("/api/v1/web/overview", response_model=Overview)
async def garden_overview(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    gateway: GatewayDep,
    store: StoreDep,
) -> Response:
    """Every plant with latest metrics against its thresholds, node health, photo, alerts.
    The ETag is the overview's version: ``If-None-Match`` with it answers 304 while the garden
    is unchanged, and pages and the event stream share one computation per version."""
    now, radio, storage = utcnow(), _radio_problem(gateway), store.storage_problem()
    version = await service.overview_version(session, now, radio, storage)
    etag = f'"{version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    _, body = await _shared_overview(request).get(version, session, settings, now, radio, storage)
    return Response(body, media_type="application/json", headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _radio_problem(gateway: GatewayControl | None) -> str | None:
    return gateway.radio_problem if gateway is not None else None


def _shared_overview(request: Request) -> service.SharedOverview:
    state = request.app.state
    if not hasattr(state, "web_overview"):
        state.web_overview = service.SharedOverview()
    shared: service.SharedOverview = state.web_overview
    return shared


@router.get("/api/v1/web/events", include_in_schema=False)
async def garden_events(
    request: Request, store: StoreDep, settings: SettingsDep, gateway: GatewayDep
) -> Response:
    """Server-sent events: an ``overview`` event now and whenever the garden changes."""

    shared = _shared_overview(request)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        started = last_sent = time.monotonic()
        version = ""
        while time.monotonic() - started < EVENT_STREAM_MAX_S:
            if await request.is_disconnected():
                return
            payload = None
            async with store.read() as session:
                now = utcnow()
                radio = _radio_problem(gateway)
                storage = store.storage_problem()
                current = await service.overview_version(session, now, radio, storage)
                if current != version:
                    payload = await shared.get(current, session, settings, now, radio, storage)
            if payload is not None:
                version, body = payload
                last_sent = time.monotonic()
                yield f"event: overview\nid: {version}\ndata: {body}\n\n"
            if time.monotonic() - last_sent > EVENT_HEARTBEAT_S:
                last_sent = time.monotonic()
                yield ": still here\n\n"
            await asyncio.sleep(EVENT_POLL_S)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/v1/web/settings", response_model=WebSettings)
async def get_settings(store: StoreDep) -> WebSettings:
    """Temperature unit, disk budget and current disk use."""
    return await service.read_settings(store)


@router.patch("/api/v1/web/settings", response_model=WebSettings)
async def change_settings(
    data: WebSettingsUpdate, store: StoreDep, _admin: AdminDep
) -> WebSettings:
    """Change the temperature unit or the disk budget (admin)."""
    return await service.update_settings(store, data)
