"""Outbound HTTP to addresses users chose (webhooks, push endpoints), without SSRF.

A user-supplied URL may name the cloud's own network: a loopback or private address, the
metadata server (169.254.169.254, ``metadata.google.internal``), a numeric host in one of the
forms ``inet_aton`` accepts (``2130706433``, ``127.1``, ``0x7f000001``, ``0177.0.0.1``) or a
public name whose DNS answer points inside. ``Egress`` refuses all of them:

- ``vet_url`` resolves the host and refuses it when *any* address is not public (at save time);
- ``client()`` gives an httpx client whose connections resolve and vet the host again and dial
  exactly the vetted address (no DNS-rebinding window between check and connect), keeping the
  name for the ``Host`` header, SNI and certificate check; it never follows redirects and never
  goes through a proxy from the environment.

The resolver is a seam: tests and the demo pass a ``StaticResolver``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RESOLVE_TIMEOUT_S: Final = 5.0
# Names that are internal whatever they resolve to (the metadata server, mDNS, private TLDs).
_REFUSED_NAMES: Final = frozenset({"localhost", "metadata", "metadata.google.internal"})
_REFUSED_SUFFIXES: Final = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")
# IPv6 prefixes that carry an IPv4 address inside (NAT64); mapped, 6to4 and Teredo are
# unpacked by ``ipaddress`` itself.
_NAT64: Final = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class EgressRefused(httpcore.ConnectError):
    """The destination is not a public internet address (``reason`` is for logs only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Resolver(Protocol):
    """Turns a host name into the addresses a connection may use."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host`` (empty or an ``OSError`` when it does not resolve)."""
        ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), bounded in time."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``getaddrinfo`` returns for a TCP connection to ``host:port``."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        return found


class StaticResolver:
    """A fixed name → addresses table (tests, the demo); unknown names do not resolve."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self._table = {
            name.lower(): [ipaddress.ip_address(a) for a in addresses]
            for name, addresses in table.items()
        }

    def set(self, host: str, addresses: Sequence[str]) -> None:
        """Change what ``host`` resolves to (a DNS-rebinding test flips it)."""
        self._table[host.lower()] = [ipaddress.ip_address(a) for a in addresses]

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The table's addresses for ``host``."""
        return list(self._table.get(host.lower(), []))


def _ipv4_part(text: str) -> int | None:
    """One dotted part as ``inet_aton`` reads it: 0x hex, leading-zero octal, or decimal."""
    try:
        if text[:2].lower() == "0x":
            return int(text[2:] or "0", 16)
        if len(text) > 1 and text.startswith("0"):
            return int(text[1:], 8)
        return int(text, 10) if text.isdigit() else None
    except ValueError:
        return None


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host stands for, in every form resolvers accept; None for a name.

    A host whose last label is a number is an IPv4 address (as WHATWG URL parsing and
    ``inet_aton`` read it): ``2130706433``, ``127.1``, ``0x7f.1`` and ``0177.0.0.1`` are all
    127.0.0.1. One that ends in a number but is no valid address raises ``EgressRefused``.
    """
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise EgressRefused("scoped IPv6 addresses are not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise EgressRefused("not a valid IPv6 address") from exc
    labels = host.split(".")
    last_label = labels[-1]
    if not (last_label.isdigit() or last_label.startswith("0x")):
        return None  # a name
    parts = [_ipv4_part(label) for label in labels]
    if len(parts) > 4 or any(part is None for part in parts):
        raise EgressRefused("a host ending in a number must be an IPv4 address")
    numbers = [part for part in parts if part is not None]
    *leading, last = numbers
    if any(part > 255 for part in leading) or last >= 256 ** (5 - len(numbers)):
        raise EgressRefused("IPv4 address part out of range")
    value = 0
    for part in leading:
        value = value * 256 + part
    value = value * 256 ** (5 - len(numbers)) + last
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    for prefix in _NAT64:
        if address in prefix:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            problem = address_problem(inner)
            return f"IPv6 embedding {problem}" if problem else None
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations are allowed: public unicast addresses, plus ``allowed_networks``
    (an operator's own receiver on a private network; tests)."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> EgressPolicy:
        """A policy from CIDR strings (``PLANTVITA_CLOUD_EGRESS_ALLOWED_NETWORKS``)."""
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def check_name(self, host: str) -> None:
        """Refuse names that are internal by definition, whatever they resolve to."""
        name = host.strip().rstrip(".").lower()
        if not name:
            raise EgressRefused("empty host")
        if name in _REFUSED_NAMES or name.endswith(_REFUSED_SUFFIXES):
            raise EgressRefused("internal host name")

    def check_address(self, address: IPAddress) -> None:
        """Refuse an address that is not public, unless an allowed network holds it."""
        if any(address in network for network in self.allowed_networks):
            return
        problem = address_problem(address)
        if problem:
            raise EgressRefused(problem)


@dataclass
class Egress:
    """Resolution + policy for user-chosen destinations; built once per process."""

    resolver: Resolver = field(default_factory=SystemResolver)
    policy: EgressPolicy = field(default_factory=EgressPolicy)

    async def vet(self, host: str, port: int) -> list[IPAddress]:
        """The addresses a connection to ``host`` may use; ``EgressRefused`` when any is not
        public (an attacker's DNS can mix a public and a private answer) or none exists."""
        literal = numeric_host(host)
        if literal is not None:
            self.policy.check_address(literal)
            return [literal]
        self.policy.check_name(host)
        try:
            addresses = await self.resolver.resolve(host.rstrip("."), port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise EgressRefused(f"does not resolve ({type(exc).__name__})") from exc
        if not addresses:
            raise EgressRefused("does not resolve")
        for address in addresses:
            self.policy.check_address(address)
        return addresses

    async def vet_url(self, url: str) -> list[IPAddress]:
        """``vet`` for the host and port of an absolute http(s) URL."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https"):
            raise EgressRefused("only http and https are allowed")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return await self.vet(parsed.host, port)

    def client(self, timeout: float = 10.0) -> httpx.AsyncClient:
        """An httpx client that connects only to vetted addresses and follows no redirects."""
        return httpx.AsyncClient(
            transport=GuardedTransport(self),
            follow_redirects=False,
            trust_env=False,  # an HTTPS_PROXY from the environment would dial for us
            timeout=timeout,
        )


class _VettingBackend(httpcore.AsyncNetworkBackend):
    """Resolves and vets at connect time, then dials the vetted address itself."""

    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._egress.vet(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection is vetted."""

    def __init__(self, egress: Egress) -> None:
        super().__init__(trust_env=False, retries=0)
        # The pool httpx built, rebuilt on the vetting backend (httpx has no backend option).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=_VettingBackend(egress),
        )


def refused_by_egress(exc: BaseException) -> EgressRefused | None:
    """The ``EgressRefused`` behind an httpx error (httpx wraps httpcore's), if that was it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, EgressRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
