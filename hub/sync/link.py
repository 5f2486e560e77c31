"""Linking the hub to a cloud account with the OAuth 2.0 device flow (RFC 8628)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadRequest, Conflict
from hub.store import kv
from hub.store.database import Database
from hub.sync.client import CloudClient, LinkPending


@dataclass(slots=True)
class PendingLink:
    """A started device flow waiting for the user to approve the code."""

    cloud_url: str
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float  # wall clock
    interval: int


class LinkManager:
    """Holds the pending device flow; stores the hub token once approved."""

    def __init__(self, store: Database, client_factory: Callable[[str, str | None], CloudClient]):
        self.store = store
        self._client_factory = client_factory
        self.pending: PendingLink | None = None

    async def start(self, cloud_url: str | None) -> PendingLink:
        """Ask the cloud for a user code to show."""
        url = cloud_url or self.store.settings.cloud_url
        if not url:
            raise BadRequest("no cloud URL: pass one or set PLANTVITA_HUB_CLOUD_URL")
        client = self._client_factory(url, None)
        auth = await client.device_code(self.store.settings.hub_name)
        self.pending = PendingLink(
            cloud_url=url,
            device_code=auth.device_code,
            user_code=auth.user_code,
            verification_uri=auth.verification_uri,
            verification_uri_complete=auth.verification_uri_complete,
            expires_at=time.time() + auth.expires_in,
            interval=auth.interval,
        )
        return self.pending

    async def poll(self) -> bool:
        """One token poll: True once linked, False while the user has not approved yet."""
        pending = self.pending
        if pending is None:
            raise Conflict("no link in progress: start one first")
        if time.time() > pending.expires_at:
            self.pending = None
            raise Conflict("the code expired: start again")
        client = self._client_factory(pending.cloud_url, None)
        try:
            token = await client.device_token(pending.device_code)
        except LinkPending as exc:
            if exc.slow_down:
                pending.interval += 5
            return False

        async def op(session: AsyncSession) -> None:
            await kv.put(session, kv.HUB_TOKEN, token.access_token)
            await kv.put(session, kv.HUB_ID, str(token.hub_id))
            await kv.put(session, kv.CLOUD_URL, pending.cloud_url)
            await kv.put(session, kv.CONFIG_REVISION, None)

        await self.store.write(op)
        self.pending = None
        return True

    async def unlink(self) -> None:
        """Forget the hub token (local plants become editable again)."""

        async def op(session: AsyncSession) -> None:
            await kv.put(session, kv.HUB_TOKEN, None)
            await kv.put(session, kv.CONFIG_REVISION, None)

        await self.store.write(op)
