"""Domain errors with their HTTP status and a stable code, and the one handler rendering them."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg import DataError as DriverDataError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import ErrorBody, ErrorDetail
from shared.sync import OAuthError

_log = structlog.get_logger("cloud.errors")


class CloudError(Exception):
    """Base of every error the cloud answers on purpose.

    ``keep_changes`` asks the request's session to commit what was flushed before the error
    (a failed login attempt, a device-code poll time) instead of rolling it back.
    """

    status_code: int = 400
    code: str = "bad_request"
    keep_changes: bool = False

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        keep_changes: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        if keep_changes is not None:
            self.keep_changes = keep_changes


class NotFoundError(CloudError):
    """The thing does not exist or belongs to someone else (never say which)."""

    status_code = 404
    code = "not_found"


class UnauthorizedError(CloudError):
    """Missing, expired, forged or revoked credentials."""

    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "not authenticated", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class ForbiddenError(CloudError):
    """Authenticated but not allowed."""

    status_code = 403
    code = "forbidden"


class ConflictError(CloudError):
    """The request clashes with stored state (e.g. a MAC registered elsewhere)."""

    status_code = 409
    code = "conflict"


class InvalidRequestError(CloudError):
    """A well-formed request the domain refuses."""

    status_code = 422
    code = "invalid_request"


class RateLimitedError(CloudError):
    """Too many attempts; ``Retry-After`` says when to try again."""

    status_code = 429
    code = "rate_limited"


class PayloadTooLargeError(CloudError):
    """The body exceeds the configured cap."""

    status_code = 413
    code = "payload_too_large"


class ServiceUnavailableError(CloudError):
    """A dependency (the database) is not ready."""

    status_code = 503
    code = "unavailable"


class OAuthProtocolError(Exception):
    """An RFC 6749 §5.2 / RFC 8628 §3.5 error, rendered as ``shared.sync.OAuthError``."""

    def __init__(
        self,
        error: str,
        description: str | None = None,
        *,
        status_code: int = 400,
        keep_changes: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.body = OAuthError.model_validate({"error": error, "error_description": description})
        self.status_code = status_code
        self.keep_changes = keep_changes
        self.headers = headers or {}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Render the shared error body."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=headers or None)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers so every error leaves in the ``ErrorBody`` shape."""

    async def on_cloud_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, CloudError)
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    async def on_oauth_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthProtocolError)
        return JSONResponse(
            exc.body.model_dump(exclude_none=True),
            status_code=exc.status_code,
            headers={**exc.headers, "Cache-Control": "no-store"},
        )

    async def on_validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type")}
            for err in exc.errors()
        ]
        return error_response(422, "validation_error", "the request is not valid", errors)

    async def on_http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(
            exc.status_code, code, message, headers=dict(exc.headers) if exc.headers else None
        )

    async def on_data_error(_: Request, exc: Exception) -> Response:
        # PostgreSQL refused a value the schemas let through (a NUL character, a string longer
        # than its column): the client's input, not a server fault. No values in the log.
        orig = getattr(exc, "orig", None)
        _log.warning("value_refused_by_database", error_type=type(orig or exc).__name__)
        return error_response(
            422, "invalid_value", "a value in the request cannot be stored (NUL or too long)"
        )

    async def on_unexpected(_: Request, exc: Exception) -> Response:
        _log.exception("unhandled_error", error_type=type(exc).__name__)
        return error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(CloudError, on_cloud_error)
    app.add_exception_handler(OAuthProtocolError, on_oauth_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(DriverDataError, on_data_error)  # raw-connection paths (COPY)
    app.add_exception_handler(Exception, on_unexpected)
