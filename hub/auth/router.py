"""Local admin: first-run password, login/logout for the browser UI."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from hub.auth import service
from hub.auth.schemas import AuthStatus, Login, PasswordSet
from hub.dependencies import StoreDep, require_admin
from hub.errors import HubError

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
    if await service.password_hash(store) is not None:
        if data.current_password is not None:
            await service.check_password(store, data.current_password)
        else:
            await require_admin(request, store)
    await service.set_password(store, data.password)


@router.post("/login", status_code=status.HTTP_204_NO_CONTENT)
async def login(data: Login, store: StoreDep, response: Response) -> None:
    """Check the password and set an HttpOnly, SameSite=Strict session cookie."""
    await service.check_password(store, data.password)
    stored = await service.password_hash(store)
    assert stored is not None
    max_age = store.settings.session_max_age_s
    cookie = service.make_cookie(await service.session_secret(store), max_age, stored)
    response.set_cookie(
        service.COOKIE_NAME, cookie, max_age=max_age, httponly=True, samesite="strict"
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(response: Response) -> None:
    """Drop the session cookie."""
    response.delete_cookie(service.COOKIE_NAME)
