"""Identity logic: accounts, password login with rate limiting, token rotation, hub linking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.auth import repository
from cloud.auth.models import DeviceAuthorization, Hub, LoginFailure, RefreshToken, User
from cloud.auth.schemas import (
    DeviceApproval,
    DeviceApprovalResult,
    PasswordChange,
    SessionPublic,
    TokenPair,
    UserCreate,
    UserUpdate,
)
from cloud.db.session import ReadDatabase
from cloud.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OAuthProtocolError,
    UnauthorizedError,
)
from cloud.pagination import Page, PageRequest
from cloud.ratelimit import RateRule, refusal
from cloud.security import (
    HUB_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    AccessClaims,
    AccessTokenMemo,
    NotCached,
    Passwords,
    TokenError,
    decode_access_token,
    encode_access_token,
    new_opaque_token,
    new_user_code,
    normalize_user_code,
    sha256_hex,
    token_floor,
)
from cloud.settings import CloudSettings
from shared.sync import DEVICE_CODE_GRANT, HubToken
from shared.sync import DeviceAuthorization as DeviceAuthorizationOut

SLOW_DOWN_STEP_S = 5  # RFC 8628 §3.5: add 5 seconds to the polling interval on slow_down


HUB_SEEN_EVERY_S = 60  # a hub's last_seen_at moves at most this often (the hot sync path)


def _now() -> datetime:
    return datetime.now(UTC)


async def register(session: AsyncSession, passwords: Passwords, body: UserCreate) -> User:
    """Create an account; a taken email is a 409."""
    if await repository.user_by_email(session, body.email) is not None:
        raise ConflictError("an account with this email exists", keep_changes=False)
    user = User(email=body.email, password_hash=await passwords.hash(body.password))
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError("an account with this email exists") from exc
    return user


async def _issue_tokens(
    session: AsyncSession,
    settings: CloudSettings,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    user_agent: str | None = None,
    client_ip: str | None = None,
) -> TokenPair:
    refresh = new_opaque_token(REFRESH_TOKEN_PREFIX)
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=sha256_hex(refresh),
            expires_at=_now() + timedelta(seconds=settings.refresh_token_ttl_s),
            user_agent=user_agent[:200] if user_agent else None,
            client_ip=client_ip,
        )
    )
    await session.flush()
    access = encode_access_token(
        user_id, settings.jwt_secret, settings.jwt_algorithm, settings.access_token_ttl_s
    )
    return TokenPair(
        access_token=access,
        expires_in=settings.access_token_ttl_s,
        refresh_token=refresh,
        session_id=family_id,
    )


def account_delay_s(settings: CloudSettings, failures: int) -> float:
    """How long after the account's last failure the next attempt from an unknown address
    must wait: nothing up to the threshold, then 1 s doubling per failure, capped."""
    excess = failures - settings.login_account_slowdown_after
    if excess < 0:
        return 0.0
    return float(min(2 ** min(excess, 30), settings.login_account_max_delay_s))


async def login(
    session: AsyncSession,
    settings: CloudSettings,
    passwords: Passwords,
    email: str,
    password: str,
    client_ip: str,
    user_agent: str | None = None,
) -> TokenPair:
    """Password grant, with failures counted in the database.

    * Per account and address: past ``login_max_failures`` in the window that address is
      refused (429) until the window slides; other addresses are not affected.
    * Per account, all addresses together: past ``login_account_slowdown_after`` failures,
      attempts from addresses holding no active login of the account are spaced by a delay
      that doubles per failure up to ``login_account_max_delay_s`` (429 with the wait). The
      owner's signed-in devices are never slowed, and anyone else waits at most the cap.
    """
    email = email.strip().lower()
    now = _now()
    window = timedelta(seconds=settings.login_failure_window_s)
    user = await repository.user_by_email(session, email)
    known = user is not None and await repository.has_active_login(session, user.id, client_ip, now)
    if not known:
        # One unknown-address attempt per account at a time, so a burst cannot slip past the
        # counts before its failures are recorded.
        await repository.lock_account_logins(session, email)
    failures, oldest, _ = await repository.count_login_failures(
        session, email, now - window, client_ip
    )
    if failures >= settings.login_max_failures:
        retry_after = ((oldest or now) + window - now).total_seconds()
        raise refusal(
            "too many failed logins from this address; try again later",
            RateRule(limit=settings.login_max_failures, window_s=settings.login_failure_window_s),
            retry_after,
        )
    if not known:
        failures, _, latest = await repository.count_login_failures(session, email, now - window)
        delay = account_delay_s(settings, failures)
        wait = ((latest or now) + timedelta(seconds=delay) - now).total_seconds()
        if delay and wait > 0:
            raise refusal(
                "this account is being guessed at: attempts are slowed down; try again shortly",
                RateRule(limit=1, window_s=max(int(delay), 1)),
                wait,
            )
    if not await passwords.verify(password, user.password_hash if user else None) or user is None:
        await repository.clear_login_failures(session, email, client_ip, before=now - window)
        session.add(LoginFailure(email=email, client_ip=client_ip, failed_at=now))
        await session.flush()
        # keep_changes: the failure must be counted although the request fails.
        raise UnauthorizedError("incorrect email or password", keep_changes=True)
    await repository.clear_login_failures(session, email, client_ip)
    return await _issue_tokens(
        session, settings, user.id, uuid.uuid4(), user_agent=user_agent, client_ip=client_ip
    )


async def refresh(
    session: AsyncSession, settings: CloudSettings, token: str, client_ip: str | None = None
) -> TokenPair:
    """Rotate a refresh token. Presenting an already-rotated token revokes its whole family."""
    row = await repository.refresh_token_for_update(session, sha256_hex(token))
    now = _now()
    if row is None or row.revoked_at is not None:
        raise UnauthorizedError("refresh token is not valid")
    if row.rotated_at is not None:
        await repository.revoke_family(session, row.family_id, now)
        raise UnauthorizedError(
            "refresh token was already used; every session of this login is revoked",
            keep_changes=True,
        )
    if row.expires_at <= now:
        raise UnauthorizedError("refresh token expired")
    row.rotated_at = now
    return await _issue_tokens(
        session,
        settings,
        row.user_id,
        row.family_id,
        user_agent=row.user_agent,
        client_ip=client_ip,
    )


async def logout(session: AsyncSession, token: str) -> None:
    """Revoke the refresh token's family (idempotent: an unknown token is ignored)."""
    row = await repository.refresh_token_for_update(session, sha256_hex(token))
    if row is not None:
        await repository.revoke_family(session, row.family_id, _now())


async def change_password(
    session: AsyncSession, passwords: Passwords, user: User, body: PasswordChange
) -> None:
    """Change the password and revoke every refresh token (other devices must sign in again)."""
    if not await passwords.verify(body.current_password, user.password_hash):
        raise UnauthorizedError("current password is incorrect")
    now = _now()
    user.password_hash = await passwords.hash(body.new_password)
    user.password_changed_at = now
    await repository.revoke_user_tokens(session, user.id, now)
    await session.flush()


async def update_profile(session: AsyncSession, user: User, body: UserUpdate) -> User:
    """Change the display preferences named in ``body`` (``locale: null`` clears it)."""
    if body.temperature_unit is not None:
        user.temperature_unit = body.temperature_unit
    if "locale" in body.model_fields_set:
        user.locale = body.locale
    if "time_zone" in body.model_fields_set:
        user.time_zone = body.time_zone
    await session.flush()
    return user


async def list_sessions(
    session: AsyncSession, user: User, page: PageRequest
) -> Page[SessionPublic]:
    """A page of the user's live logins, most recently active first."""
    rows = await repository.active_sessions(session, user.id, _now(), page)
    return rows.map(
        lambda row: SessionPublic(
            id=row[0],
            started_at=row[1],
            last_active_at=row[2],
            expires_at=row[3],
            user_agent=row[4],
        )
    )


async def revoke_session(session: AsyncSession, user: User, session_id: uuid.UUID) -> None:
    """Sign one login out everywhere it is used; another user's login or a dead one is a 404."""
    now = _now()
    if not await repository.user_owns_live_family(session, user.id, session_id, now):
        raise NotFoundError("no such session")
    await repository.revoke_family(session, session_id, now)


async def authenticate_access_token(
    session: AsyncSession, settings: CloudSettings, token: str
) -> User:
    """The user behind a valid access token issued after their last password change."""
    try:
        claims = decode_access_token(token, settings.jwt_secret, settings.jwt_algorithm)
    except TokenError as exc:
        raise UnauthorizedError(str(exc)) from exc
    user = await repository.user_by_id(session, claims.user_id)
    if user is None:
        raise UnauthorizedError("invalid access token")
    _check_floor(claims, token_floor(user.password_changed_at))
    return user


def _check_floor(claims: AccessClaims, floor: int | None) -> None:
    """401 unless the user exists and the token was issued after their last password change."""
    if floor is None:
        raise UnauthorizedError("invalid access token")
    if claims.issued_at.timestamp() < floor:
        raise UnauthorizedError("access token issued before the password changed")


async def authenticate_user_id(
    database: ReadDatabase, memo: AccessTokenMemo, settings: CloudSettings, token: str
) -> uuid.UUID:
    """The id of the user behind a valid access token, for read endpoints: the refusals of
    ``authenticate_access_token`` without loading the user row (see ``AccessTokenMemo``)."""
    claims = memo.claims(token)
    if claims is None:
        try:
            claims = decode_access_token(token, settings.jwt_secret, settings.jwt_algorithm)
        except TokenError as exc:
            raise UnauthorizedError(str(exc)) from exc
        memo.remember_claims(token, claims)
    elif claims.expires_at <= _now():
        raise UnauthorizedError("access token expired")
    floor = memo.floor(claims.user_id)
    if isinstance(floor, NotCached):
        async with database.connection() as conn:
            changed = await repository.password_changed_at(conn, claims.user_id)
        floor = token_floor(changed) if changed is not None else None
        memo.remember_floor(claims.user_id, floor)
    _check_floor(claims, floor)
    return claims.user_id


def hub_token_hash(token: str) -> str:
    """The stored hash of a hub token; 401 for anything that is not one (a user JWT)."""
    if not token.startswith(HUB_TOKEN_PREFIX):
        raise UnauthorizedError("a hub token is required")
    return sha256_hex(token)


async def authenticate_hub_token(session: AsyncSession, token: str) -> Hub:
    """The linked hub holding this token; user JWTs and revoked tokens are refused."""
    hub = await repository.active_hub_by_token_hash(session, hub_token_hash(token))
    if hub is None:
        raise UnauthorizedError("hub token is not valid")
    return hub


@dataclass(frozen=True, slots=True)
class HubCaller:
    """The ids of the hub calling a hot sync route (no ORM row: ``current_hub_caller``)."""

    id: uuid.UUID
    owner_id: uuid.UUID


async def authenticate_hub_callers(
    conn: psycopg.AsyncConnection[Any], token_hashes: list[str], every_s: int = HUB_SEEN_EVERY_S
) -> list[HubCaller | Exception]:
    """``authenticate_hub_token`` and ``touch_hub`` of several requests in one statement,
    without ORM rows: per token hash (``hub_token_hash``), in order, its hub's ids or the 401."""
    found = await repository.hub_callers_by_token_hashes(conn, token_hashes, _now(), every_s)
    return [
        HubCaller(*found[token_hash])
        if token_hash in found
        else UnauthorizedError("hub token is not valid")
        for token_hash in token_hashes
    ]


def touch_hub(hub: Hub, every_s: int = HUB_SEEN_EVERY_S) -> None:
    """Record that the hub called in (at most once a minute, to spare the hot sync path)."""
    now = _now()
    if hub.last_seen_at is None or (now - hub.last_seen_at).total_seconds() >= every_s:
        hub.last_seen_at = now


# --- RFC 8628 device authorization ---------------------------------------------------------


async def start_device_authorization(
    session: AsyncSession, settings: CloudSettings, hub_name: str
) -> DeviceAuthorizationOut:
    """§3.1/3.2: a random device code for the hub, a short user code for the human."""
    device_code = new_opaque_token()
    for _ in range(5):
        user_code = new_user_code()
        if await repository.device_by_user_code(session, user_code) is None:
            break
    else:  # pragma: no cover - 2.6e10 codes
        raise ConflictError("could not allocate a user code; retry")
    session.add(
        DeviceAuthorization(
            device_code_hash=sha256_hex(device_code),
            user_code=user_code,
            hub_name=hub_name,
            status="pending",
            expires_at=_now() + timedelta(seconds=settings.device_code_ttl_s),
            interval_s=settings.device_poll_interval_s,
        )
    )
    await session.flush()
    return DeviceAuthorizationOut(
        device_code=device_code,
        user_code=user_code,
        verification_uri=settings.device_verification_uri(),
        verification_uri_complete=f"{settings.device_verification_uri()}?user_code={user_code}",
        expires_in=settings.device_code_ttl_s,
        interval=settings.device_poll_interval_s,
    )


async def approve_device(
    session: AsyncSession, user: User, body: DeviceApproval
) -> DeviceApprovalResult:
    """The signed-in user approves or denies the hub showing this code; approval creates the hub."""
    grant = await repository.device_by_user_code(session, normalize_user_code(body.user_code))
    if grant is None or grant.status != "pending" or grant.expires_at <= _now():
        raise NotFoundError("no pending hub shows this code (it may have expired)")
    if not body.approve:
        grant.status = "denied"
        grant.user_id = user.id
        await session.flush()
        return DeviceApprovalResult(status="denied")
    hub = Hub(owner_id=user.id, name=body.hub_name or grant.hub_name)
    session.add(hub)
    await session.flush()
    grant.status = "approved"
    grant.user_id = user.id
    grant.hub_id = hub.id
    await session.flush()
    return DeviceApprovalResult(status="approved", hub_id=hub.id, hub_name=hub.name)


async def exchange_device_code(
    session: AsyncSession, grant_type: str | None, device_code: str | None
) -> HubToken:
    """§3.4/3.5: the hub polls; pending, slow_down, expired, denied, or its hub token."""
    if grant_type != DEVICE_CODE_GRANT:
        raise OAuthProtocolError(
            "unsupported_grant_type" if grant_type else "invalid_request",
            f"grant_type must be {DEVICE_CODE_GRANT}",
        )
    if not device_code:
        raise OAuthProtocolError("invalid_request", "device_code is required")
    grant = await repository.device_by_code_hash(session, sha256_hex(device_code))
    if grant is None or grant.status == "used":
        raise OAuthProtocolError("invalid_grant", "unknown or already used device code")
    now = _now()
    if grant.status == "denied":
        raise OAuthProtocolError("access_denied", "the user denied this hub")
    if grant.expires_at <= now:
        raise OAuthProtocolError("expired_token", "the device code expired; start again")
    if grant.status == "pending":
        too_fast = (
            grant.last_polled_at is not None
            and (now - grant.last_polled_at).total_seconds() < grant.interval_s
        )
        grant.last_polled_at = now
        if too_fast:
            grant.interval_s += SLOW_DOWN_STEP_S
            await session.flush()
            raise OAuthProtocolError("slow_down", f"poll at most every {grant.interval_s} seconds")
        await session.flush()
        raise OAuthProtocolError("authorization_pending", "waiting for the user to approve")
    hub = await session.get(Hub, grant.hub_id) if grant.hub_id else None
    if hub is None or hub.revoked_at is not None:
        raise OAuthProtocolError("access_denied", "the hub was unlinked before it got its token")
    token = new_opaque_token(HUB_TOKEN_PREFIX)
    hub.token_hash = sha256_hex(token)
    grant.status = "used"
    await session.flush()
    return HubToken(access_token=token, hub_id=hub.id)


def validate_password_form(grant_type: str | None) -> None:
    """OAuth2PasswordRequestForm allows an empty grant_type; anything else must be ``password``."""
    if grant_type not in (None, "", "password"):
        raise InvalidRequestError("grant_type must be password")
