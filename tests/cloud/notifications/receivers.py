"""Real receivers for notification tests: a Web Push endpoint that decrypts what it gets with
the subscription's private keys (RFC 8291 aes128gcm, ``http_ece``) and checks the VAPID
signature (RFC 8292), and an SMTP server (``aiosmtpd``) that keeps every message."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import http_ece
import jwt
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.cloud.app.site import serve
from tests.hub.loopback import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class PushedMessage:
    """One message as the browser would see it after decryption, and how it came."""

    payload: dict[str, Any]
    headers: dict[str, str]
    vapid_claims: dict[str, Any]


@dataclass
class PushService:
    """A push service with one browser subscribed: it decrypts with that browser's keys."""

    url: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    received: list[PushedMessage] = field(default_factory=list)
    answer_status: int = 201  # what the service answers (tests switch it to 410, 500, …)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/push/browser-1"

    def subscription(self) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives the app."""
        point = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth_secret)},
        }

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        auth = request.headers.get("authorization", "")
        assert auth.startswith("vapid "), auth
        parts = dict(item.strip().split("=", 1) for item in auth[len("vapid ") :].split(","))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
        claims = jwt.decode(
            parts["t"],
            public,
            algorithms=["ES256"],
            audience=self.url,
            options={"require": ["exp"]},
        )
        assert request.headers.get("content-encoding") == "aes128gcm"
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        with self.lock:
            self.received.append(PushedMessage(json.loads(plain), dict(request.headers), claims))
        return Response(status_code=self.answer_status)


@contextmanager
def push_service() -> Iterator[PushService]:
    """The push service on loopback, with a fresh browser key pair and auth secret."""
    holder: dict[str, PushService] = {}

    async def endpoint(request: Request) -> Response:
        return await holder["service"].receive(request)

    app = Starlette(routes=[Route("/push/{browser}", endpoint, methods=["POST"])])
    with serve(lambda _url: app) as url:
        holder["service"] = PushService(
            url, ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        )
        yield holder["service"]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@dataclass
class MailServer:
    """A real SMTP server on loopback and what it received."""

    host: str
    port: int
    inbox: _Inbox


@contextmanager
def smtp_server() -> Iterator[MailServer]:
    """aiosmtpd on a free loopback port."""
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()
