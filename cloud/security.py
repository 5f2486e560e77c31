"""Password hashing (argon2, off the event loop), JWT access tokens, opaque token helpers."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

USER_CODE_ALPHABET: Final = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels, no look-alikes
HUB_TOKEN_PREFIX: Final = "pvh_"  # noqa: S105 - a prefix, not a secret
REFRESH_TOKEN_PREFIX: Final = "pvr_"  # noqa: S105 - a prefix, not a secret


class Passwords:
    """Argon2 hashing off the event loop; built once per app from the settings' cost."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))
        # Verified when the account does not exist, so timing does not reveal registered emails.
        self._dummy = self._hasher.hash("plant-vita-timing-equaliser")

    async def hash(self, password: str) -> str:
        """Argon2 hash of ``password`` computed in a worker thread."""
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Check ``password`` against a stored hash in a worker thread (dummy when missing)."""
        target = password_hash if password_hash is not None else self._dummy
        ok = await anyio.to_thread.run_sync(self._hasher.verify, password, target)
        return bool(ok) and password_hash is not None


def sha256_hex(token: str) -> str:
    """How opaque tokens (refresh, hub, device codes) are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_opaque_token(prefix: str = "") -> str:
    """A 256-bit random token, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def new_user_code() -> str:
    """An 8-letter human code shown as ``BCDF-GHJK`` (20^8 ≈ 2.6e10 combinations)."""
    letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalize_user_code(value: str) -> str:
    """Users type codes loosely: drop separators and spaces, upper-case, re-insert the dash."""
    letters = "".join(ch for ch in value.upper() if ch.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime


class TokenError(Exception):
    """The token is expired, forged, malformed or of the wrong type."""


def encode_access_token(user_id: uuid.UUID, secret: str, algorithm: str, ttl_s: int) -> str:
    """A signed JWT access token for ``user_id`` living ``ttl_s`` seconds."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=algorithm)


def decode_access_token(token: str, secret: str, algorithm: str) -> AccessClaims:
    """Verify signature, expiry and type; raise ``TokenError`` otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[algorithm], options={"require": ["exp", "iat", "sub", "typ"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("access token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("invalid access token") from exc
    if claims.get("typ") != "access":
        raise TokenError("not an access token")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError as exc:
        raise TokenError("invalid access token") from exc
    return AccessClaims(
        user_id=user_id,
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


class NotCached:
    """Marker: the floor is not cached (distinct from ``None``, "no such user")."""


NOT_CACHED: Final = NotCached()


class AccessTokenMemo:
    """Per-process memo that lets read endpoints authenticate without touching the user row.

    * Verified tokens: a client sends the same access token on every request, and verifying
      it again costs ~35 µs of pure Python; its signature cannot change, so the claims are
      kept (expiry is still checked on every use).
    * Token floors: each user's last password change (tokens issued before it are revoked),
      ``None`` when the user does not exist. Entries live ``floor_ttl_s`` seconds (0: ask the
      database every time). A password change invalidates the user in its own process at
      once; other processes see it within ``floor_ttl_s``.
    """

    def __init__(self, floor_ttl_s: float, max_entries: int = 10_000) -> None:
        self.floor_ttl_s = floor_ttl_s
        # About 0.5 kB a token: a full memo costs a few MB per process.
        self._max_entries = max_entries
        self._claims: dict[str, AccessClaims] = {}
        self._floors: dict[uuid.UUID, tuple[float, int | NotCached | None]] = {}

    def claims(self, token: str) -> AccessClaims | None:
        """The claims of a token verified before (expiry not checked here)."""
        return self._claims.get(token)

    def remember_claims(self, token: str, claims: AccessClaims) -> None:
        """Keep a verified token's claims."""
        if len(self._claims) >= self._max_entries:
            # Cheap bound on memory: drop everything; the next requests refill what is hot.
            self._claims.clear()
        self._claims[token] = claims

    def floor(self, user_id: uuid.UUID) -> int | NotCached | None:
        """The cached floor (Unix seconds), ``None`` for no such user, or ``NOT_CACHED``."""
        entry = self._floors.get(user_id)
        if entry is None or entry[0] <= time.monotonic():
            return NOT_CACHED
        return entry[1]

    def remember_floor(self, user_id: uuid.UUID, floor: int | None) -> None:
        """Cache what the database said for ``floor_ttl_s`` seconds (not while invalidated)."""
        if self.floor_ttl_s <= 0:
            return
        now = time.monotonic()
        entry = self._floors.get(user_id)
        if entry is not None and entry[0] > now and isinstance(entry[1], NotCached):
            return
        if len(self._floors) >= self._max_entries:
            self._floors.clear()
        self._floors[user_id] = (now + self.floor_ttl_s, floor)

    def invalidate(self, user_id: uuid.UUID) -> None:
        """The user's password is changing: ask the database for the next ``floor_ttl_s``
        seconds, so a read racing the change's commit cannot cache the old floor."""
        if self.floor_ttl_s > 0:
            self._floors[user_id] = (time.monotonic() + self.floor_ttl_s, NOT_CACHED)


def token_floor(password_changed_at: datetime) -> int:
    """Tokens carry whole-second ``iat``: one from the very second of the change is accepted."""
    return int(password_changed_at.replace(microsecond=0).timestamp())
