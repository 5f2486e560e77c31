"""Notification routes for the signed-in user: the optional signed webhook alert events are
POSTed to (under /alerts/webhook, where it has always been), Web Push subscriptions and the
per-event, per-channel preferences."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from cloud.auth.dependencies import CurrentUser
from cloud.conventions import CREATED_RESPONSES, created_at
from cloud.db.session import SessionDep
from cloud.dependencies import EgressDep, SettingsDep
from cloud.notifications import service
from cloud.notifications.schemas import (
    Preferences,
    PreferencesUpdate,
    PushKey,
    PushSubscriptionIn,
    PushSubscriptionPublic,
    WebhookIn,
    WebhookPublic,
    WebhookWithSecret,
)
from cloud.pagination import LIST_RESPONSES, PageDep, respond
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


@router.get("/notifications/push/key", response_model=PushKey, tags=["notifications"])
async def push_key(request: Request) -> PushKey:
    """The server's VAPID public key to subscribe with (404 when Web Push is off)."""
    return service.push_key(request.app.state.vapid)


@router.get(
    "/notifications/push/subscriptions",
    response_model=list[PushSubscriptionPublic],
    tags=["notifications"],
    responses=LIST_RESPONSES,
)
async def list_push(
    request: Request, response: Response, user: CurrentUser, session: SessionDep, page: PageDep
) -> list[PushSubscriptionPublic]:
    """Your browsers subscribed to Web Push, oldest first (a page: see Pagination)."""
    return respond(request, response, await service.list_push(session, user.id, page))


@router.post(
    "/notifications/push/subscriptions",
    response_model=PushSubscriptionPublic,
    status_code=201,
    tags=["notifications"],
    responses=CREATED_RESPONSES,
)
async def subscribe_push(
    body: PushSubscriptionIn,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    egress: EgressDep,
) -> PushSubscriptionPublic:
    """Subscribe this browser (its ``PushSubscription`` as JSON) to your notifications;
    ``Location`` is the subscription (DELETE it to unsubscribe)."""
    subscription = await service.subscribe_push(
        session, settings, egress, user.id, body, request.headers.get("user-agent")
    )
    created_at(response, f"{API_PREFIX}/notifications/push/subscriptions/{subscription.id}")
    return subscription


@router.delete(
    "/notifications/push/subscriptions/{subscription_id}", status_code=204, tags=["notifications"]
)
async def unsubscribe_push(
    subscription_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """Stop pushing to one of your browsers."""
    await service.unsubscribe_push(session, user.id, subscription_id)
    return Response(status_code=204)


@router.get("/notifications/preferences", response_model=Preferences, tags=["notifications"])
async def get_preferences(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Preferences:
    """Which events reach you on which channel (and which channels this server offers)."""
    return await service.get_preferences(session, settings, request.app.state.vapid, user.id)


@router.put("/notifications/preferences", response_model=Preferences, tags=["notifications"])
async def put_preferences(
    body: PreferencesUpdate,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Preferences:
    """Turn events on or off per channel."""
    return await service.set_preferences(session, settings, request.app.state.vapid, user.id, body)
