"""Every dependency of every route is a coroutine (or an async generator): FastAPI runs a plain
``def`` dependency in its thread pool, a thread hand-off on every request for what is
usually an attribute read (the settings, the metrics). bench.fleet measured it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

# FastAPI's own form class (constructed in the pool): the password grant, a rare request whose
# cost is the password hash.
ALLOWED = {"/api/v1/auth/token: OAuth2PasswordRequestForm"}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _is_async(call: Any) -> bool:
    target = call if inspect.isroutine(call) else type(call).__call__
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def _routes(app: FastAPI) -> list[Any]:
    """The routes as served: an included router's with its include-time dependencies."""
    found: list[Any] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "effective_route_contexts"):
            contexts = route.effective_route_contexts
            found += list(contexts() if callable(contexts) else contexts)
    return found


def test_no_route_has_a_thread_pool_dependency(app: FastAPI) -> None:
    routes = _routes(app)
    assert len(routes) > 20
    sync = {
        f"{route.path}: {getattr(call, '__qualname__', type(call).__qualname__)}"
        for route in routes
        for call in _calls(route.dependant)
        if not _is_async(call)
    }
    assert sync == ALLOWED
