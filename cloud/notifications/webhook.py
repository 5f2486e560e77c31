"""The signed webhook channel: events POSTed as JSON, signed with the owner's secret
(``signing``), to a URL on the public internet (vetted again at every connection)."""

from __future__ import annotations

import time
from typing import ClassVar

import httpx
import pydantic_core
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.egress import refused_by_egress
from cloud.notifications import repository, signing
from cloud.notifications.ports import ChannelResources, Notice, Outcome, Undelivered
from cloud.notifications.preferences import wanted_sql

_log = structlog.get_logger("cloud.notifications")

# What the owner sees when no HTTP answer came back: one text for a refused address, a closed
# port, a timeout and a TLS failure alike, so the status page cannot map anyone's network.
UNREACHABLE = "the receiver could not be reached"
WEBHOOK_TIMEOUT_S = 10.0


def body_of(notice: Notice) -> bytes:
    """The JSON body: delivery id, event type, when, and the subject's public form."""
    return pydantic_core.to_json(
        {
            "id": notice.event_id,
            "type": notice.event,
            "created_at": notice.at,
            notice.subject.kind: notice.subject.payload,
        }
    )


async def _post(
    http: httpx.AsyncClient, url: str, secret: str, event: str, event_id: str, body: bytes
) -> int:
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Plant-Vita-Webhook/1",
        signing.EVENT_HEADER: event,
        signing.DELIVERY_HEADER: event_id,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
    }
    try:
        # Streamed and never read: a receiver's body is not ours to download.
        async with http.stream(
            "POST", url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S
        ) as response:
            status = response.status_code
    except httpx.HTTPError as exc:
        refused = refused_by_egress(exc)
        # The log keeps the cause for operators; the owner sees one text whatever it was.
        _log.info(
            "webhook_unreachable",
            cause=refused.reason if refused else type(exc).__name__,
        )
        raise Undelivered(UNREACHABLE, retry=True) from exc
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise Undelivered(f"HTTP {status} (redirects are not followed)", status, retry=False)
    retry = status >= 500 or status in (408, 429)
    raise Undelivered(f"HTTP {status}", status, retry=retry)


class WebhookChannel:
    """POST each event to the owner's webhook: any 2xx is delivered; 5xx, 408, 429, timeouts
    and connection errors are retried; other answers and redirects give up."""

    name: ClassVar[str] = "webhook"
    default_on: ClassVar[bool] = True
    recipients_sql: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM alert_webhooks AS w WHERE w.owner_id = e.owner_id) AND "
        + wanted_sql("webhook", default=True)
    )
    max_attempts: ClassVar[int] = 6
    backoff_base_s: ClassVar[float] = 10.0
    backoff_max_s: ClassVar[float] = 600.0

    def __init__(self, resources: ChannelResources) -> None:
        self._engine = resources.engine
        self._egress = resources.egress
        self._http = resources.http

    async def send(self, notice: Notice) -> int | None:
        """One signed POST; ``LookupError`` when the webhook was cleared since."""
        async with AsyncSession(self._engine) as session:
            hook = await repository.webhook_of(session, notice.subject.owner_id)
            if hook is None:
                raise LookupError("the webhook was cleared")
            url, secret = hook.url, hook.secret
        body = body_of(notice)
        event_id = str(notice.event_id)
        if self._http is not None:
            return await _post(self._http, url, secret, notice.event, event_id, body)
        async with self._egress.client(WEBHOOK_TIMEOUT_S) as own:
            return await _post(own, url, secret, notice.event, event_id, body)

    async def record(self, notice: Notice, outcome: Outcome) -> None:
        """The last delivery, shown by ``GET /alerts/webhook``."""
        async with AsyncSession(self._engine) as session, session.begin():
            await repository.record_delivery(
                session,
                notice.subject.owner_id,
                event_id=notice.event_id,
                event=notice.event,
                status=outcome.status,
                http_status=outcome.http_status,
                error=outcome.error,
                attempts=outcome.attempt,
                at=outcome.at,
            )
