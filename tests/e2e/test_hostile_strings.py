"""SQL-injection, path-traversal and other hostile strings in every text slot of both APIs.

The slots come from each app's own OpenAPI schema, so a route added later is covered without
touching this file: every path and query parameter, every string field of every JSON, form and
multipart body (upload file names included), plus the few routes kept out of the schema on
purpose (the local object store's signed-URL PUT). Each slot gets every hostile value once, in an
otherwise valid request. The rules checked on each answer:

- never a 5xx, never a stack trace, never a file's or another row's content;
- a 4xx carries the project error body (``shared.errors.ErrorBody``; RFC 6749 bodies on the
  OAuth device-token route);
- a 2xx stored the value verbatim: echoed identically and read back identically;
- afterwards every table is still there and no table lost rows; no file appeared outside the
  object store / image store; the canary paths the traversal values aim at do not exist.

One database (cloud) and one data dir (hub) per test, in-process ASGI apps: loopback adds
nothing to what is checked here and would multiply the run time.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from PIL import Image as PILImage
from pydantic import ValidationError

from cloud.app import create_app as create_cloud_app
from cloud.db.engine import libpq_url
from cloud.settings import CloudSettings
from cloud.storage.local import LOCAL_OBJECTS_PATH
from hub.app import create_app as create_hub_app
from hub.settings import Environment, HubSettings
from hub.web.router import _SECURITY_HEADERS, STATIC_DIR
from shared.errors import ErrorBody
from shared.sync import (
    DEVICE_APPROVE_PATH,
    DEVICE_CODE_GRANT,
    DEVICE_CODE_PATH,
    DEVICE_TOKEN_PATH,
    SYNC_ALERTS_PATH,
    SYNC_NODES_PATH,
    SYNC_READINGS_PATH,
    AlertIn,
    OAuthError,
    ReadingIn,
)
from shared.web.assets import SHARED_STATIC_DIR
from tests.cloud.factories import create_hub, create_node, create_plant, create_user, random_mac
from tests.lifespan import LifespanManager

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CANARY = f"/tmp/plantvita-hostile-canary-{uuid.uuid4().hex}"

HOSTILE: dict[str, str] = {
    "sql_or": "' OR 1=1 --",
    "sql_drop": "'; DROP TABLE readings; --",
    "sql_union": "x' UNION SELECT email, password_hash FROM users --",
    "sql_dquote": '" OR ""="',
    "sql_stacked": "1); DELETE FROM plants WHERE (1=1",
    "traversal": "../../etc/passwd",
    "traversal_encoded": "..%2f..%2fetc%2fpasswd",
    "traversal_overlong": "%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "traversal_windows": "..\\..\\windows\\win.ini",
    "absolute_canary": CANARY,
    "traversal_canary": "../../../../../../../../../.." + CANARY,
    "nul_encoded": "photo%00.jpg",
    "nul": "photo\x00.jpg",
    "rtl": "\u202egpj.exe",
    "lone_surrogate": "plant\ud800name",
    "very_long": "A" * 100_000,
    "jndi": "${jndi:ldap://127.0.0.1:1389/a}",
    "template": "{{7*7}}${7*7}<%= 7*7 %>",
    "format": "%s%s%s%n%x",
    "html_script": "<script>alert('pv')</script>",
    "html_attr": '"><img src=x onerror=alert(1)>',
    "crlf": "name\r\nSet-Cookie: pv=1",
    "unicode": "Basilic 🌿 植物 e\u0301",
    "like_wildcards": "%_%",
}
URL_VALUE_MAX = 8_000  # httpx refuses URLs over 64 KiB; servers cap request lines far lower
LEAKS = ("root:x:0:0", "Traceback (most recent call last)", 'password_hash":', "$argon2")
SECRET_FIELDS = {"password", "new_password", "current_password", "refresh_token", "client_secret"}


# --- the slots, from the OpenAPI schema -----------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One place a string can go: a parameter, a body field or an upload's file name."""

    method: str
    path: str
    where: str  # "path", "query", "json", "form", "multipart", "filename"
    name: str  # parameter name, or dotted body path with "[]" for list items
    media: str | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.name}"


@dataclass
class Operation:
    """One route of the schema and what it takes."""

    method: str
    path: str
    security: list[str]
    params: dict[str, dict[str, Any]]  # name -> parameter object
    bodies: dict[str, dict[str, Any]]  # media type -> schema


class Spec:
    """An OpenAPI document with ``$ref`` resolution."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components: dict[str, Any] = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref`` and collapse ``anyOf [X, null]`` to X."""
        while True:
            if "$ref" in schema:
                schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
            elif "anyOf" in schema or "oneOf" in schema:
                branches = schema.get("anyOf") or schema.get("oneOf") or []
                real = [b for b in branches if self.resolve(b).get("type") != "null"]
                schema = real[0] if real else {"type": "null"}
            elif "allOf" in schema and len(schema["allOf"]) == 1:
                schema = schema["allOf"][0]
            else:
                return schema

    def operations(self) -> Iterator[Operation]:
        """Every operation of the document."""
        for path, item in self.document["paths"].items():
            for method, op in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                security = [name for req in op.get("security", []) for name in req]
                params = {p["name"]: p for p in op.get("parameters", [])}
                content = op.get("requestBody", {}).get("content", {})
                bodies = {media: body["schema"] for media, body in content.items()}
                yield Operation(method.upper(), path, security, params, bodies)

    def string_fields(self, schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
        """Dotted paths of every string leaf under ``schema`` (list items as ``[]``)."""
        schema = self.resolve(schema)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            for name, sub in schema.get("properties", {}).items():
                yield from self.string_fields(sub, f"{prefix}{name}.")
        elif kind == "array":
            yield from self.string_fields(schema.get("items", {}), f"{prefix}[].")
        elif kind == "string":
            yield prefix.rstrip(".")


# Batches whose items the schema leaves open on purpose (each item is validated alone so a bad
# one never sinks the rest): their item models, so the items' string fields are slots too.
ITEM_MODELS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST", SYNC_READINGS_PATH): ("readings", ReadingIn.model_json_schema()),
    ("POST", SYNC_ALERTS_PATH): ("alerts", AlertIn.model_json_schema()),
}


def item_schema(spec: Spec, op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
    """The body schema with the open batch items replaced by their item model."""
    extra = ITEM_MODELS.get((op.method, op.path))
    if extra is None:
        return schema
    key, model = extra
    body = dict(spec.resolve(schema))
    properties = dict(body["properties"])
    properties[key] = {"type": "array", "items": model}
    spec.components.update(model.get("$defs", {}))
    body["properties"] = properties
    return body


def slots_of(spec: Spec) -> list[Slot]:
    """Every string slot of every operation: all parameters, every string body field."""
    found: list[Slot] = []
    for op in spec.operations():
        for name, param in op.params.items():
            found.append(Slot(op.method, op.path, param["in"], name))
        for media, schema in op.bodies.items():
            where = {
                "application/json": "json",
                "application/x-www-form-urlencoded": "form",
                "multipart/form-data": "multipart",
            }[media]
            for name in spec.string_fields(item_schema(spec, op, schema)):
                field_schema = field_at(spec, item_schema(spec, op, schema), name)
                if where == "multipart" and field_schema.get("format") == "binary":
                    found.append(Slot(op.method, op.path, "filename", name, media))
                else:
                    found.append(Slot(op.method, op.path, where, name, media))
    return found


def field_at(spec: Spec, schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    """The schema of the field at ``dotted``."""
    current = spec.resolve(schema)
    for part in dotted.split("."):
        current = spec.resolve(current["items"] if part == "[]" else current["properties"][part])
    return current


# --- building valid requests around one hostile value ---------------------------------------


@dataclass
class Context:
    """What a base request needs: known ids, credentials, fresh-value makers."""

    ids: dict[str, str]
    strings: dict[str, Callable[[Operation], str]]
    headers: dict[str, dict[str, str]]  # security scheme -> headers
    default_headers: dict[str, str] = field(default_factory=dict)


def base_value(spec: Spec, schema: dict[str, Any], name: str, op: Operation, ctx: Context) -> Any:
    """A valid value for a field named ``name`` (required fields only, recursively)."""
    schema = spec.resolve(schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        props = schema.get("properties", {})
        return {key: base_value(spec, props[key], key, op, ctx) for key in required}
    if kind == "array":
        if schema.get("minItems", 0) == 0:
            return []
        return [base_value(spec, schema.get("items", {}), name, op, ctx)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if name in ctx.strings:
            return ctx.strings[name](op)
        if fmt == "uuid":
            return ctx.ids.get(name, str(uuid.uuid4()))
        if fmt == "date-time":
            return datetime.now(UTC).isoformat()
        return ctx.ids.get(name, "plain value")
    return None


def with_value(
    spec: Spec,
    schema: dict[str, Any],
    body: Any,
    dotted: str,
    value: str,
    op: Operation,
    ctx: Context,
) -> Any:
    """``body`` with ``value`` at ``dotted`` (missing optional parents made from the schema)."""
    schema = spec.resolve(schema)
    part, _, rest = dotted.partition(".")
    if part == "[]":
        items = schema.get("items", {})
        current = body[0] if body else base_value(spec, items, "", op, ctx)
        return [with_value(spec, items, current, rest, value, op, ctx) if rest else value]
    sub = schema["properties"][part]
    out = dict(body)
    if not rest:
        out[part] = value
        return out
    current = out.get(part)
    if current is None:
        resolved = spec.resolve(sub)
        current = [] if resolved.get("type") == "array" else base_value(spec, sub, part, op, ctx)
    out[part] = with_value(spec, sub, current, rest, value, op, ctx)
    return out


def url_quote(value: str) -> str:
    """Percent-encode every byte (surrogates as their raw UTF-8-ish bytes, as an attacker would)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@dataclass
class Request:
    """One request of the matrix."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    sent: Any = None  # the body as a Python value, for read-back


def build(spec: Spec, op: Operation, slot: Slot, value: str, ctx: Context) -> Request:
    """A valid request for ``op`` with ``value`` in ``slot``."""
    if slot.where in ("path", "query"):
        value = value[:URL_VALUE_MAX]
    path = op.path
    for name, param in op.params.items():
        if param["in"] != "path":
            continue
        raw = value if slot.where == "path" and slot.name == name else None
        if raw is None:
            raw = str(base_value(spec, param.get("schema", {}), name, op, ctx))
        path = path.replace("{" + name + "}", url_quote(raw))
    query = []
    for name, param in op.params.items():
        if param["in"] == "query" and slot.where == "query" and slot.name == name:
            query.append(f"{url_quote(name)}={url_quote(value)}")
    url = path + ("?" + "&".join(query) if query else "")
    headers = dict(ctx.default_headers)
    for scheme in op.security:
        headers.update(ctx.headers.get(scheme, {}))
    media = slot.media if slot.where in ("json", "form", "multipart", "filename") else None
    if media is None and op.bodies:
        media = next(iter(op.bodies))
    if media is None:
        return Request(op.method, url, headers)
    schema = item_schema(spec, op, op.bodies[media])
    body = base_value(spec, schema, "", op, ctx)
    if slot.where in ("json", "form", "multipart"):
        body = with_value(spec, schema, body, slot.name, value, op, ctx)
    if media == "application/json":
        headers["Content-Type"] = "application/json"
        # json.dumps escapes to ASCII: a lone surrogate travels as \ud800, as a client sends it.
        return Request(op.method, url, headers, content=json.dumps(body).encode(), sent=body)
    if media == "application/x-www-form-urlencoded":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        pairs = "&".join(f"{url_quote(k)}={url_quote(str(v))}" for k, v in body.items())
        return Request(op.method, url, headers, content=pairs.encode(), sent=body)
    files: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for key, item in body.items():
        sub = field_at(spec, schema, key)
        if sub.get("format") == "binary":
            filename = value if slot.where == "filename" and slot.name == key else "photo.jpg"
            files[key] = (
                filename.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                JPEG,
                "image/jpeg",
            )
        else:
            data[key] = item
    for key, sub in spec.resolve(schema).get("properties", {}).items():
        if key not in files and spec.resolve(sub).get("format") == "binary":
            filename = value if slot.where == "filename" and slot.name == key else "photo.jpg"
            files[key] = (
                filename.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                JPEG,
                "image/jpeg",
            )
    # Raw bytes, so a lone surrogate travels as the broken UTF-8 a hostile client would send.
    raw = {
        k: v.encode("utf-8", "surrogatepass") if isinstance(v, str) else v for k, v in data.items()
    }
    return Request(op.method, url, headers, files=files, data=raw, sent=data)


def _jpeg() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (64, 48), (60, 160, 50)).save(out, "JPEG", quality=85)
    return out.getvalue()


JPEG = _jpeg()


# --- judging the answers --------------------------------------------------------------------


def body_error(response: httpx.Response, oauth_ok: bool) -> str | None:
    """None when a 4xx carries the project error body (or an RFC 6749 one where allowed)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"4xx with content-type {response.headers.get('content-type')!r}"
    try:
        ErrorBody.model_validate_json(response.content)
        return None
    except ValidationError:
        if oauth_ok:
            try:
                OAuthError.model_validate_json(response.content)
                return None
            except ValidationError:
                pass
        return f"4xx without the error body: {response.text[:200]}"


def lookup(document: Any, dotted: str) -> tuple[bool, Any]:
    """The value at ``dotted`` in a JSON document (first list item for ``[]``)."""
    current = document
    for part in dotted.split("."):
        if part == "[]":
            if not isinstance(current, list) or not current:
                return False, None
            current = current[0]
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return False, None
    return True, current


def item_count(response: httpx.Response) -> int | None:
    """How many items a 200 list or page answer holds (None for anything else)."""
    if response.status_code != 200 or not response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return None
    document = response.json()
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        document = document["items"]
    return len(document) if isinstance(document, list) else None


@dataclass
class Outcome:
    """Tallies of one app's run."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    verbatim: int = 0  # 2xx answers whose value was read back identically
    findings: list[str] = field(default_factory=list)


ReadBack = Callable[[httpx.AsyncClient, Request, Slot, str, httpx.Response], Awaitable[Any]]


async def run_matrix(
    http: httpx.AsyncClient,
    spec: Spec,
    ctx: Context,
    skip: Callable[[Slot], bool],
    read_back: dict[tuple[str, str], ReadBack],
    after: Callable[[Slot, str, httpx.Response], Awaitable[None]],
    oauth_paths: frozenset[str] = frozenset(),
) -> tuple[Outcome, list[Slot]]:
    """Send every hostile value in every slot once; judge each answer."""
    outcome = Outcome()
    ops = {(op.method, op.path): op for op in spec.operations()}
    getters = {op.path for op in ops.values() if op.method == "GET"}
    slots = [slot for slot in slots_of(spec) if not skip(slot)]
    for slot in slots:
        op = ops[(slot.method, slot.path)]
        baseline = None
        if slot.method == "GET" and slot.where == "query":
            # An injected predicate must not widen a search past what a non-matching term finds.
            plain = build(spec, op, slot, "zz-matches-nothing-zz", ctx)
            answer = await http.get(plain.url, headers=plain.headers)
            baseline = item_count(answer)
        for label, value in HOSTILE.items():
            request = build(spec, op, slot, value, ctx)
            response = await http.request(
                request.method,
                request.url,
                headers=request.headers,
                content=request.content,
                files=request.files,
                data=request.data,
            )
            outcome.requests += 1
            status = response.status_code
            outcome.by_status[status] = outcome.by_status.get(status, 0) + 1
            where = f"{slot} = {label}: {status}"
            if status >= 500:
                outcome.findings.append(f"{where} {response.text[:300]}")
                continue
            if any(leak in response.text for leak in LEAKS):
                outcome.findings.append(f"{where} leaks: {response.text[:300]}")
            if 400 <= status < 500:
                problem = body_error(response, slot.path in oauth_paths)
                if problem:
                    outcome.findings.append(f"{where} {problem}")
            elif 200 <= status < 300:
                widened = item_count(response)
                sql = label.startswith("sql") and baseline is not None
                if sql and widened is not None and baseline is not None and widened > baseline:
                    outcome.findings.append(f"{where} found {widened} items, not {baseline}")
                problem = await verbatim(
                    http, spec, ctx, op, slot, value, request, response, getters, read_back
                )
                if problem is None:
                    outcome.verbatim += 1
                elif problem:
                    outcome.findings.append(f"{where} {problem}")
            await after(slot, value, response)
    return outcome, slots


async def verbatim(
    http: httpx.AsyncClient,
    spec: Spec,
    ctx: Context,
    op: Operation,
    slot: Slot,
    value: str,
    request: Request,
    response: httpx.Response,
    getters: set[str],
    read_back: dict[tuple[str, str], ReadBack],
) -> str | None:
    """None when the stored value reads back identically; "" when nothing was stored to read
    (parameters, secrets, ignored fields); a finding otherwise."""
    if slot.where in ("path", "query", "filename") or slot.name.split(".")[-1] in SECRET_FIELDS:
        hook = read_back.get((op.method, op.path))
        if hook is None:
            return ""
        found = await hook(http, request, slot, value, response)
        return None if found is True else ("" if found is None else str(found))
    hook = read_back.get((op.method, op.path))
    if hook is not None:
        found = await hook(http, request, slot, value, response)
        return None if found is True else ("" if found is None else str(found))
    document = response.json() if response.content else None
    echoed, got = lookup(document, slot.name)
    if echoed and got != value:
        return f"echoed {str(got)[:80]!r} instead of the value sent"
    # Read the resource again through its GET route.
    target = None
    if op.method in ("PATCH", "PUT") and op.path in getters:
        target = request.url.split("?")[0]
    elif op.method == "POST" and isinstance(document, dict):
        for getter in getters:
            if getter.startswith(op.path + "/{") and getter.count("/") == op.path.count("/") + 1:
                param = getter[len(op.path) + 2 : -1]
                ident = document.get(param, document.get("id"))
                if ident is not None:
                    target = op.path + "/" + url_quote(str(ident))
    if target is None:
        return None if echoed else ""
    again = await http.get(target, headers=request.headers)
    found, got = lookup(again.json(), slot.name)
    if again.status_code != 200 or not found:
        return f"GET {target} after the write answered {again.status_code}"
    if got != value:
        return f"read back {str(got)[:80]!r} instead of the value sent"
    return None


# --- integrity snapshots --------------------------------------------------------------------


def files_under(root: Path) -> set[Path]:
    """Every file below ``root``."""
    return {p for p in root.rglob("*") if p.is_file()}


def cloud_tables(database_url: str) -> dict[str, int]:
    """Row count of every table of the public schema."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        counts: dict[str, int] = {}
        for name in names:
            row = conn.execute(f'SELECT count(*) FROM public."{name}"').fetchone()
            assert row is not None
            counts[name] = int(row[0])
        return counts


def hub_tables(db: Path) -> dict[str, int]:
    """Row count of every table of the hub's SQLite file."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def integrity_findings(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Tables dropped or rows lost."""
    problems = [f"table {name} is gone" for name in before if name not in after]
    problems += [
        f"table {name} lost rows: {before[name]} -> {after[name]}"
        for name in before
        if name in after and after[name] < before[name]
    ]
    return problems


def new_files_outside(before: set[Path], after: set[Path], allowed: list[Path]) -> list[str]:
    """Files that appeared outside the stores (and the canary paths)."""
    roots = [root.resolve() for root in allowed]
    problems = [
        f"file created outside the stores: {path}"
        for path in after - before
        if not any(path.resolve().is_relative_to(root) for root in roots)
    ]
    problems += [f"canary written: {CANARY}"] if Path(CANARY).exists() else []
    return problems


def report(app: str, outcome: Outcome, slots: list[Slot]) -> str:
    """One line of figures for the log (pytest -s / -rA shows it)."""
    routes = {(s.method, s.path) for s in slots}
    return (
        f"{app}: {len(routes)} routes, {len(slots)} slots, {len(HOSTILE)} values, "
        f"{outcome.requests} requests, {outcome.verbatim} stored verbatim, "
        f"statuses {dict(sorted(outcome.by_status.items()))}"
    )


# --- the cloud ------------------------------------------------------------------------------


async def test_cloud_api_takes_hostile_strings_in_every_slot(
    database_url: str, tmp_path: Path
) -> None:
    objects = tmp_path / "objects"
    settings = CloudSettings(
        database_url=database_url,
        storage_dir=objects,
        public_base_url="http://cloud.test",
        stale_check_enabled=False,
        device_poll_interval_s=0,
        log_level="ERROR",
        worker_inline=False,
        login_max_failures=1_000_000,  # brute-force limiting has its own test
        login_account_slowdown_after=1_000_000,
        rate_limits_enabled=False,  # so have the other rate limits (tests/cloud/test_rate_limits)
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    app = create_cloud_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://cloud.test",
        ) as http,
    ):
        user = await create_user(http)
        hub = await create_hub(http, user)
        node = await create_node(http, user, hub=hub, name="Kitchen node")
        plant = await create_plant(http, user, "Basil", node=node)
        bystander = await create_user(http)
        bystander_plant = await create_plant(http, bystander, "Bystander basil")
        spec = Spec((await http.get("/openapi.json")).json())
        state = {"password": user.password, "email": user.email}

        def user_code(_: Operation) -> str:
            return pending_codes[-1]

        pending_codes: list[str] = []  # approve needs a fresh pending code per request
        ctx = Context(
            ids={
                "hub_id": str(hub.id),
                "node_id": node["id"],
                "plant_id": plant["id"],
                "species_id": "1",
                "node_mac": node["mac"],
            },
            strings={
                "mac": lambda op: random_mac() if op.method == "POST" else node["mac"],
                "node_mac": lambda _op: node["mac"],
                "sha256": lambda _op: secrets.token_hex(32),
                "email": lambda _op: f"hostile-{uuid.uuid4().hex[:10]}@example.org",
                "password": lambda op: (
                    state["password"] if op.path.endswith("/token") else "a long enough password"
                ),
                "username": lambda _op: state["email"],
                "current_password": lambda _op: state["password"],
                "new_password": lambda _op: "another long password",
                "grant_type": lambda op: (
                    DEVICE_CODE_GRANT if op.path == DEVICE_TOKEN_PATH else "password"
                ),
                "refresh_token": lambda _op: user.refresh_token,
                "user_code": user_code,
                "name": lambda _op: "plain name",
                "message": lambda _op: "plain message",
            },
            headers={"OAuth2PasswordBearer": user.headers, "HubToken": hub.headers},
        )

        async def read_back_register(
            client: httpx.AsyncClient, request: Request, slot: Slot, value: str, _: httpx.Response
        ) -> Any:
            if slot.name != "password":
                return None
            login = await client.post(
                "/api/v1/auth/token",
                data={"username": request.sent["email"], "password": value},
            )
            return True if login.status_code == 200 else f"cannot log in with it: {login.text}"

        async def read_back_password(
            client: httpx.AsyncClient, request: Request, slot: Slot, value: str, _: httpx.Response
        ) -> Any:
            if slot.name != "new_password":
                return None
            state["password"] = value
            login = await client.post(
                "/api/v1/auth/token", data={"username": user.email, "password": value}
            )
            if login.status_code != 200:
                return f"cannot log in with the new password: {login.text}"
            user.access_token = login.json()["access_token"]
            user.refresh_token = login.json()["refresh_token"]
            ctx.headers["OAuth2PasswordBearer"] = user.headers
            return True

        async def read_back_nodes(
            client: httpx.AsyncClient, request: Request, slot: Slot, value: str, _: httpx.Response
        ) -> Any:
            field_name = slot.name.split(".")[-1]
            if field_name != "firmware_version":
                return None  # the inventory fills a node's name only while the user set none
            listing = (await client.get("/api/v1/nodes", headers=user.headers)).json()
            mine = [n for n in listing if n["mac"] == node["mac"]]
            got = mine[0].get(field_name) if mine else None
            return True if got == value else f"node {field_name} reads back {str(got)[:80]!r}"

        async def read_back_alerts(
            client: httpx.AsyncClient, request: Request, slot: Slot, value: str, ack: httpx.Response
        ) -> Any:
            if ack.json().get("accepted", 0) == 0:
                return None  # the item was rejected (in the ack), nothing stored
            if not slot.name.endswith("message"):
                return None
            alerts = (await client.get("/api/v1/alerts", headers=user.headers)).json()
            return (
                True
                if any(a.get("message") == value for a in alerts)
                else "alert message not read back verbatim"
            )

        async def read_back_approve(
            client: httpx.AsyncClient, request: Request, slot: Slot, value: str, _: httpx.Response
        ) -> Any:
            if slot.name != "hub_name":
                return None
            hubs = (await client.get("/api/v1/hubs", headers=user.headers)).json()
            return True if any(h["name"] == value for h in hubs) else "hub name not verbatim"

        read_back: dict[tuple[str, str], ReadBack] = {
            ("POST", "/api/v1/auth/register"): read_back_register,
            ("POST", "/api/v1/auth/password"): read_back_password,
            ("PUT", SYNC_NODES_PATH): read_back_nodes,
            ("POST", SYNC_ALERTS_PATH): read_back_alerts,
            ("POST", DEVICE_APPROVE_PATH): read_back_approve,
        }

        async def after(slot: Slot, value: str, response: httpx.Response) -> None:
            # Keep one pending device code ready for the next approve request.
            if (slot.method, slot.path) == ("POST", DEVICE_APPROVE_PATH) or not pending_codes:
                grant = await http.post(DEVICE_CODE_PATH, json={"hub_name": "pending"})
                pending_codes.append(grant.json()["user_code"])

        await after(Slot("POST", DEVICE_APPROVE_PATH, "json", ""), "", httpx.Response(200))
        tables_before = cloud_tables(database_url)
        files_before = files_under(tmp_path)

        def skip(slot: Slot) -> bool:
            # Process probes take no input worth the requests.
            return slot.path in ("/healthz", "/readyz")

        outcome, slots = await run_matrix(
            http,
            spec,
            ctx,
            skip,
            read_back,
            after,
            oauth_paths=frozenset({DEVICE_TOKEN_PATH, DEVICE_CODE_PATH}),
        )
        # The local store's signed-URL routes are kept out of the schema: hostile keys by hand.
        for label, value in HOSTILE.items():
            for method in ("PUT", "GET"):
                response = await http.request(
                    method,
                    f"{LOCAL_OBJECTS_PATH}/{url_quote(value[:URL_VALUE_MAX])}?X-Plantvita-Method={method}",
                    content=JPEG,
                    headers={"Content-Type": "image/jpeg"},
                )
                outcome.requests += 1
                if response.status_code >= 500 or not 400 <= response.status_code < 500:
                    outcome.findings.append(f"{method} object key {label}: {response.status_code}")
                elif problem := body_error(response, False):
                    outcome.findings.append(f"{method} object key {label}: {problem}")

        findings = list(outcome.findings)
        tables_after = cloud_tables(database_url)
        findings += integrity_findings(tables_before, tables_after)
        # No reading item of the matrix is valid (no metric), so readings must not move at all.
        findings += [
            f"table {name} changed: {tables_before[name]} -> {tables_after.get(name)}"
            for name in tables_before
            if name.startswith("readings") and tables_after.get(name) != tables_before[name]
        ]
        findings += new_files_outside(files_before, files_under(tmp_path), [objects])
        kept = await http.get(f"/api/v1/plants/{bystander_plant['id']}", headers=bystander.headers)
        if kept.status_code != 200 or kept.json()["name"] != "Bystander basil":
            findings.append(f"another user's plant changed: {kept.text[:200]}")
        print(report("cloud", outcome, slots))
        assert not findings, "\n".join(findings)
        assert len({(s.method, s.path) for s in slots}) >= 45
        assert outcome.verbatim >= 100, report("cloud", outcome, slots)


# --- the hub --------------------------------------------------------------------------------

HUB_PASSWORD = "hostile-matrix admin password"


async def test_hub_api_takes_hostile_strings_in_every_slot(tmp_path: Path) -> None:
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=tmp_path / "hub",
        cloud_url=None,
        ble_enabled=False,
        image_upload_bytes_per_s=None,
    )
    app = create_hub_app(settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://hub.test",
        ) as http,
    ):
        setup = await http.post("/api/v1/auth/password", json={"password": HUB_PASSWORD})
        assert setup.status_code == 204, setup.text
        state = {"password": HUB_PASSWORD}
        # The session cookie (kept by the client) rather than Basic: one argon2 check, not one
        # per request.
        assert (await http.post("/api/v1/auth/login", json=state)).status_code == 204
        mac = random_mac()
        node = await http.post("/api/v1/nodes", json={"mac": mac, "bindkey": "00" * 16})
        assert node.status_code in (200, 201), node.text
        plant = await http.post("/api/v1/plants", json={"name": "Mint", "node_mac": mac})
        assert plant.status_code == 201, plant.text
        plant_id = plant.json()["id"]
        image = await http.post(
            "/api/v1/images",
            files={"file": ("mint.jpg", JPEG, "image/jpeg")},
            data={"plant_id": plant_id},
        )
        assert image.status_code == 201, image.text
        spec = Spec((await http.get("/openapi.json")).json())
        ctx = Context(
            ids={"plant_id": plant_id, "mac": mac, "image_id": image.json()["id"]},
            strings={
                "mac": lambda op: random_mac() if op.method == "POST" else mac,
                "node_mac": lambda _op: mac,
                "bindkey": lambda _op: "00" * 16,
                "password": lambda op: (
                    state["password"] if op.path.endswith("/login") else "a new admin password"
                ),
                "current_password": lambda _op: state["password"],
                "plant_id": lambda _op: plant_id,
                "name": lambda _op: "plain name",
            },
            headers={},
        )

        async def read_back_password(
            client: httpx.AsyncClient, request: Request, slot: Slot, value: str, _: httpx.Response
        ) -> Any:
            state["password"] = request.sent["password"]  # the base request changes it too
            if slot.name != "password":
                return None
            login = await client.post("/api/v1/auth/login", json={"password": value})
            return True if login.status_code == 204 else f"cannot log in with it: {login.text}"

        async def relogin(slot: Slot, value: str, response: httpx.Response) -> None:
            # A refused login or password change ends the browser session: sign in again.
            if slot.path.startswith("/api/v1/auth"):
                again = await http.post("/api/v1/auth/login", json={"password": state["password"]})
                assert again.status_code == 204, again.text

        def skip(slot: Slot) -> bool:
            return slot.path in ("/healthz", "/readyz", "/metrics")

        tables_before = hub_tables(settings.database_path)
        files_before = files_under(tmp_path)
        outcome, slots = await run_matrix(
            http,
            spec,
            ctx,
            skip,
            {("POST", "/api/v1/auth/password"): read_back_password},
            relogin,
        )
        findings = list(outcome.findings)
        findings += integrity_findings(tables_before, hub_tables(settings.database_path))
        db = settings.database_path
        stores = [settings.images_dir] + [db.with_name(db.name + s) for s in ("", "-wal", "-shm")]
        findings += new_files_outside(files_before, files_under(tmp_path), stores)
        print(report("hub", outcome, slots))
        assert not findings, "\n".join(findings)
        assert len({(s.method, s.path) for s in slots}) >= 15
        assert outcome.verbatim >= 50, report("hub", outcome, slots)


SHARED_JS = SHARED_STATIC_DIR / "js"
HTML_SINKS = re.compile(
    r"\.(?:innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write|"
    r"createContextualFragment|DOMParser|\beval\(|new Function\(|\.srcdoc\b"
)


def _assert_no_html_from_data(scripts: list[Path]) -> None:
    assert scripts
    for script in scripts:
        source = script.read_text()
        for sink in HTML_SINKS.finditer(source):
            literal = re.match(r"\s*`([^`]*)`", source[sink.end() :])
            # Only a constant template (no ${...}) may be parsed as HTML.
            where = f"{script.name}: HTML sink at offset {sink.start()} is fed data"
            assert literal is not None, where
            assert "${" not in literal.group(1), where


def test_hub_ui_renders_stored_text_as_text_never_as_html() -> None:
    """The matrix stored ``<script>`` and ``onerror=`` names verbatim; the UI must show them as
    text: no script writes HTML built from data, and the pages forbid inline script."""
    scripts = sorted((STATIC_DIR / "js").glob("*.js")) + sorted(SHARED_JS.glob("*.js"))
    _assert_no_html_from_data(scripts)
    assert sum(s.read_text().count(".textContent") for s in scripts) >= 10
    for page in STATIC_DIR.glob("*.html"):
        assert "<script>" not in page.read_text(), f"{page.name} has an inline script"
    csp = _SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp


def test_cloud_app_renders_stored_text_as_text_never_as_html() -> None:
    """The cloud app shows the same stored names: its scripts (and the shared UI code) build
    DOM nodes and text, never HTML from data; its pages forbid inline script and eval."""
    from cloud.web.router import STATIC_DIR as APP_DIR
    from cloud.web.router import _csp

    scripts = [*sorted((APP_DIR / "js").glob("*.js")), APP_DIR / "sw.js"]
    _assert_no_html_from_data(scripts + sorted(SHARED_JS.glob("*.js")))
    for page in APP_DIR.glob("*.html"):
        assert "<script>" not in page.read_text(), f"{page.name} has an inline script"
    csp = _csp("")
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
