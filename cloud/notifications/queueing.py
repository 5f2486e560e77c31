"""The one way notification events are queued: a durable delivery job per event and per
channel its owner receives, deferred in the caller's transaction (so an alert and its
deliveries commit together). Callers in Python use ``notify``; SQL that opens or resolves
alerts inside one statement (the ingest path) embeds ``defer_events_sql``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import psycopg

from cloud.jobs.queue import QUEUE, task_name
from cloud.notifications.channels import CHANNEL_TYPES

DELIVER_TASK: Final = task_name("deliver_notification")


class Event(NamedTuple):
    """Something to tell an owner: ``event`` ("alert.opened") about ``subject_id``."""

    subject_id: uuid.UUID
    owner_id: uuid.UUID
    event: str


def defer_events_sql(events: str, only: str | None = None) -> str:
    """A SELECT deferring the delivery jobs of ``events``: SQL yielding rows of
    (subject id uuid, owner id uuid, event text), e.g. ``SELECT id, owner_id, 'alert.resolved'
    FROM resolved``, on every channel (or the one named ``only``). Its one column is the array
    of the new job ids."""
    wanted = ", ".join(
        f"('{channel.name}', {channel.recipients_sql})"
        for channel in CHANNEL_TYPES
        if only is None or channel.name == only
    )
    # The event id is drawn once per event: every channel's delivery carries the same one.
    return f"""
    SELECT procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW('{QUEUE}', '{DELIVER_TASK}', 0, NULL, NULL,
                   jsonb_build_object('channel', c.channel, 'subject_id', e.subject_id,
                                      'event', e.event, 'event_id', e.event_id, 'at', now()),
                   NULL)::procrastinate_job_to_defer_v1
        FROM (SELECT s.subject_id, s.owner_id, s.event, gen_random_uuid() AS event_id
              FROM ({events}) AS s(subject_id, owner_id, event)) AS e
        CROSS JOIN LATERAL (VALUES {wanted}) AS c(channel, wanted)
        WHERE c.wanted
    )) AS jobs"""


_NOTIFY: Final = defer_events_sql(
    "SELECT * FROM unnest(%(subject_ids)s::uuid[], %(owner_ids)s::uuid[], %(events)s::text[])"
)


async def notify(conn: psycopg.AsyncConnection[Any], events: Sequence[Event]) -> None:
    """Queue the deliveries of ``events`` in ``conn``'s transaction (nothing for owners who
    receive no channel: one cheap statement, none at all without events)."""
    if not events:
        return
    subject_ids, owner_ids, names = zip(*events, strict=True)
    await conn.execute(
        _NOTIFY,
        {"subject_ids": list(subject_ids), "owner_ids": list(owner_ids), "events": list(names)},
    )
