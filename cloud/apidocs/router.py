"""The API reference pages and their assets, all from installed packages (no CDN)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cloud.conventions import etag_of
from cloud.errors import NotFoundError
from shared.web.assets import Asset, load_assets

router = APIRouter(include_in_schema=False)

ASSET_PREFIX: Final = "/docs/static"
OWN_STATIC: Final = Path(__file__).parent / "static"
# The viewers set styles at run time (Swagger UI's React, Redoc's styled-components) and Redoc
# searches in a blob: worker; scripts are this origin's files only.
DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


# The one off-site file Redoc would fetch (its "API docs by Redocly" logo); ours instead.
_REDOC_LOGO: Final = (b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"/docs/static/favicon.png")


@cache
def assets() -> dict[str, Asset]:
    """Swagger UI and Redoc from the fastapi-offline wheel, plus our start-up script."""
    viewers = Path(str(resources.files("fastapi_offline").joinpath("static")))
    found = load_assets(viewers, OWN_STATIC)
    redoc = found["redoc.standalone.js"]
    body = redoc.body.replace(*_REDOC_LOGO)
    found["redoc.standalone.js"] = Asset(body, redoc.media_type, etag_of(body))
    return found


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="{ASSET_PREFIX}/favicon.png">{head}</head>'
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(
        html, headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"}
    )


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI on this cloud's OpenAPI document."""
    return _page(
        "Plant-Vita cloud API",
        f'<link rel="stylesheet" href="{ASSET_PREFIX}/swagger-ui.css">',
        f'<div id="swagger-ui"></div><script src="{ASSET_PREFIX}/swagger-ui-bundle.js"></script>'
        f'<script src="{ASSET_PREFIX}/swagger-init.js"></script>',
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    """Redoc on this cloud's OpenAPI document."""
    return _page(
        "Plant-Vita cloud API (Redoc)",
        "",
        f'<redoc spec-url="/openapi.json"></redoc><script src="{ASSET_PREFIX}/redoc.standalone.js">'
        "</script>",
    )


@router.get(ASSET_PREFIX + "/{name}")
async def docs_asset(name: str, request: Request) -> Response:
    """One file of the viewers, revalidated by its ETag."""
    asset = assets().get(name)
    if asset is None:
        raise NotFoundError("no such file")
    headers = {"ETag": asset.etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
