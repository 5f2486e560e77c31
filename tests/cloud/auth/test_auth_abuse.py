"""Bad credentials on every protected route, enumerated from the OpenAPI security of each
operation: expired, forged (wrong key, ``alg: none``, algorithm confusion, tampered claims),
revoked and wrong-scope tokens all answer 401 in the error body, while the right credential
gets past authentication on the same route. A route without declared security must be on the
public list, so a new route that forgets its dependency fails here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from starlette.types import ASGIApp

from cloud.security import encode_access_token
from cloud.settings import CloudSettings
from shared.errors import ErrorBody
from tests.cloud.conftest import asgi_client
from tests.cloud.factories import create_hub, create_user, login

# Routes open to anyone, on purpose (a new route missing here must declare security).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/device/code"),
    ("POST", "/api/v1/auth/device/token"),
    ("GET", "/api/v1/species"),
    ("GET", "/api/v1/species/{species_id}"),
    ("GET", "/api/v1/metrics"),  # the metric registry: units and ranges, the same for everyone
    ("GET", "/api/v1/notifications/push/key"),  # the server's public VAPID key
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT assembled by hand (PyJWT refuses to make the broken ones)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def claims_for(user_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=10)).timestamp()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def protected_operations(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, scheme) of every operation declaring security."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for requirement in operation.get("security", []):
                for scheme in requirement:
                    found.append((method.upper(), path, scheme))
    return found


def fill(path: str) -> str:
    """The path with every id a random (unknown) one; integers for integer ids."""
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        out = out[:start] + str(uuid.uuid4()) + out[end + 1 :]
    return out


# The HS512 forgery signs with the HS256-sized secret on purpose: the key-length warning is moot.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_bad_credentials_are_refused_on_every_protected_route(
    client: httpx.AsyncClient, settings: CloudSettings
) -> None:
    secret = settings.jwt_secret
    user = await create_user(client)
    other = await create_user(client)
    hub = await create_hub(client, user)
    revoked_hub = await create_hub(client, user, name="Unlinked hub")
    unlinked = await client.delete(f"/api/v1/hubs/{revoked_hub.id}", headers=user.headers)
    assert unlinked.status_code in (200, 204), unlinked.text
    valid_claims = claims_for(user.id)
    tampered = jwt.encode(valid_claims, secret, algorithm="HS256").split(".")
    tampered[1] = b64(json.dumps(claims_for(other.id)).encode())

    user_bad: dict[str, dict[str, str]] = {
        "none": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic scheme": {"Authorization": "Basic " + b64(f"{user.email}:{user.password}".encode())},
        "garbage": bearer("not.a.token"),
        "expired": bearer(encode_access_token(user.id, secret, "HS256", -10)),
        "wrong key": bearer(encode_access_token(user.id, "x" * 48, "HS256", 600)),
        "alg none": bearer(raw_jwt({"alg": "none", "typ": "JWT"}, valid_claims, None)),
        "alg none, signed": bearer(raw_jwt({"alg": "none"}, valid_claims, secret.encode())),
        "alg HS512 with the key": bearer(jwt.encode(valid_claims, secret, algorithm="HS512")),
        # Algorithm confusion: an RS256 header over an HMAC made with the shared secret.
        "alg RS256 confusion": bearer(raw_jwt({"alg": "RS256"}, valid_claims, secret.encode())),
        "tampered sub": bearer(".".join(tampered)),
        "no exp": bearer(jwt.encode(claims_for(user.id, exp=None), secret, algorithm="HS256")),
        "refresh typ": bearer(jwt.encode(claims_for(user.id, typ="refresh"), secret, "HS256")),
        "no typ": bearer(jwt.encode(claims_for(user.id, typ=None), secret, algorithm="HS256")),
        "unknown user": bearer(encode_access_token(uuid.uuid4(), secret, "HS256", 600)),
        "sub not a uuid": bearer(jwt.encode(claims_for(user.id, sub="1 OR 1=1"), secret, "HS256")),
        "refresh token as access": bearer(user.refresh_token),
        "hub token": hub.headers,
        "revoked hub token": revoked_hub.headers,
    }
    hub_bad: dict[str, dict[str, str]] = {
        "none": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic scheme": {"Authorization": "Basic " + b64(b"hub:" + hub.token.encode())},
        "user access token": user.headers,
        "refresh token": bearer(user.refresh_token),
        "revoked hub token": revoked_hub.headers,
        "forged hub token": bearer("pvh_" + "A" * 43),
        "hub token, extra byte": bearer(hub.token + "x"),
        "hub token, lower-cased": bearer(hub.token.lower()),
    }

    # Revoked access token: one issued before the password changed.
    victim = await create_user(client)
    before_change = jwt.encode(
        claims_for(victim.id, iat=int((datetime.now(UTC) - timedelta(minutes=5)).timestamp())),
        secret,
        algorithm="HS256",
    )
    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": victim.password, "new_password": "a changed long password"},
        headers=victim.headers,
    )
    assert changed.status_code == 204
    user_bad["issued before password change"] = bearer(before_change)
    user_bad["refresh token revoked by the change"] = bearer(victim.refresh_token)

    document = (await client.get("/openapi.json")).json()
    operations = protected_operations(document)
    assert len(operations) >= 40
    failures: list[str] = []
    for method, path, scheme in operations:
        url = fill(path)
        bad, good = (user_bad, user.headers) if scheme != "HubToken" else (hub_bad, hub.headers)
        for label, headers in bad.items():
            response = await client.request(method, url, headers=headers)
            if response.status_code != 401:
                failures.append(f"{method} {path} [{label}]: {response.status_code}")
                continue
            body = ErrorBody.model_validate_json(response.content)
            if body.error.code != "unauthorized" or "Bearer" not in response.headers.get(
                "www-authenticate", ""
            ):
                failures.append(f"{method} {path} [{label}]: {response.text[:120]}")
        # Random ids and no body: the right credential passes authentication and acts on nothing.
        passed = await client.request(method, url, headers=good)
        if passed.status_code in (401, 403):
            failures.append(f"{method} {path}: the right credential got {passed.status_code}")
    assert not failures, "\n".join(failures)

    undeclared = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if not operation.get("security") and (method.upper(), path) not in PUBLIC
    ]
    assert not undeclared, f"routes without declared security: {undeclared}"


async def test_public_routes_answer_without_credentials(client: httpx.AsyncClient) -> None:
    """The public list is real: none of its routes wants a token (so it hides no forgotten one)."""
    for method, path in PUBLIC:
        response = await client.request(method, path.replace("{species_id}", "1"))
        # Auth routes refuse bad credentials in the body (401); none asks for a token.
        assert "www-authenticate" not in response.headers or path.startswith("/api/v1/auth/")
        assert response.status_code < 500, (method, path)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "login_max_failures": 3,
        "login_account_slowdown_after": 5,
        "login_account_max_delay_s": 60,
        "login_failure_window_s": 600,
    }


async def test_login_brute_force_is_limited_and_the_lock_is_per_account_and_address(
    client: httpx.AsyncClient, running_app: ASGIApp
) -> None:
    user = await create_user(client)
    bystander = await create_user(client)
    for guess in ("guess one 1", "' OR 1=1 --", "guess three"):
        assert (await login(client, user.email, guess)).status_code == 401
    locked = await login(client, user.email, user.password)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert 0 < int(locked.headers["Retry-After"]) <= 600
    # The email's case does not open a second budget.
    assert (await login(client, user.email.upper(), user.password)).status_code == 429
    # Another account from the same address is not locked out by this one.
    assert (await login(client, bystander.email, bystander.password)).status_code == 200
    # The owner from another address still gets in (the lock is per account and address).
    async with asgi_client(running_app, "203.0.113.9") as elsewhere:
        assert (await login(elsewhere, user.email, user.password)).status_code == 200
    # Tokens issued before the lock keep working: the lock guards logins only.
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200


async def test_guessing_from_fifty_addresses_is_slowed_without_locking_the_owner_out(
    client: httpx.AsyncClient, running_app: ASGIApp
) -> None:
    # The owner signed in from their laptop (127.0.0.1) before the attack.
    user = await create_user(client)
    bystander = await create_user(client)
    answers = []
    for n in range(50):
        async with asgi_client(running_app, f"198.51.100.{n + 1}") as attacker:
            answer = await login(attacker, user.email, f"wrong guess {n}")
            answers.append(answer)
    refused = [answer for answer in answers if answer.status_code == 429]
    # Past the account's threshold (5) the attempts are spaced out: the guessing nearly stops.
    assert sum(answer.status_code == 401 for answer in answers) <= 7
    assert len(refused) >= 43
    for answer in refused:
        assert 0 < int(answer.headers["Retry-After"]) <= 60
        assert answer.headers["RateLimit-Remaining"] == "0"
    # The owner's signed-in device is not slowed down at all...
    assert (await login(client, user.email, user.password)).status_code == 200
    async with asgi_client(running_app, "203.0.113.50") as new_phone:
        # ...and a new device waits seconds (at most the cap), never the whole window.
        slowed = await login(new_phone, user.email, user.password)
        assert slowed.status_code == 429
        assert 0 < int(slowed.headers["Retry-After"]) <= 60
        # Other accounts are not affected by this one's slow-down.
        assert (await login(new_phone, bystander.email, bystander.password)).status_code == 200


async def test_the_account_delay_grows_per_failure_and_is_capped(settings: CloudSettings) -> None:
    from cloud.auth.service import account_delay_s

    delays = [account_delay_s(settings, failures) for failures in range(4, 14)]
    assert delays == [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
