"""API models for sync status and linking."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LedgerEntry(BaseModel):
    """What happened last for one kind of data."""

    kind: str
    pending: int
    rejected: int
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    items_sent: int
    bytes_sent: int


class ScheduledJobStatus(BaseModel):
    """One scheduled job (sync, alert checks, disk budget) as the ledger shows it."""

    id: str
    interval_s: float
    runs: int
    failures: int
    skipped: int  # due while the previous run was still going
    running: bool
    running_for_s: float
    late_by_s: float  # past its due time without having started
    next_run_in_s: float
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_duration_s: float | None
    last_error: str | None
    problem: str | None  # late or hung: what ``/readyz`` reports


class ClockStatus(BaseModel):
    """The wall clock as the scheduler saw it: jobs follow elapsed time, steps are counted."""

    now: datetime
    steps: int
    last_step_at: datetime | None
    last_step_s: float | None  # positive: the clock jumped forward


class SyncStatus(BaseModel):
    """The sync ledger and engine state."""

    linked: bool
    cloud_url: str | None
    hub_id: str | None
    running: bool
    backoff_s: float
    last_run_at: datetime | None
    oldest_pending_reading_at: datetime | None
    ledger: list[LedgerEntry]
    schedule: list[ScheduledJobStatus]
    clock: ClockStatus


class SyncRunResult(BaseModel):
    """What a "sync now" did."""

    sent: dict[str, int]
    rejected: dict[str, int]
    bytes_sent: int
    error: str | None
    skipped: str | None


class LinkStart(BaseModel):
    """Start linking; the cloud URL defaults to the configured one."""

    model_config = ConfigDict(extra="forbid")

    # An http(s) URL with no spaces or control characters: anything else is the user's typo
    # (a 422), not an unreachable cloud (502).
    cloud_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*$",
    )


class PendingLinkPublic(BaseModel):
    """The code to show the user."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: datetime
    interval: int


class LinkStatus(BaseModel):
    """Whether the hub is linked, and the pending code if a link is in progress."""

    linked: bool
    cloud_url: str | None
    hub_id: str | None
    pending: PendingLinkPublic | None


class RejectedRow(BaseModel):
    """A row the cloud refused, kept on the hub with the reason."""

    kind: str
    id: str
    node_mac: str | None
    at: datetime | None
    reason: str
