"""The OpenAPI document is one generators and readers like (cloud/openapi.py): readable stable
operationIds, the one error body on every documented error (422 too), servers, tag
descriptions, examples that are true to their models; and /docs, /redoc work offline."""

from __future__ import annotations

import importlib
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from cloud.openapi import EXAMPLES
from cloud.settings import CloudSettings
from shared.errors import ErrorBody
from tests.cloud.factories import create_user

ERROR_REF = "#/components/schemas/ErrorBody"
# Errors every operation can answer; and those tied to what it is.
ALWAYS = {"400", "422", "429"}
# RFC 6749/8628 routes answer their 400 in the OAuth error shape, as those RFCs require.
OAUTH_400 = {"/api/v1/auth/device/code", "/api/v1/auth/device/token"}
MODEL_MODULES = (
    "shared.errors",
    "shared.sync",
    "cloud.auth.schemas",
    "cloud.registry.schemas",
    "cloud.alerts.schemas",
    "cloud.telemetry.schemas",
    "cloud.notifications.schemas",
    "cloud.garden.schemas",
    "cloud.images.schemas",
    "cloud.diagnosis.schemas",
    "shared.watering",
    "shared.metrics",
)


@pytest.fixture
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_readable_unique_and_named_after_the_handler(
    document: dict[str, Any],
) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", op_id) for op_id in ids), ids
    paths = document["paths"]
    assert paths["/api/v1/plants"]["get"]["operationId"] == "listPlants"
    assert paths["/api/v1/plants"]["post"]["operationId"] == "createPlant"
    assert paths["/api/v1/plants/{plant_id}"]["get"]["operationId"] == "getPlant"
    assert paths["/api/v1/alerts/{alert_id}/acknowledge"]["post"]["operationId"] == "acknowledge"


def test_every_operation_documents_its_errors_with_the_one_error_body(
    document: dict[str, Any],
) -> None:
    wrong = []
    for method, path, operation in operations(document):
        expected = set(ALWAYS)
        if operation.get("security") or path.startswith("/api/v1/auth/"):
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if method in ("post", "put", "patch", "delete"):
            expected.add("409")
        for code in sorted(expected):
            answer = operation["responses"].get(code)
            schema = (answer or {}).get("content", {}).get("application/json", {}).get("schema")
            ref = (schema or {}).get("$ref")
            if code == "400" and path in OAUTH_400:
                ref = ERROR_REF if ref == "#/components/schemas/OAuthError" else ref
            if ref != ERROR_REF:
                wrong.append(f"{method.upper()} {path} {code}: {answer}")
    assert not wrong, "\n".join(wrong[:20])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["ErrorBody"]["properties"]["error"]


async def test_a_live_422_is_the_documented_error_body(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    response = await client.post("/api/v1/plants", json={"name": ""}, headers=user.headers)
    assert response.status_code == 422
    body = ErrorBody.model_validate_json(response.content)
    assert body.error.code == "validation_error"
    assert body.error.details[0]["loc"] == ["body", "name"]


def test_servers_and_tag_descriptions(document: dict[str, Any], settings: CloudSettings) -> None:
    assert document["servers"] == [
        {"url": settings.public_base_url.rstrip("/"), "description": "this cloud"}
    ]
    described = {tag["name"]: tag.get("description") for tag in document.get("tags", [])}
    used = {tag for _, _, operation in operations(document) for tag in operation.get("tags", [])}
    assert used, "operations carry tags"
    assert not [tag for tag in used if not described.get(tag)], described


def _model(name: str) -> type[BaseModel]:
    for module in MODEL_MODULES:
        found = getattr(importlib.import_module(module), name, None)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    raise AssertionError(f"no model named {name}")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_is_valid_for_its_model(name: str) -> None:
    _model(name).model_validate(EXAMPLES[name])


def test_request_and_main_response_bodies_carry_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    def has_example(media: dict[str, Any]) -> bool:
        if "example" in media or "examples" in media:
            return True
        schema = media.get("schema", {})
        schema = schema.get("items", schema)
        options = schema.get("anyOf", [schema])  # a union: every member has one
        refs = [option.get("$ref", "").rsplit("/", 1)[-1] for option in options]
        return all(ref and schemas.get(ref, {}).get("examples") for ref in refs)

    missing = []
    for method, path, operation in operations(document):
        for kind, media in operation.get("requestBody", {}).get("content", {}).items():
            if kind == "application/json" and not has_example(media):
                missing.append(f"request {method.upper()} {path}")
        for code, answer in operation["responses"].items():
            media = answer.get("content", {}).get("application/json")
            if code.startswith("2") and media is not None and not has_example(media):
                missing.append(f"response {method.upper()} {path} {code}")
    assert not missing, "\n".join(missing)


async def test_docs_and_redoc_load_everything_from_this_cloud(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        response = await client.get(page)
        assert response.status_code == 200, page
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        policy = response.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", policy)
        assert script_src is not None
        assert script_src[1].strip() == "'self'", policy  # no inline script, no CDN
        assert "frame-ancestors 'none'" in policy
        assert "<script>" not in html.replace(" ", "")  # every script is a file
        assert not re.search(r"(src|href)=\"(https?:)?//", html), html  # nothing off-site
        for asset in re.findall(r"(?:src|href)=\"(/[^\"]+)\"", html):
            fetched = await client.get(asset)
            assert fetched.status_code == 200, asset
            assert len(fetched.content) > 50, asset
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "Plant-Vita cloud"
