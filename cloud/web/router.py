"""The cloud app's pages and assets: one shell page for every address under ``/app/``, its
scripts and styles (the cloud's and the UI code shared with the hub), the web app manifest
and the service worker. Everything the pages show comes from the public JSON API."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from cloud.errors import NotFoundError
from shared.web.assets import SHARED_STATIC_DIR, Asset, load_assets

router = APIRouter(tags=["app"], include_in_schema=False)

STATIC_DIR: Final = Path(__file__).parent / "static"
ASSETS: Final = load_assets(STATIC_DIR, SHARED_STATIC_DIR)
SHELL_PAGE: Final = "app.html"
_NOT_SHELL = {"sw.js", SHELL_PAGE}


def _service_worker() -> Asset:
    """sw.js with the build id (a hash of every asset) and the shell's URLs filled in: a new
    deployment is a new worker, which replaces the cached shell."""
    build = hashlib.sha256("".join(sorted(a.etag for a in ASSETS.values())).encode()).hexdigest()
    shell = ["/app/", "/app/manifest.webmanifest"] + [
        f"/app/static/{name}"
        for name in sorted(ASSETS)
        if name not in _NOT_SHELL and not name.endswith(".webmanifest")
    ]
    source = ASSETS["sw.js"].body.decode()
    body = source.replace("__BUILD__", build[:16]).replace("__SHELL__", json.dumps(shell))
    return Asset(body.encode(), "text/javascript; charset=utf-8", f'"{build[:20]}"')


SERVICE_WORKER: Final = _service_worker()


def _csp(extra_origins: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob: {extra_origins}; connect-src 'self' {extra_origins}; "
        "worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ).replace("  ", " ")


def _headers(request: Request, asset: Asset) -> dict[str, str]:
    settings = request.app.state.settings
    origins = "https://storage.googleapis.com" if settings.gcs_bucket else ""
    return {
        "ETag": asset.etag,
        "Cache-Control": "no-cache",  # revalidated (ETag); the service worker keeps its copy
        "Content-Security-Policy": _csp(origins),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _serve(request: Request, asset: Asset | None, name: str) -> Response:
    if asset is None:
        raise NotFoundError(f"no such file: {name[:80]}")
    headers = _headers(request, asset)
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/app")
async def app_root() -> RedirectResponse:
    """The app lives under /app/ (the service worker's scope)."""
    return RedirectResponse("/app/", status_code=308)


@router.get("/app/sw.js")
async def service_worker(request: Request) -> Response:
    """The service worker, at the top of the app's scope."""
    return _serve(request, SERVICE_WORKER, "sw.js")


@router.get("/app/manifest.webmanifest")
async def manifest(request: Request) -> Response:
    """The web app manifest (installable PWA)."""
    return _serve(request, ASSETS.get("manifest.webmanifest"), "manifest.webmanifest")


@router.get("/app/static/{name:path}")
async def static_file(request: Request, name: str) -> Response:
    """A script, style sheet or icon of the app (or of the UI code shared with the hub)."""
    return _serve(request, ASSETS.get(name) if name not in _NOT_SHELL else None, name)


@router.get("/app/")
@router.get("/app/{page:path}")
async def shell(request: Request, page: str = "") -> Response:
    """The app shell; the script picks the view from the address."""
    return _serve(request, ASSETS[SHELL_PAGE], SHELL_PAGE)
