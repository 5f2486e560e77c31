"""Local admin: first-run password, login/logout for the browser UI."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from hub.auth import service
from hub.auth.dependencies import check_admin_password, require_admin
from hub.auth.schemas import AuthStatus, Login, PasswordSet
from hub.dependencies import StoreDep
from hub.errors import HubError, Unauthorized

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


async def _authenticated(request: Request, store: StoreDep) -> bool:
    try:
        await require_admin(request, store)
    except HubError:
        return False
    return True


@router.get("", response_model=AuthStatus)
async def auth_status(request: Request, store: StoreDep) -> AuthStatus:
    """Is a password set; is this request authenticated."""
    stored = await service.password_hash(store)
    return AuthStatus(
        password_set=stored is not None,
        authenticated=stored is not None and await _authenticated(request, store),
    )


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def set_password(data: PasswordSet, request: Request, store: StoreDep) -> None:
    """First run: set the password (open). Later: change it with the current one or a session."""
    stored = await service.password_hash(store)
    if stored is not None:
        if data.current_password is not None:
            if not await check_admin_password(request, data.current_password, stored):
                raise Unauthorized("wrong admin password")
        else:
            await require_admin(request, store)
    await service.set_password(store, data.password)


@router.post("/login", status_code=status.HTTP_204_NO_CONTENT)
async def login(data: Login, request: Request, store: StoreDep, response: Response) -> None:
    """Check the password and set an HttpOnly, SameSite=Strict session cookie."""
    stored = await service.password_hash(store)
    if stored is None or not await check_admin_password(request, data.password, stored):
        raise Unauthorized("wrong admin password")
    max_age = store.settings.session_max_age_s
    cookie = service.make_cookie(await service.session_secret(store), max_age, stored)
    response.set_cookie(
        service.COOKIE_NAME, cookie, max_age=max_age, httponly=True, samesite="strict"
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(response: Response) -> None:
    """Drop the session cookie."""
    response.delete_cookie(service.COOKIE_NAME)
