"""HTTP conventions every cloud answer follows, in one pure ASGI middleware (docs/cloud.md):

- security headers on everything: ``X-Content-Type-Options: nosniff``, no framing
  (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``), ``Referrer-Policy: no-referrer``, a
  strict ``Content-Security-Policy`` unless the route set its own (the docs pages do), and HSTS
  when the request came over https;
- ``Cache-Control: private, no-cache`` unless the route chose (tokens say ``no-store``, the
  public catalogue ``public``): user data is never stored by shared caches, and clients
  revalidate with the ``ETag``;
- a strong ``ETag`` on every 200 JSON answer to GET/HEAD that has none, and ``If-None-Match``
  naming it answers ``304 Not Modified`` with no body;
- ``OPTIONS`` answers ``204`` and 405 answers carry ``Allow`` with every method of the path
  (the router alone names only the first route's).

CORS (an allow-list of origins, off by default) sits inside, so its preflights pass through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, Final

from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.settings import CloudSettings

# JSON and everything that is not a page: nothing to load, nothing to frame.
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Any HTML page the cloud serves: its own scripts and styles only.
HTML_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
HSTS: Final = "max-age=63072000; includeSubDomains"
DEFAULT_CACHE: Final = "private, no-cache"
# The same for everyone (species catalogue, metric registry): shared caches may keep it a while.
PUBLIC_CACHE: Final = "public, max-age=300"

# What a browser app on an allowed origin may send and read.
CORS_REQUEST_HEADERS: Final = ("Authorization", "Content-Type", "If-None-Match", "X-Request-ID")
CORS_EXPOSED_HEADERS: Final = (
    "ETag",
    "Link",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "X-Request-ID",
)
CORS_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_ORDER: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def install_http_conventions(app: FastAPI, settings: CloudSettings) -> None:
    """Add CORS (when origins are configured) and the conventions middleware around it."""
    if settings.cors_allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            allow_credentials=False,  # bearer tokens, never cookies
            max_age=600,
        )
    app.add_middleware(HttpConventions, fastapi=app, cors=bool(settings.cors_allowed_origins))


# OpenAPI of a 201: where the new resource lives.
CREATED_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "created; `Location` is the new resource's URL",
        "headers": {
            "Location": {"description": "path of the new resource", "schema": {"type": "string"}}
        },
    }
}


def created_at(response: Response, path: str) -> None:
    """Say where the resource a 201 made lives."""
    response.headers["Location"] = path


def _flat_routes(routes: Sequence[Any]) -> Iterator[BaseRoute]:
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # an included router: its own routes carry full paths
            yield from _flat_routes(original.routes)
        else:
            yield route


def etag_of(body: bytes) -> str:
    """The strong entity tag of a body."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2 weak comparison of ``If-None-Match`` with ``etag`` (``*`` matches)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


class HttpConventions:
    """Pure ASGI middleware applying the module's conventions to every HTTP answer."""

    def __init__(self, app: ASGIApp, fastapi: FastAPI, cors: bool) -> None:
        self.app = app
        self.fastapi = fastapi
        self.cors = cors
        self._routes: list[BaseRoute] | None = None

    def allowed_methods(self, scope: Scope) -> list[str]:
        """Every method some route of this path answers, plus OPTIONS (empty: no such path)."""
        if self._routes is None:
            self._routes = list(_flat_routes(self.fastapi.router.routes))
        methods: set[str] = set()
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                route_methods = getattr(route, "methods", None)
                if not route_methods:  # a mount answers every method
                    return list(_ORDER)
                methods |= set(route_methods)
        if not methods:
            return []
        methods |= {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
        return [m for m in _ORDER if m in methods] + sorted(methods - set(_ORDER))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        request_headers = Headers(scope=scope)
        https = scope.get("scheme") == "https"
        if method == "OPTIONS" and not (
            self.cors and "access-control-request-method" in request_headers
        ):
            allowed = self.allowed_methods(scope)
            if allowed:
                headers = MutableHeaders(raw=[])
                headers["Allow"] = ", ".join(allowed)
                _secure(headers, https)
                await send({"type": "http.response.start", "status": 204, "headers": headers.raw})
                await send({"type": "http.response.body", "body": b""})
                return

        conditional = method == "GET"  # a HEAD body is empty: its hash is no version
        if_none_match = request_headers.get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _secure(headers, https)
                if message["status"] == 405:
                    allowed = self.allowed_methods(scope)
                    if allowed:
                        headers["Allow"] = ", ".join(allowed)
                if (
                    conditional
                    and message["status"] == 200
                    and "etag" not in headers
                    and headers.get("content-type", "").startswith("application/json")
                ):
                    start = message  # hold it: the ETag needs the whole body
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            etag = etag_of(body)
            headers = MutableHeaders(scope=start)
            headers["ETag"] = etag
            if etag_matches(if_none_match, etag):
                start["status"] = 304
                for name in ("content-length", "content-type"):
                    if name in headers:
                        del headers[name]
                body = b""
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_wrapper)


def _secure(headers: MutableHeaders, https: bool) -> None:
    html = headers.get("content-type", "").startswith("text/html")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Content-Security-Policy", HTML_CSP if html else API_CSP)
    headers.setdefault("Cache-Control", DEFAULT_CACHE)
    if https:
        headers.setdefault("Strict-Transport-Security", HSTS)
