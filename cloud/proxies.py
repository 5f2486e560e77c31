"""Who is calling: the client address behind configured proxies, and nothing a caller can forge.

``X-Forwarded-For`` is a list every proxy appends to; whatever the client wrote comes first.
The client is therefore the rightmost address that no trusted proxy added: walking from the
right, skip trusted proxies and stop at the first address that is not one. Headers from a peer
that is not a trusted proxy are ignored entirely (the default, with no proxies configured).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``10.0.0.1``, ``169.254.0.0/16``, ``::1`` as networks (a ValueError names a bad one)."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The caller's address: ``peer`` unless it is a trusted proxy, else the rightmost
    ``X-Forwarded-For`` entry no trusted proxy added (garbage stops the walk: it is the
    client's own text, so the proxy nearest to it is the last address we can vouch for)."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    current = peer
    for entry in reversed(forwarded_for.split(",")):
        parsed = _address(entry)
        if parsed is None:
            return current
        current = str(parsed)
        if not any(parsed in network for network in trusted):
            return current
    return current


class ForwardedHeadersMiddleware:
    """Pure ASGI: rewrite the scope's client (and scheme, from ``X-Forwarded-Proto``) when the
    peer is a trusted proxy, so every ``request.client`` in the app is the real caller."""

    def __init__(self, app: ASGIApp, trusted: Sequence[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client"):
            peer = scope["client"][0]
            if _trusted(peer, self.trusted):
                forwarded_for = proto = None
                for name, value in scope.get("headers", []):
                    if name == b"x-forwarded-for":
                        # Repeated headers are one list, in order (RFC 9110 §5.3).
                        text = value.decode("latin-1")
                        forwarded_for = f"{forwarded_for},{text}" if forwarded_for else text
                    elif name == b"x-forwarded-proto":
                        proto = value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
                scope = dict(scope)
                scope["client"] = (client_address(peer, forwarded_for, self.trusted), 0)
                if proto in ("http", "https"):
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
