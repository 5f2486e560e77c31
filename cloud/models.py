"""Every cloud table, imported in one place so Alembic and the tests see the whole metadata."""

from __future__ import annotations

from cloud.alerts.models import Alert, AlertState
from cloud.auth.models import DeviceAuthorization, Hub, LoginFailure, RefreshToken, User
from cloud.diagnosis.models import Diagnosis, DiagnosisRateWindow, Image
from cloud.notifications.models import Webhook
from cloud.ratelimit import RateLimitCounter
from cloud.registry.models import Node, NodeAssignment, Plant, Species
from cloud.telemetry.models import IngestBatch, readings, readings_daily, readings_hourly

__all__ = [
    "Alert",
    "AlertState",
    "DeviceAuthorization",
    "Diagnosis",
    "DiagnosisRateWindow",
    "Hub",
    "Image",
    "IngestBatch",
    "LoginFailure",
    "Node",
    "NodeAssignment",
    "Plant",
    "RateLimitCounter",
    "RefreshToken",
    "Species",
    "User",
    "Webhook",
    "readings",
    "readings_daily",
    "readings_hourly",
]
