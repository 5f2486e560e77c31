"""Notification routes for the signed-in user: the optional signed webhook alert events are
POSTed to (under /alerts/webhook, where it has always been)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cloud.auth.dependencies import CurrentUser
from cloud.db.session import SessionDep
from cloud.dependencies import EgressDep, SettingsDep
from cloud.notifications import service
from cloud.notifications.schemas import WebhookIn, WebhookPublic, WebhookWithSecret
from shared.sync import API_PREFIX

# Included before the alerts router, so "webhook" is not taken for an alert id.
router = APIRouter(prefix=API_PREFIX, tags=["alerts"])


@router.get("/alerts/webhook", response_model=WebhookPublic)
async def get_webhook(user: CurrentUser, session: SessionDep) -> WebhookPublic:
    """Your alert webhook and how its last delivery went (404 when none is set)."""
    return await service.get_webhook(session, user.id)


@router.put(
    "/alerts/webhook",
    response_model=WebhookWithSecret | WebhookPublic,
    responses={200: {"description": "the webhook; ``secret`` only when it was just made"}},
)
async def put_webhook(
    body: WebhookIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    egress: EgressDep,
) -> WebhookPublic | WebhookWithSecret:
    """Set where alert events are POSTed (https to a public host; every address the name
    resolves to must be public). A new webhook's signing secret is shown once."""
    return await service.set_webhook(session, settings, egress, user.id, body)


@router.post("/alerts/webhook/rotate-secret", response_model=WebhookWithSecret)
async def rotate_webhook_secret(user: CurrentUser, session: SessionDep) -> WebhookWithSecret:
    """Make a new signing secret (shown once); the old one stops working now."""
    return await service.rotate_webhook_secret(session, user.id)


@router.delete("/alerts/webhook", status_code=204)
async def delete_webhook(user: CurrentUser, session: SessionDep) -> Response:
    """Stop sending alert events (404 when none is set)."""
    await service.clear_webhook(session, user.id)
    return Response(status_code=204)
