"""The one error body every Plant-Vita HTTP API answers with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """Machine-readable error: a stable ``code``, a human ``message`` and optional details."""

    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail
