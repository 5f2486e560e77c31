"""The Web Push channel: each event encrypted for every browser the owner subscribed
(RFC 8291 aes128gcm, via pywebpush), signed with the server's VAPID key (RFC 8292, py_vapid)
and POSTed to the browser vendor's push service (RFC 8030) through the vetting egress client.
A subscription the push service says is gone (404/410) is deleted."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
from pywebpush import WebPusher
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.notifications import repository
from cloud.notifications.links import app_path
from cloud.notifications.models import PushSubscription
from cloud.notifications.ports import ChannelResources, Notice, Outcome, Undelivered
from cloud.notifications.preferences import wanted_sql

PUSH_TIMEOUT_S = 10.0
UNREACHABLE = "the push service could not be reached"


def push_body(notice: Notice) -> bytes:
    """What the service worker shows: title, text, the page to open, the event."""
    return json.dumps(
        {
            "title": notice.subject.title,
            "body": notice.subject.text,
            "url": app_path(notice.subject),
            "event": notice.event,
            "id": str(notice.event_id),
        }
    ).encode()


class PushChannel:
    """Web Push to each of the owner's subscribed browsers; 5xx, 429 and unreachable push
    services are retried (browsers that already got the event are skipped)."""

    name: ClassVar[str] = "push"
    default_on: ClassVar[bool] = True
    recipients_sql: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM push_subscriptions AS s WHERE s.owner_id = e.owner_id) AND "
        + wanted_sql("push", default=True)
    )
    max_attempts: ClassVar[int] = 6
    backoff_base_s: ClassVar[float] = 10.0
    backoff_max_s: ClassVar[float] = 600.0

    def __init__(self, resources: ChannelResources) -> None:
        self._engine = resources.engine
        self._egress = resources.egress
        self._http = resources.http
        self._vapid = resources.vapid
        self._ttl = resources.settings.push_ttl_s if resources.settings else 86_400
        self._subject = (
            resources.settings.vapid_subject if resources.settings else "mailto:admin@localhost"
        )

    def _request(self, sub: PushSubscription, body: bytes) -> tuple[bytes, dict[str, str]]:
        assert self._vapid is not None
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        encrypted = WebPusher(info).encode(body, "aes128gcm")["body"]
        parts = urlsplit(sub.endpoint)
        claims = {
            "sub": self._subject,
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(time.time()) + 12 * 3600,
        }
        headers = {
            "TTL": str(self._ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": "normal",
            **{k: str(v) for k, v in self._vapid.sign(claims).items()},
        }
        return encrypted, headers

    async def _post(self, http: httpx.AsyncClient, sub: PushSubscription, body: bytes) -> int:
        content, headers = self._request(sub, body)
        try:
            response = await http.post(
                sub.endpoint, content=content, headers=headers, timeout=PUSH_TIMEOUT_S
            )
        except httpx.HTTPError as exc:
            raise Undelivered(UNREACHABLE, retry=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        retry = status >= 500 or status == 429
        raise Undelivered(f"HTTP {status}", status, retry=retry)

    async def _send_all(self, http: httpx.AsyncClient, notice: Notice) -> int | None:
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            subs = await repository.push_subscriptions_of(session, notice.subject.owner_id)
        if not subs:
            raise LookupError("no browser is subscribed")
        body = push_body(notice)
        failures: list[Undelivered] = []
        delivered: int | None = None
        for sub in subs:
            if sub.last_event_id == notice.event_id and sub.last_status == "delivered":
                continue
            status = "delivered"
            error: str | None = None
            try:
                delivered = await self._post(http, sub, body)
            except Undelivered as failure:
                status, error = "failed", failure.error
                if failure.http_status in (404, 410):
                    await self._forget(sub.id)
                    continue
                failures.append(failure)
            await self._note(sub.id, notice.event_id, status, error)
        if failures:
            first = failures[0]
            raise Undelivered(first.error, first.http_status, retry=any(f.retry for f in failures))
        return delivered

    async def _note(
        self, sub_id: uuid.UUID, event_id: uuid.UUID, status: str, error: str | None
    ) -> None:
        async with AsyncSession(self._engine) as session, session.begin():
            await repository.record_push(
                session, sub_id, event_id, status, error, datetime.now(UTC)
            )

    async def _forget(self, sub_id: uuid.UUID) -> None:
        async with AsyncSession(self._engine) as session, session.begin():
            await repository.delete_push_subscription(session, sub_id)

    async def send(self, notice: Notice) -> int | None:
        """Push to every subscribed browser; ``LookupError`` when none is (or no VAPID key)."""
        if self._vapid is None:
            raise LookupError("Web Push is not configured")
        if self._http is not None:
            return await self._send_all(self._http, notice)
        async with self._egress.client(PUSH_TIMEOUT_S) as own:
            return await self._send_all(own, notice)

    async def record(self, notice: Notice, outcome: Outcome) -> None:
        """Nothing more: each subscription's outcome was kept as it was sent."""
