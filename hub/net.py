"""The hub's HTTP server settings and a connection guard for uvicorn's h11 protocol.

Anyone on the LAN could take the UI down: 1,100 idle TCP connections used up the service's
1,024 file handles, and a connection that never sends a byte was never closed (uvicorn times
out only keep-alive connections after a response). The guard closes a connection whose request
headers are not complete within ``header_timeout_s`` of it opening (or of its previous
response), so idle and slow-header (slowloris) connections go within seconds; and it keeps at
most ``max_connections``: a new connection evicts the oldest one that is waiting for a request,
so a real client always gets in, however many idle ones there are. The systemd unit raises
``LimitNOFILE`` well above that bound.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.settings import HubSettings


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-header deadline and a connection bound."""

    header_timeout_s: float = 5.0
    max_connections: int = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Arm the header deadline, then make room by closing the oldest waiting connections."""
        super().connection_made(transport)
        self._arm_deadline()
        excess = len(self.connections) - self.max_connections
        if excess > 0:
            waiting = sorted(
                (
                    c
                    for c in self.connections
                    if isinstance(c, GuardedH11Protocol) and c is not self
                ),
                key=lambda c: c._waiting_since,
            )
            for other in [c for c in waiting if c._waiting_for_request()][:excess]:
                other._close("connection bound reached")

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._disarm_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        """After h11 parsed what arrived: headers complete disarm the deadline; a connection
        waiting for its next request (keep-alive, bytes trickling in) gets one."""
        super().handle_events()
        if self._waiting_for_request():
            if self._header_deadline is None and not self.transport.is_closing():
                self._arm_deadline()
        else:
            self._disarm_deadline()

    def on_response_complete(self) -> None:
        """The next request's headers are due within the deadline too (uvicorn's keep-alive
        timeout covers only a connection that sends nothing at all)."""
        super().on_response_complete()
        self._disarm_deadline()
        if self._waiting_for_request() and not self.transport.is_closing():
            self._arm_deadline()

    def _waiting_for_request(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._waiting_since = self.loop.time()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _deadline_passed(self) -> None:
        self._header_deadline = None
        if self._waiting_for_request():
            self._close("no complete request in time")

    def _close(self, _why: str) -> None:
        self._disarm_deadline()
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(settings: HubSettings) -> type[GuardedH11Protocol]:
    """The guard class with the hub's bounds (uvicorn takes a protocol class, not an instance)."""
    return type(
        "HubH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout_s": settings.http_header_timeout_s,
            "max_connections": settings.http_max_connections,
        },
    )


def uvicorn_options(settings: HubSettings) -> dict[str, Any]:
    """``uvicorn.run``/``Config`` keyword arguments for the hub's LAN server."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "http": guarded_protocol(settings),
        "timeout_keep_alive": min(5, int(settings.http_header_timeout_s)) or 1,
        # uvicorn answers 503 once this many connections or requests are open; the guard keeps
        # connections below it, so only real concurrent requests can reach it.
        "limit_concurrency": settings.http_max_connections + 16,
        "backlog": 2048,
        "h11_max_incomplete_event_size": 16 * 1024,  # request line and headers
    }
