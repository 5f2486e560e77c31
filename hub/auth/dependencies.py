"""The admin dependency: HTTP Basic with the admin password, or a valid session cookie."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from hub.auth import service as auth
from hub.auth.limiter import LoginLimiter, VerifiedPasswords
from hub.dependencies import StoreDep
from hub.errors import RateLimited, Unauthorized


class SetupRequired(Unauthorized):
    """No admin password yet: set one with ``plantvita hub set-password`` or the first-run API."""

    code = "setup_required"


async def require_admin(request: Request, store: StoreDep) -> None:
    """Allow the request only with the admin password (HTTP Basic) or a valid session cookie."""
    stored = await auth.password_hash(store)
    if stored is None:
        raise SetupRequired("set an admin password first (POST /api/v1/auth/password)")
    cookie = request.cookies.get(auth.COOKIE_NAME)
    if cookie and auth.cookie_valid(await auth.session_secret(store), cookie, stored):
        return
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            _user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials") from None
        if await check_admin_password(request, password, stored):
            return
    raise Unauthorized("admin credentials required")


async def check_admin_password(request: Request, password: str, stored: str) -> bool:
    """Verify a typed admin password, refusing (429) an address that guessed too often."""
    limiter: LoginLimiter = request.app.state.login_limiter
    address = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(address)
    if wait is not None:
        raise RateLimited(
            "too many wrong admin passwords; try again later", headers={"Retry-After": str(wait)}
        )
    verified: VerifiedPasswords = request.app.state.verified_passwords
    if verified.known(password, stored):
        limiter.succeeded(address)
        return True
    if await asyncio.to_thread(auth.verify_password, password, stored):
        verified.remember(password, stored)
        limiter.succeeded(address)
        return True
    limiter.failed(address)
    return False


AdminDep = Annotated[None, Depends(require_admin)]
