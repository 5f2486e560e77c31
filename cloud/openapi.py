"""The OpenAPI document app developers generate clients from (docs/cloud.md, "OpenAPI").

FastAPI's document is finished here: stable camelCase ``operationId``s from the handlers' names
(``list_plants`` -> ``listPlants``), a description per tag, ``servers``, the one error body
(``ErrorBody``) on every error an operation can answer (422 included, which FastAPI would
otherwise describe with its own ``HTTPValidationError``), and examples on request and
response bodies. Examples are written once here and checked against their models by
tests/cloud/test_openapi.py.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from shared.errors import ErrorBody

TAGS: Final = [
    {
        "name": "auth",
        "description": "Accounts, OAuth2 password and refresh tokens, sign-in "
        "sessions, and linking a hub with the RFC 8628 device flow.",
    },
    {
        "name": "hubs",
        "description": "Your Raspberry Pi hubs: rename, unlink (revokes the hub token).",
    },
    {
        "name": "nodes",
        "description": "Your ESP32 and third-party sensor nodes by MAC, and the "
        "settings the hub carries down to them.",
    },
    {"name": "plants", "description": "Your plants, their species and effective thresholds."},
    {"name": "species", "description": "The public species catalogue with care ranges."},
    {
        "name": "telemetry",
        "description": "Readings: history at an automatic resolution, the "
        "latest values, CSV export, watering.",
    },
    {"name": "metrics", "description": "What nodes measure: names, units, ranges (public)."},
    {
        "name": "alerts",
        "description": "Threshold, light, battery and stale-node alerts; acknowledge and resolve.",
    },
    {"name": "notifications", "description": "Where alert events are delivered (signed webhook)."},
    {"name": "images", "description": "Photos (Visual History) and the hub's upload flow."},
    {
        "name": "diagnoses",
        "description": "Plant-health diagnoses of photos (Gemini or the built-in heuristic).",
    },
    {"name": "garden", "description": "One-call summaries the cloud app's pages show."},
    {
        "name": "sync",
        "description": "Hub-facing sync API (hub token only): readings, alerts, "
        "node inventory, config pull, diagnoses.",
    },
    {"name": "health", "description": "Liveness and readiness probes."},
]

_ERROR_REF: Final = {"$ref": "#/components/schemas/ErrorBody"}
_ERRORS: Final = {
    "400": "Bad request: the body or a header cannot be read",
    "401": "Missing, expired or revoked credentials (`WWW-Authenticate: Bearer`)",
    "403": "Authenticated but not allowed",
    "404": "No such resource, or not yours (never says which)",
    "409": "Conflicts with stored state",
    "422": "Validation failed: `details` lists each problem (`loc`, `msg`, `type`)",
    "429": "Rate limited: wait `Retry-After` seconds (`RateLimit-*` headers)",
}
_WRITES: Final = {"post", "put", "patch", "delete"}


def operation_id(route: APIRoute) -> str:
    """``list_plants`` -> ``listPlants``: stable as long as the handler keeps its name."""
    first, *rest = route.name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _errors_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["400", "422", "429"]
    # Credentials in the header, or in the body (sign-in, refresh, logout).
    if operation.get("security") or path.startswith("/api/v1/auth/"):
        codes += ["401", "403"]
    if "{" in path:
        codes.append("404")
    if method in _WRITES:
        codes.append("409")
    return sorted(codes)


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Add the conventions above to a FastAPI-generated document (in place; returned)."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    error_schema.setdefault("examples", [EXAMPLES["ErrorBody"]])
    schemas["ErrorBody"] = error_schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for name, example in EXAMPLES.items():
        if name in schemas:
            schemas[name].setdefault("examples", [example])
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for code in _errors_for(path, method, operation):
                answer = responses.get(code)
                if answer is None or code == "422":
                    responses[code] = {
                        "description": _ERRORS[code],
                        "content": {"application/json": {"schema": _ERROR_REF}},
                    }
                elif "content" not in answer:
                    answer["content"] = {"application/json": {"schema": _ERROR_REF}}
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = media.get("schema", {})
                name = schema.get("$ref", "").rsplit("/", 1)[-1] or schema.get("title", "")
                if name in EXAMPLES and "example" not in media:
                    media["example"] = EXAMPLES[name]
    return document


def install_openapi(app: FastAPI, public_base_url: str) -> None:
    """Serve the finished document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
                servers=[{"url": public_base_url.rstrip("/"), "description": "this cloud"}],
            )
            app.openapi_schema = finish(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_UUID = "3f2c1a9e-8d4b-4c1e-9a7f-2b6d5e8c0a11"
_NODE = "7a1d9c3e-5b2f-4e8a-b6c4-0d9e8f7a6b5c"
_HUB = "c4b3a291-0f8e-4d7c-a6b5-948372615e0d"
_PLANT = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
_WHEN = "2026-12-01T08:30:00Z"
_THRESHOLDS = {
    "moisture_min": 30.0,
    "moisture_max": 60.0,
    "temperature_min": 18.0,
    "temperature_max": 30.0,
    "humidity_min": 40.0,
    "humidity_max": 80.0,
    "light_lux_min": 2000.0,
    "light_lux_max": 50000.0,
    "dli_min": 6.0,
    "dli_max": 30.0,
}
_NODE_CONFIG = {
    "mac": "AA:BB:CC:11:22:33",
    "revision": 3,
    "sampling_interval_s": 300,
    "advert_burst": 3,
    "camera_interval_s": 21600,
    "connectable_window_s": 30,
}

_IMAGE = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_DIAGNOSIS = "2d4f6a8c-0e1b-4c3d-9e5f-7a9b1c3d5e7f"
_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
_DIAGNOSIS_PUBLIC = {
    "id": _DIAGNOSIS,
    "image_id": _IMAGE,
    "plant_id": _PLANT,
    "status": "succeeded",
    "health": "stressed",
    "confidence": 0.82,
    "summary": "Lower leaves are yellowing; the soil has been dry for two days.",
    "findings": [
        {
            "issue": "Yellowing lower leaves",
            "likely_cause": "Underwatering",
            "cause_type": "abiotic",
            "evidence": "Moisture under 30 % since Monday; older leaves pale from the tips.",
        }
    ],
    "recommended_actions": ["Water until it drains, then keep moisture above 35 %"],
    "follow_up": "Take another photo in three days.",
    "model": "gemini-2.5-flash",
    "source": "gemini",
    "tokens": {"prompt": 1830, "candidates": 214, "total": 2044},
    "attempts": 1,
    "last_error_code": None,
    "last_error": None,
    "requested_at": _WHEN,
    "started_at": "2026-12-01T08:30:02Z",
    "next_attempt_at": None,
    "finished_at": "2026-12-01T08:30:09Z",
    "job_id": 4187,
    "job_status": "succeeded",
}
_IMAGE_PUBLIC = {
    "id": _IMAGE,
    "plant_id": _PLANT,
    "node_id": _NODE,
    "captured_at": _WHEN,
    "byte_size": 48213,
    "content_type": "image/jpeg",
    "width": 1600,
    "height": 1200,
    "sha256": _SHA256,
    "metrics": {
        "canopy_cover": 0.41,
        "excess_green_mean": 38.5,
        "green_pixels": 787200,
        "brightness": 112.0,
        "flags": [],
    },
    "status": "complete",
    "created_at": _WHEN,
    "latest_diagnosis": _DIAGNOSIS_PUBLIC,
}
_PLANT_PUBLIC = {
    "id": _PLANT,
    "name": "Basil",
    "species_id": 54,
    "species_name": "Basil",
    "location": "kitchen window",
    "node_id": _NODE,
    "overrides": {"moisture_min": 35.0},
    "thresholds": {**_THRESHOLDS, "moisture_min": 35.0},
    "created_at": _WHEN,
    "updated_at": _WHEN,
}
_HUB_PUBLIC = {
    "id": _HUB,
    "name": "Balcony hub",
    "linked": True,
    "created_at": _WHEN,
    "last_seen_at": _WHEN,
    "revoked_at": None,
    "config_revision": 7,
    "config_revision_acked": 7,
    "config_pending": False,
    "pending": {
        "alerts": 0,
        "readings": 120,
        "nodes": 0,
        "image_slots": 0,
        "image_bytes": 1,
        "plant_edits": 0,
    },
    "pending_total": 121,
    "pending_reported_at": _WHEN,
    "oldest_pending_reading_at": _WHEN,
    "last_sync_error": None,
}
_PLANT_STATUS = {
    "plant_id": _PLANT,
    "node_id": _NODE,
    "measured_at": _WHEN,
    "metrics": [
        {
            "metric": "moisture",
            "unit": "%",
            "value": 24.0,
            "measured_at": _WHEN,
            "status": "low",
            "minimum": 35.0,
            "maximum": 60.0,
        },
        {
            "metric": "temperature",
            "unit": "°C",
            "value": 21.3,
            "measured_at": _WHEN,
            "status": "ok",
            "minimum": 18.0,
            "maximum": 30.0,
        },
        {
            "metric": "illuminance",
            "unit": "lx",
            "value": 0.0,
            "measured_at": _WHEN,
            "status": "low",
            "minimum": 2000.0,
            "maximum": 60000.0,
            "daily": {
                "unit": "mol/m²/day",
                "minimum": 8.0,
                "maximum": 30.0,
                "today": {"dli": 2.1, "samples": 40, "hours": 9.5, "status": "ok"},
                "yesterday": {"dli": 4.6, "samples": 96, "hours": 24.0, "status": "low"},
            },
        },
    ],
}

# One example per schema, by component name (validated against the model in the tests).
EXAMPLES: Final[dict[str, Any]] = {
    "ErrorBody": {"error": {"code": "not_found", "message": "plant not found", "details": None}},
    "UserCreate": {"email": "gardener@example.org", "password": "a long garden passphrase"},
    "UserPublic": {
        "id": _UUID,
        "email": "gardener@example.org",
        "created_at": _WHEN,
        "temperature_unit": "C",
        "locale": "en-GB",
        "time_zone": "Europe/London",
    },
    "UserUpdate": {"temperature_unit": "F", "locale": "en-US", "time_zone": "America/New_York"},
    "PasswordChange": {
        "current_password": "a long garden passphrase",
        "new_password": "an even longer garden passphrase",
    },
    "RefreshRequest": {"refresh_token": "pvr_3q2-7wEXAMPLEonlyExampleOnlyExampleOnly0"},
    "TokenPair": {
        "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJleGFtcGxlIn0.sig",
        "token_type": "bearer",
        "expires_in": 900,
        "refresh_token": "pvr_3q2-7wEXAMPLEonlyExampleOnlyExampleOnly0",
        "session_id": _UUID,
    },
    "DeviceApproval": {"user_code": "BCDF-GHJK", "approve": True, "hub_name": "Balcony hub"},
    "DeviceApprovalResult": {"status": "approved", "hub_id": _HUB, "hub_name": "Balcony hub"},
    "DeviceCodeRequest": {"hub_name": "Balcony hub"},
    "DeviceAuthorization": {
        "device_code": "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
        "user_code": "BCDF-GHJK",
        "verification_uri": "https://cloud.example.org/app/link",
        "verification_uri_complete": "https://cloud.example.org/app/link?user_code=BCDF-GHJK",
        "expires_in": 900,
        "interval": 5,
    },
    "HubToken": {
        "access_token": "pvh_EXAMPLEexampleEXAMPLEexample",
        "token_type": "bearer",
        "hub_id": _HUB,
    },
    "HubUpdate": {"name": "Greenhouse hub"},
    "HubPublic": _HUB_PUBLIC,
    "NodeCreate": {"mac": "aa-bb-cc-11-22-33", "name": "Window sill", "hub_id": _HUB},
    "NodeUpdate": {"name": "Kitchen window"},
    "NodeConfigUpdate": {"sampling_interval_s": 600, "camera_interval_s": 43200},
    "NodeConfig": _NODE_CONFIG,
    "NodePublic": {
        "id": _NODE,
        "mac": "AA:BB:CC:11:22:33",
        "kind": "plantvita",
        "name": "Window sill",
        "hub_id": _HUB,
        "firmware_version": "1.2.0",
        "battery": 87.0,
        "rssi": -64,
        "last_seen_at": _WHEN,
        "last_reading_at": _WHEN,
        "dropped_adverts": 0,
        "advert_counts": {
            "stored": 1432,
            "duplicate": 5790,
            "replayed": 0,
            "wrong_key": 0,
            "unsupported_object": 0,
            "unsupported_device": 0,
            "malformed": 0,
        },
        "config": _NODE_CONFIG,
        "config_revision_applied": 3,
        "config_pending": False,
        "created_at": _WHEN,
    },
    "PlantCreate": {
        "name": "Basil",
        "species_id": 54,
        "location": "kitchen window",
        "node_id": _NODE,
        "overrides": {"moisture_min": 35.0},
    },
    "PlantUpdate": {"location": "balcony", "overrides": None},
    "PlantPublic": _PLANT_PUBLIC,
    "SpeciesPublic": {
        "id": 54,
        "common_name": "Basil",
        "scientific_name": "Ocimum basilicum",
        "category": "balcony",
        "thresholds": _THRESHOLDS,
    },
    "LatestReading": {
        "plant_id": _PLANT,
        "node_id": _NODE,
        "measured_at": _WHEN,
        "channel": 0,
        "moisture": 42.5,
        "temperature": 21.3,
        "humidity": 55.0,
        "illuminance": 12000.0,
        "battery": 87.0,
        "conductivity": 1250.0,
    },
    "AlertPublic": {
        "id": _UUID,
        "plant_id": _PLANT,
        "node_id": _NODE,
        "hub_id": _HUB,
        "source": "cloud",
        "kind": "low",
        "metric": "moisture",
        "status": "open",
        "message": "Basil: moisture 24 % is below 35 %",
        "value": 24.0,
        "threshold": 35.0,
        "opened_at": _WHEN,
        "acknowledged_at": None,
        "resolved_at": None,
    },
    "WebhookIn": {"url": "https://hooks.example.org/plantvita"},
    "WebhookPublic": {
        "url": "https://hooks.example.org/plantvita",
        "created_at": _WHEN,
        "updated_at": _WHEN,
        "last_delivery": {
            "event_id": _UUID,
            "event": "alert.opened",
            "status": "delivered",
            "http_status": 204,
            "error": None,
            "attempts": 1,
            "at": _WHEN,
        },
    },
    "WebhookWithSecret": {
        "url": "https://hooks.example.org/plantvita",
        "created_at": _WHEN,
        "updated_at": _WHEN,
        "last_delivery": None,
        "secret": "whsec_EXAMPLEexampleEXAMPLEexample",
    },
    "SessionPublic": {
        "id": _UUID,
        "started_at": "2026-11-20T19:02:11Z",
        "last_active_at": _WHEN,
        "expires_at": "2026-12-31T08:30:00Z",
        "user_agent": "Mozilla/5.0 (Android 15; Mobile)",
    },
    "History": {
        "node_id": _NODE,
        "plant_id": _PLANT,
        "start": "2026-11-24T08:30:00Z",
        "end": _WHEN,
        "resolution": "hour",
        "truncated": False,
        "channel": 0,
        "channels": [0],
        "points": [
            {
                "t": "2026-11-24T08:00:00Z",
                "count": 12,
                "moisture": 44.1,
                "moisture_min": 43.0,
                "moisture_max": 45.2,
                "temperature": 21.0,
                "temperature_min": 20.6,
                "temperature_max": 21.4,
            }
        ],
    },
    "PlantStatus": _PLANT_STATUS,
    "ReadingBatch": {
        "batch_id": _UUID,
        "readings": [
            {
                "node_mac": "AA:BB:CC:11:22:33",
                "measured_at": _WHEN,
                "seq": 1042,
                "moisture": 42.5,
                "temperature": 21.3,
                "humidity": 55.0,
                "illuminance": 12000.0,
                "battery": 87.0,
            }
        ],
    },
    "AlertBatch": {
        "batch_id": _UUID,
        "alerts": [
            {
                "local_id": _UUID,
                "node_mac": "AA:BB:CC:11:22:33",
                "kind": "low",
                "metric": "moisture",
                "message": "Basil is dry",
                "opened_at": _WHEN,
            }
        ],
    },
    "HubSyncStatus": {
        "pending": {
            "alerts": 0,
            "readings": 120,
            "nodes": 0,
            "image_slots": 0,
            "image_bytes": 1,
            "plant_edits": 0,
        },
        "oldest_pending_reading_at": _WHEN,
        "last_error": None,
    },
    "NodeInventory": {
        "nodes": [
            {
                "mac": "AA:BB:CC:11:22:33",
                "kind": "plantvita",
                "name": "Window sill",
                "firmware_version": "1.2.0",
                "battery": 87.0,
                "rssi": -64,
                "last_seen": _WHEN,
                "config_revision_applied": 3,
                "dropped_adverts": 0,
            }
        ]
    },
    "PushSubscriptionIn": {
        "endpoint": "https://fcm.googleapis.com/fcm/send/dEXAMPLE:APA91bEXAMPLE",
        "keys": {
            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1X"
            "bjhazAkj7I99e8QcYP7DkM",
            "auth": "tBHItJI5svbpez7KI4CCXg",
        },
    },
    "PreferencesUpdate": {
        "choices": {"email": {"alert.opened": True, "alert.resolved": False}},
        "email_digest": True,
    },
    "PlantEditBatch": {
        "edits": [
            {
                "edit_id": _UUID,
                "plant_id": _PLANT,
                "base_revision": 4,
                "edited_at": _WHEN,
                "changes": {"location": "balcony"},
            }
        ]
    },
    "ImageSlotRequest": {
        "node_mac": "AA:BB:CC:11:22:33",
        "plant_id": _PLANT,
        "captured_at": _WHEN,
        "byte_size": 48213,
        "sha256": _SHA256,
        "content_type": "image/jpeg",
    },
    "ImageSlot": {
        "image_id": _IMAGE,
        "complete": False,
        "upload_url": "https://storage.example.org/plantvita-images/9b8a7c6d.jpg?X-Goog-Signature=EXAMPLE",
        "upload_method": "PUT",
        "upload_headers": {"Content-Type": "image/jpeg"},
        "expires_at": "2026-12-01T08:45:00Z",
    },
    "ImageCompleteAck": {
        "image_id": _IMAGE,
        "sha256": _SHA256,
        "byte_size": 48213,
        "diagnosis_queued": True,
    },
    "ImagePublic": _IMAGE_PUBLIC,
    "ImageDetail": {
        **_IMAGE_PUBLIC,
        "download_url": "https://storage.example.org/plantvita-images/9b8a7c6d.jpg?X-Goog-Signature=EXAMPLE",
        "thumbnail_url": "https://storage.example.org/plantvita-images/9b8a7c6d.thumb.jpg?X-Goog-Signature=EXAMPLE",
        "urls_expire_at": "2026-12-01T08:45:00Z",
    },
    "DiagnosisPublic": _DIAGNOSIS_PUBLIC,
    "WateringPublic": {
        "events": [{"at": "2026-11-28T18:00:00Z", "before": 28.4, "after": 52.1, "rise": 23.7}],
        "forecast": {
            "status": "in_days",
            "text": "Needs water in about 2 days",
            "moisture": 41.6,
            "minimum": 35.0,
            "hours_until_dry": 52.8,
            "dry_at": "2026-12-03T13:18:00Z",
            "days": 2,
            "drying_per_day": 3.0,
            "last_watered_at": "2026-11-28T18:00:00Z",
            "reason": None,
        },
    },
    "MetricPublic": {
        "name": "moisture",
        "label": "Soil moisture",
        "unit": "%",
        "minimum": 0.0,
        "maximum": 100.0,
        "decimals": 0,
        "role": "plant",
        "thresholds": True,
        "threshold_prefix": "moisture",
        "compact_above": None,
        "daily": None,
    },
    "Garden": {
        "generated_at": _WHEN,
        "hubs": [{**_HUB_PUBLIC, "online": True, "offline_after_s": 900}],
        "plants": [
            {
                "plant": _PLANT_PUBLIC,
                "node": {
                    "id": _NODE,
                    "name": "Window sill",
                    "mac": "AA:BB:CC:11:22:33",
                    "hub_id": _HUB,
                    "battery": 87.0,
                    "last_seen_at": _WHEN,
                },
                "status": _PLANT_STATUS,
                "open_alerts": 1,
                "config_pending": False,
            }
        ],
    },
    "PushKey": {
        "public_key": "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3q"
        "BUYIHBQFLXYp5Nksh8U"
    },
    "PushSubscriptionPublic": {
        "id": _UUID,
        "push_service": "fcm.googleapis.com",
        "user_agent": "Mozilla/5.0 (Android 15; Mobile)",
        "created_at": _WHEN,
        "last_status": "delivered",
        "last_error": None,
        "last_attempt_at": _WHEN,
    },
    "Preferences": {
        "channels": [
            {"name": "push", "label": "Push", "available": True},
            {"name": "email", "label": "E-mail", "available": False},
            {"name": "webhook", "label": "Webhook", "available": True},
        ],
        "events": [
            {"name": "alert.opened", "label": "An alert opens", "available": True},
            {"name": "alert.resolved", "label": "An alert is resolved", "available": True},
            {"name": "diagnosis.ready", "label": "A diagnosis is ready", "available": True},
            {"name": "hub.offline", "label": "A hub goes offline", "available": True},
        ],
        "choices": {
            "push": {
                "alert.opened": True,
                "alert.resolved": False,
                "diagnosis.ready": True,
                "hub.offline": True,
            },
            "email": {
                "alert.opened": False,
                "alert.resolved": False,
                "diagnosis.ready": False,
                "hub.offline": False,
            },
            "webhook": {
                "alert.opened": True,
                "alert.resolved": True,
                "diagnosis.ready": True,
                "hub.offline": True,
            },
        },
        "email_digest": True,
        "digest_hour": 7,
    },
    "BatchAck": {
        "batch_id": _UUID,
        "accepted": 47,
        "duplicates": 2,
        "rejected": [
            {
                "index": 12,
                "reason": "too_old",
                "message": "measured_at is before 2020-01-01 (a clock never set?)",
            }
        ],
        "replayed": False,
    },
    "NodeInventoryAck": {
        "registered": ["AA:BB:CC:11:22:44"],
        "updated": ["AA:BB:CC:11:22:33"],
        "rejected": [],
    },
    "PlantEditAck": {
        "results": [
            {
                "edit_id": _UUID,
                "outcome": "applied",
                "message": None,
                "revision": 5,
                "current": {
                    "id": _PLANT,
                    "name": "Basil",
                    "species_id": 54,
                    "location": "balcony",
                    "node_mac": "AA:BB:CC:11:22:33",
                    "overrides": None,
                    "revision": 5,
                },
            }
        ]
    },
    "ConfigSnapshot": {
        "revision": 7,
        "hub_id": _HUB,
        "generated_at": _WHEN,
        "plants": [
            {
                "id": _PLANT,
                "name": "Basil",
                "species_id": 54,
                "location": "kitchen window",
                "node_mac": "AA:BB:CC:11:22:33",
                "overrides": {"moisture_min": 35.0},
                "revision": 4,
            }
        ],
        "species": [
            {
                "id": 54,
                "common_name": "Basil",
                "scientific_name": "Ocimum basilicum",
                "thresholds": _THRESHOLDS,
            }
        ],
        "nodes": [_NODE_CONFIG],
    },
    "DiagnosisDigest": {
        "diagnoses": [
            {
                "id": _DIAGNOSIS,
                "plant_id": _PLANT,
                "image_sha256": _SHA256,
                "image_captured_at": _WHEN,
                "status": "succeeded",
                "health": "stressed",
                "confidence": 0.82,
                "summary": "Lower leaves are yellowing; the soil has been dry for two days.",
                "findings": _DIAGNOSIS_PUBLIC["findings"],
                "recommended_actions": _DIAGNOSIS_PUBLIC["recommended_actions"],
                "follow_up": "Take another photo in three days.",
                "source": "gemini",
                "model": "gemini-2.5-flash",
                "requested_at": _WHEN,
                "finished_at": "2026-12-01T08:30:09Z",
            }
        ]
    },
}
