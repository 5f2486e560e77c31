"""Hub domain errors: each carries its HTTP status and a stable code; one handler renders them."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every error the hub's API reports to a client."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self, message: str, *, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class BadRequest(HubError):
    """The request is well-formed but cannot be applied."""

    status_code = 400
    code = "bad_request"


class Unauthorized(HubError):
    """No or wrong admin credentials."""

    status_code = 401
    code = "unauthorized"


class RateLimited(HubError):
    """Too many wrong admin passwords from this address; ``Retry-After`` says when to retry."""

    status_code = 429
    code = "rate_limited"


class NotFound(HubError):
    """The thing asked for does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(HubError):
    """The change clashes with the current state."""

    status_code = 409
    code = "conflict"


class ImageTooLarge(HubError):
    """The upload exceeds the configured size limit."""

    status_code = 413
    code = "image_too_large"


class UnsupportedImage(HubError):
    """Not a JPEG or PNG."""

    status_code = 415
    code = "unsupported_image"


class InvalidImage(HubError):
    """A JPEG/PNG that cannot be decoded (e.g. truncated)."""

    status_code = 422
    code = "invalid_image"


class Unavailable(HubError):
    """A dependency (gateway, cloud) is not available right now."""

    status_code = 503
    code = "unavailable"
