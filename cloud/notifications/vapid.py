"""The application server's VAPID key (RFC 8292): from the settings, or generated once in
development and kept in a file so browsers' subscriptions survive restarts."""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING

import structlog
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid

from cloud.settings.notifications import NotificationSettings

if TYPE_CHECKING:
    from cloud.settings import CloudSettings

_log = structlog.get_logger("cloud.notifications")


class VapidUnavailable(RuntimeError):
    """No VAPID key is configured (production needs ``PLANTVITA_CLOUD_VAPID_PRIVATE_KEY``)."""


def load_vapid(settings: NotificationSettings, *, generate: bool) -> Vapid:
    """The configured key, else the key file's, else (``generate``) a new one written there."""
    if settings.vapid_private_key:
        raw = settings.vapid_private_key.strip()
        if raw.startswith("-----BEGIN"):
            return Vapid.from_pem(raw.encode())
        return Vapid.from_string(private_key=raw)
    path = settings.vapid_key_file
    if path.exists():
        return Vapid.from_pem(path.read_bytes())
    if not generate:
        raise VapidUnavailable("no VAPID key: set PLANTVITA_CLOUD_VAPID_PRIVATE_KEY")
    vapid = Vapid()
    vapid.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and linked into place: two processes starting at once agree on one key.
    spare = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(vapid.private_pem())
    try:
        os.link(spare, path)
    except FileExistsError:
        pass
    finally:
        spare.unlink()
    return Vapid.from_pem(path.read_bytes())


def application_server_key(vapid: Vapid) -> str:
    """The public key browsers subscribe with (``applicationServerKey``), base64url."""
    point = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def vapid_or_none(settings: CloudSettings) -> Vapid | None:
    """The key for this process: generated in development when none is set; None (no push,
    said once in the log) in production without one."""
    try:
        from cloud.settings import Environment

        return load_vapid(settings, generate=settings.environment is Environment.DEVELOPMENT)
    except VapidUnavailable:
        _log.warning("web_push_disabled", reason="PLANTVITA_CLOUD_VAPID_PRIVATE_KEY is not set")
        return None
