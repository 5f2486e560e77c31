"""Sync status, "sync now", and the cloud link (device flow)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from hub.auth.dependencies import AdminDep
from hub.dependencies import ReadSessionDep
from hub.sync import status
from hub.sync.link import LinkManager
from hub.sync.schemas import (
    LinkStart,
    LinkStatus,
    PendingLinkPublic,
    RejectedRow,
    SyncRunResult,
    SyncStatus,
)
from hub.sync.service import SyncEngine

router = APIRouter(prefix="/api/v1", tags=["sync"])


def get_sync(request: Request) -> SyncEngine:
    """The sync engine."""
    engine: SyncEngine = request.app.state.sync
    return engine


SyncDep = Annotated[SyncEngine, Depends(get_sync)]


def get_link(request: Request) -> LinkManager:
    """The link manager built in the lifespan."""
    manager: LinkManager = request.app.state.link
    return manager


LinkDep = Annotated[LinkManager, Depends(get_link)]


@router.get("/sync/status", response_model=SyncStatus)
async def sync_status(request: Request, session: ReadSessionDep, engine: SyncDep) -> SyncStatus:
    """Pending counts per kind, last success, last error, bytes sent; scheduled jobs, clock."""
    return await status.status_of(session, engine, request.app.state.scheduler)


@router.get("/sync/rejected", response_model=list[RejectedRow])
async def rejected(
    session: ReadSessionDep,
    kind: Literal["readings", "alerts", "nodes", "images", "plant_edits"] = "readings",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RejectedRow]:
    """Rows the cloud refused, newest first, with the cloud's reason (kept, never dropped)."""
    return await status.rejected(session, kind, limit)


@router.post("/sync/now", response_model=SyncRunResult)
async def sync_now(engine: SyncDep, _admin: AdminDep) -> SyncRunResult:
    """Run a sync pass now, ignoring the backoff."""
    report = await engine.run(force=True)
    return SyncRunResult(
        sent=report.sent,
        rejected=report.rejected,
        bytes_sent=report.bytes_sent,
        error=report.error,
        skipped=report.skipped,
    )


async def _link_status(engine: SyncEngine, link: LinkManager) -> LinkStatus:
    url, token, hub_id = await engine.link_state()
    pending = link.pending
    return LinkStatus(
        linked=bool(url and token),
        cloud_url=url,
        hub_id=hub_id,
        pending=PendingLinkPublic(
            user_code=pending.user_code,
            verification_uri=pending.verification_uri,
            verification_uri_complete=pending.verification_uri_complete,
            expires_at=datetime.fromtimestamp(pending.expires_at, UTC),
            interval=pending.interval,
        )
        if pending
        else None,
    )


@router.get("/link", response_model=LinkStatus)
async def link_status(engine: SyncDep, link: LinkDep) -> LinkStatus:
    """Linked or not; the code to show while a link is in progress."""
    return await _link_status(engine, link)


@router.post("/link/start", response_model=LinkStatus)
async def link_start(data: LinkStart, engine: SyncDep, link: LinkDep, _a: AdminDep) -> LinkStatus:
    """Start the device flow; show the returned user code to the gardener."""
    await link.start(data.cloud_url)
    return await _link_status(engine, link)


@router.post("/link/poll", response_model=LinkStatus)
async def link_poll(engine: SyncDep, link: LinkDep, _a: AdminDep) -> LinkStatus:
    """Poll once (respect ``pending.interval``); ``linked`` turns true once approved."""
    await link.poll()
    return await _link_status(engine, link)


@router.delete("/link", response_model=LinkStatus)
async def unlink(engine: SyncDep, link: LinkDep, _a: AdminDep) -> LinkStatus:
    """Forget the hub token."""
    await link.unlink()
    return await _link_status(engine, link)
