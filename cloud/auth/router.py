"""Identity routes: register, password login, refresh, logout, password change, hub linking."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import ValidationError

from cloud.auth import service
from cloud.auth.dependencies import AccessTokenMemoDep, CurrentUser
from cloud.auth.schemas import (
    DeviceApproval,
    DeviceApprovalResult,
    PasswordChange,
    RefreshRequest,
    SessionPublic,
    TokenPair,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from cloud.conventions import CREATED_RESPONSES, created_at
from cloud.db.session import SessionDep
from cloud.dependencies import ClientIpDep, PasswordsDep, RateLimiterDep, SettingsDep
from cloud.errors import OAuthProtocolError
from cloud.pagination import LIST_RESPONSES, PageDep, respond
from shared.errors import ErrorBody
from shared.sync import (
    DEVICE_APPROVE_PATH,
    DEVICE_CODE_PATH,
    DEVICE_TOKEN_PATH,
    DeviceAuthorization,
    DeviceCodeRequest,
    HubToken,
    OAuthError,
)

router = APIRouter(tags=["auth"])

ME_PATH = "/api/v1/auth/me"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _user_public(user: object) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


# Documented on every rate-limited route: the error body, with Retry-After and RateLimit-*.
_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Rate limited; see Retry-After"}
}


@router.post(
    "/api/v1/auth/register",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**_LIMITED, **CREATED_RESPONSES},
)
async def register(
    body: UserCreate,
    session: SessionDep,
    passwords: PasswordsDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    ip: ClientIpDep,
    response: Response,
) -> UserPublic:
    """Create an account (limited per client address); ``Location`` is the account."""
    limit = await limiter.check(
        "register", settings.rate_limit_register, ip, "too many sign-ups from this address"
    )
    response.headers.update(limit.headers)
    user = _user_public(await service.register(session, passwords, body))
    created_at(response, ME_PATH)
    return user


@router.post("/api/v1/auth/token", response_model=TokenPair, responses=_LIMITED)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    ip: ClientIpDep,
    request: Request,
) -> JSONResponse:
    """OAuth2 password grant (``username`` is the email): access + refresh token."""
    service.validate_password_form(form.grant_type)
    pair = await service.login(
        session,
        settings,
        passwords,
        form.username,
        form.password,
        ip,
        request.headers.get("user-agent"),
    )
    return JSONResponse(pair.model_dump(mode="json"), headers=_NO_STORE)


@router.post("/api/v1/auth/refresh", response_model=TokenPair, responses=_LIMITED)
async def refresh(
    body: RefreshRequest,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    ip: ClientIpDep,
) -> JSONResponse:
    """Rotate a refresh token; the old one stops working (re-use revokes the login)."""
    limit = await limiter.check(
        "refresh", settings.rate_limit_refresh, ip, "too many token refreshes from this address"
    )
    pair = await service.refresh(session, settings, body.refresh_token, ip)
    return JSONResponse(pair.model_dump(mode="json"), headers={**_NO_STORE, **limit.headers})


@router.post("/api/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, session: SessionDep) -> None:
    """Revoke a refresh token and every token rotated from the same login."""
    await service.logout(session, body.refresh_token)


@router.get(ME_PATH, response_model=UserPublic)
async def me(user: CurrentUser) -> UserPublic:
    """The signed-in user."""
    return _user_public(user)


@router.patch("/api/v1/auth/me", response_model=UserPublic)
async def update_me(body: UserUpdate, user: CurrentUser, session: SessionDep) -> UserPublic:
    """Change display preferences kept on the account (temperature unit, locale)."""
    return _user_public(await service.update_profile(session, user, body))


@router.get("/api/v1/auth/sessions", response_model=list[SessionPublic], responses=LIST_RESPONSES)
async def list_sessions(
    request: Request, response: Response, user: CurrentUser, session: SessionDep, page: PageDep
) -> list[SessionPublic]:
    """Your signed-in logins (browsers, apps), most recently active first (a page: see
    Pagination)."""
    return respond(request, response, await service.list_sessions(session, user, page))


@router.delete("/api/v1/auth/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(session_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Sign one login out: its refresh token stops working (access tokens expire soon)."""
    await service.revoke_session(session, user, session_id)


@router.post("/api/v1/auth/password", status_code=status.HTTP_204_NO_CONTENT, responses=_LIMITED)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    passwords: PasswordsDep,
    memo: AccessTokenMemoDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    response: Response,
) -> None:
    """Change the password; every refresh token of the user is revoked (limited per user, so
    a stolen access token cannot guess the current password)."""
    limit = await limiter.check(
        "password", settings.rate_limit_password_change, str(user.id), "too many password changes"
    )
    response.headers.update(limit.headers)
    memo.invalidate(user.id)
    await service.change_password(session, passwords, user, body)


async def _form_or_json(request: Request) -> dict[str, str]:
    raw = await request.body()
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise OAuthProtocolError("invalid_request", "body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise OAuthProtocolError("invalid_request", "body must be an object")
        return {str(k): v for k, v in data.items()}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


@router.post(
    DEVICE_CODE_PATH,
    response_model=DeviceAuthorization,
    responses={400: {"model": OAuthError}, **_LIMITED},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": DeviceCodeRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": DeviceCodeRequest.model_json_schema()
                },
            }
        }
    },
)
async def device_code(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    ip: ClientIpDep,
) -> JSONResponse:
    """RFC 8628 §3.1: a hub asks to be linked (JSON or form body with ``hub_name``)."""
    limit = await limiter.check(
        "device_code", settings.rate_limit_device_code, ip, "too many link requests"
    )
    fields = await _form_or_json(request)
    try:
        body = DeviceCodeRequest.model_validate(
            {k: v for k, v in fields.items() if k == "hub_name"}
        )
    except ValidationError as exc:
        raise OAuthProtocolError("invalid_request", "hub_name must be 1-64 characters") from exc
    grant = await service.start_device_authorization(session, settings, body.hub_name)
    return JSONResponse(grant.model_dump(), headers={**_NO_STORE, **limit.headers})


@router.post(
    DEVICE_TOKEN_PATH,
    response_model=HubToken,
    responses={400: {"model": OAuthError}},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "device_code"],
                        "properties": {
                            "grant_type": {"type": "string"},
                            "device_code": {"type": "string"},
                        },
                    }
                }
            }
        }
    },
)
async def device_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    ip: ClientIpDep,
) -> JSONResponse:
    """RFC 8628 §3.4: the hub polls with its device code until the user approves. Polling
    (or guessing codes) too often from one address answers ``slow_down`` (§3.5) with
    ``Retry-After`` and ``RateLimit-*``; a too-fast poll of one code does so too."""
    limit = await limiter.hit("device_token", settings.rate_limit_device_token, ip)
    if limit.exceeded:
        raise OAuthProtocolError(
            "slow_down",
            f"too many polls from this address; wait {limit.reset_s} seconds",
            headers=limit.headers,
        )
    fields = await _form_or_json(request)
    token = await service.exchange_device_code(
        session, fields.get("grant_type"), fields.get("device_code")
    )
    return JSONResponse(token.model_dump(mode="json"), headers={**_NO_STORE, **limit.headers})


@router.post(DEVICE_APPROVE_PATH, response_model=DeviceApprovalResult, responses=_LIMITED)
async def device_approve(
    body: DeviceApproval,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    response: Response,
) -> DeviceApprovalResult:
    """The signed-in user approves (or denies) the hub showing ``user_code`` (limited per
    user: RFC 8628 §5.1, a guessed code would link someone else's hub to this account)."""
    limit = await limiter.check(
        "device_approve", settings.rate_limit_device_approve, str(user.id), "too many codes tried"
    )
    response.headers.update(limit.headers)
    return await service.approve_device(session, user, body)
