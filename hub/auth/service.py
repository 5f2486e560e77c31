"""The local admin: one password (scrypt hash in the store) and signed session cookies."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time

from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadRequest
from hub.store import kv
from hub.store.database import Database

# scrypt from the standard library: a memory-hard KDF without adding argon2 to the Pi image.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8
COOKIE_NAME = "plantvita_session"


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (CPU-bound: call in a thread)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash (CPU-bound)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(),
        salt=base64.urlsafe_b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    return hmac.compare_digest(candidate, base64.urlsafe_b64decode(digest))


async def password_hash(store: Database) -> str | None:
    """The stored admin hash, or None before first-run setup."""
    async with store.read() as session:
        return await kv.get(session, kv.ADMIN_PASSWORD_HASH)


async def set_password(store: Database, password: str) -> None:
    """Store a new admin password (the caller checked who may do this)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    hashed = await asyncio.to_thread(hash_password, password)

    async def op(session: AsyncSession) -> None:
        await kv.put(session, kv.ADMIN_PASSWORD_HASH, hashed)

    await store.write(op)


async def session_secret(store: Database) -> bytes:
    """The cookie signing key: from settings, else generated once and kept in the store."""
    if store.settings.session_secret:
        return store.settings.session_secret.encode()
    async with store.read() as session:
        value = await kv.get(session, kv.SESSION_SECRET)
    if value is None:
        value = secrets.token_urlsafe(32)
        candidate = value

        async def op(session: AsyncSession) -> str:
            existing = await kv.get(session, kv.SESSION_SECRET)
            if existing is not None:
                return existing
            await kv.put(session, kv.SESSION_SECRET, candidate)
            return candidate

        value = await store.write(op)
    return value.encode()


def make_cookie(secret: bytes, max_age_s: int, password_hash_value: str) -> str:
    """``expiry.signature``; bound to the password hash so changing the password logs out."""
    expiry = str(int(time.time()) + max_age_s)
    return f"{expiry}.{_sign(secret, expiry, password_hash_value)}"


def cookie_valid(secret: bytes, cookie: str, password_hash_value: str) -> bool:
    """True for an unexpired cookie this hub signed for the current password."""
    expiry, _, signature = cookie.partition(".")
    if not expiry.isdigit() or int(expiry) < time.time():
        return False
    return hmac.compare_digest(signature, _sign(secret, expiry, password_hash_value))


def _sign(secret: bytes, expiry: str, password_hash_value: str) -> str:
    message = f"{expiry}:{password_hash_value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
