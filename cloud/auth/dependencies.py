"""Who is calling: ``CurrentUser`` (JWT access token, user row loaded), ``CurrentUserId``
(the same checks for read endpoints, without the row), ``CurrentHub`` (hub token) and
``CurrentHubCaller`` (the same checks, the hub's ids only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from cloud.auth import service
from cloud.auth.models import Hub, User
from cloud.db.session import SessionDep, autocommit_connection
from cloud.dependencies import SettingsDep
from cloud.errors import UnauthorizedError
from cloud.ingest.group import GroupCommit
from cloud.security import AccessTokenMemo

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a route, not a secret

_oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
_hub_bearer = HTTPBearer(auto_error=False, scheme_name="HubToken")


# Hub-token checks per process: statements in flight, and requests one statement answers.
HUB_CHECKS_IN_FLIGHT = 2
HUB_CHECKS_PER_STATEMENT = 64

# Methods that change nothing: their caller's next reads may come from a read replica.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(_oauth2)],
) -> User:
    """The signed-in user; 401 for a missing, expired, forged or hub token. A user who calls a
    writing route reads the primary for a while after (read-your-own-writes, cloud.db.replica)."""
    if not token:
        raise UnauthorizedError()
    user = await service.authenticate_access_token(session, settings, token)
    _note_write(request, user.id)
    return user


def _note_write(request: Request, user_id: uuid.UUID) -> None:
    """A writing route's caller reads the primary for a while (cloud.db.replica)."""
    if request.method not in SAFE_METHODS:
        routing = getattr(request.app.state, "read_routing", None)
        if routing is not None:
            routing.wrote(user_id)


async def get_access_token_memo(request: Request) -> AccessTokenMemo:
    """The app's memo of verified access tokens and users' token floors."""
    memo: AccessTokenMemo = request.app.state.access_token_memo
    return memo


AccessTokenMemoDep = Annotated[AccessTokenMemo, Depends(get_access_token_memo)]


async def current_user_id(
    request: Request, token: Annotated[str | None, Depends(_oauth2)]
) -> uuid.UUID:
    """The signed-in user's id for read endpoints: the refusals of ``current_user`` (missing,
    expired, forged, hub or revoked token, unknown user) without a session or the user row.

    What it needs comes straight from the app state built by ``create_app`` and its lifespan:
    every sub-dependency costs FastAPI time on each request of a hot read endpoint (and a
    sync one would run in a worker thread).
    """
    if not token:
        raise UnauthorizedError()
    state = request.app.state
    user_id = await service.authenticate_user_id(
        state.read_database, state.access_token_memo, state.settings, token
    )
    _note_write(request, user_id)
    return user_id


def _bearer(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer token of a hub's request; 401 without one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError("a hub token is required")
    return credentials.credentials


async def current_hub(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_hub_bearer)],
) -> Hub:
    """The linked hub calling a sync route; 401 for a user token or a revoked hub token."""
    hub = await service.authenticate_hub_token(session, _bearer(credentials))
    service.touch_hub(hub)
    return hub


async def current_hub_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_hub_bearer)],
) -> service.HubCaller:
    """``current_hub`` for the hot sync routes that need only the hub's ids: no session, no
    ORM row, and the tokens of the requests that arrive meanwhile are checked in one
    statement (``hub_callers``, built by the app's lifespan; bench.fleet)."""
    token_hash = service.hub_token_hash(_bearer(credentials))
    callers: GroupCommit[str, service.HubCaller] = request.app.state.hub_callers
    return await callers.submit(token_hash)


def hub_callers(engine: AsyncEngine) -> GroupCommit[str, service.HubCaller]:
    """The hub-token checks of a process, grouped as ingest batches are: a request that finds
    a check free runs at once; under load, the ones that queued go in the next statement."""
    return GroupCommit(
        lambda: autocommit_connection(engine),
        service.authenticate_hub_callers,
        lambda _token_hash: (),  # a token twice in one group is simply looked up once
        transactions=HUB_CHECKS_IN_FLIGHT,
        max_batches=HUB_CHECKS_PER_STATEMENT,
        name="hub_token",
        atomic=False,
    )


CurrentUser = Annotated[User, Depends(current_user)]
CurrentUserId = Annotated[uuid.UUID, Depends(current_user_id)]
CurrentHub = Annotated[Hub, Depends(current_hub)]
CurrentHubCaller = Annotated[service.HubCaller, Depends(current_hub_caller)]
