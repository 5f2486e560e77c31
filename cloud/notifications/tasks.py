"""The delivery job: one event on one channel, retried with the channel's backoff while the
receiver may still accept it. Registered on the worker's app by ``cloud.worker``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, cast

import procrastinate
from sqlalchemy.ext.asyncio import AsyncEngine

from cloud.jobs.queue import QUEUE, QueueRetryStrategy, RetryLater, task_name
from cloud.notifications.ports import Channel, SubjectLoader
from cloud.notifications.queueing import DELIVER_TASK
from cloud.notifications.service import deliver

DEPS_KEY = "deps"  # where cloud.worker puts the worker's dependencies in the job context
# Jobs queued before the channel interface existed (webhook only, the alert as subject).
LEGACY_WEBHOOK_TASK = task_name("deliver_alert_webhook")


class NotificationDeps(Protocol):
    """What delivery needs (``cloud.worker.WorkerDeps`` provides it)."""

    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def channels(self) -> Mapping[str, Channel]: ...
    @property
    def subjects(self) -> Mapping[str, SubjectLoader]: ...


async def deliver_notification(
    context: procrastinate.JobContext,
    channel: str,
    subject_id: str,
    event: str,
    event_id: str,
    at: str,
) -> str:
    """Deliver one event on one channel; raises ``RetryLater`` while it should be retried."""
    deps = cast(NotificationDeps, context.additional_context[DEPS_KEY])
    attempt = (context.job.attempts if context.job else 0) + 1
    retry_at = await deliver(
        deps.engine,
        deps.channels,
        deps.subjects,
        channel=channel,
        subject_id=uuid.UUID(subject_id),
        event=event,
        event_id=uuid.UUID(event_id),
        event_at=datetime.fromisoformat(at),
        attempt=attempt,
    )
    if retry_at is not None:
        raise RetryLater(retry_at, f"{channel} delivery failed")
    return "done"


async def deliver_alert_webhook(
    context: procrastinate.JobContext, alert_id: str, event: str, event_id: str, at: str
) -> str:
    """A job queued by an earlier release: the same delivery on the webhook channel."""
    return await deliver_notification(context, "webhook", alert_id, event, event_id, at)


def register_tasks(app: procrastinate.App) -> None:
    """Register the delivery task (and the earlier release's name for it) on ``app``."""
    for name, task in (
        (DELIVER_TASK, deliver_notification),
        (LEGACY_WEBHOOK_TASK, deliver_alert_webhook),
    ):
        app.task(name=name, queue=QUEUE, pass_context=True, retry=QueueRetryStrategy())(task)
