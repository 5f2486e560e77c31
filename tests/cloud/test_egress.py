"""Webhook SSRF: user-chosen URLs reach public addresses only, at save time and at every
delivery, through the address that was checked; the owner never sees low-level errors."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from cloud.egress import (
    Egress,
    EgressPolicy,
    EgressRefused,
    StaticResolver,
    address_problem,
    numeric_host,
)
from cloud.notifications.service import NOT_PUBLIC
from cloud.notifications.webhook import UNREACHABLE
from tests.cloud.conftest import PUBLIC_TEST_ADDRESS
from tests.cloud.factories import create_user
from tests.cloud.test_webhooks import (  # noqa: F401 - fixtures used by name
    WEBHOOK_PATH,
    RunJobs,
    garden,
    push_battery,
    run_jobs,
    settings_overrides,
)

# An operator's receiver on their own network is allowed by setting; nothing else inside is.
RECEIVER_NET = "127.0.0.3/32"


@pytest.fixture
def egress() -> Egress:
    resolver = StaticResolver(
        {
            "hooks.example.org": [PUBLIC_TEST_ADDRESS],
            "rebind.example.org": [PUBLIC_TEST_ADDRESS],
            "pinned.example.org": ["127.0.0.3"],
            "private.example.org": ["10.0.0.5"],
            "metadata.example.org": ["169.254.169.254"],
            "mixed.example.org": [PUBLIC_TEST_ADDRESS, "127.0.0.1"],
            "mapped.example.org": ["::ffff:10.0.0.1"],
        }
    )
    return Egress(resolver=resolver, policy=EgressPolicy.from_strings([RECEIVER_NET]))


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("10.1.258", "10.1.1.2"),
        ("169.254.169.254.", "169.254.169.254"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("hooks.example.org", None),
        ("0xdead.example.org", None),
    ],
)
def test_every_numeric_host_form_is_read_as_its_address(host: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address else None
    assert numeric_host(host) == expected


@pytest.mark.parametrize("host", ["1.2.3.256", "1.2.3.4.5", "0x1g", "08", "fe80::1%eth0"])
def test_malformed_numeric_hosts_are_refused(host: str) -> None:
    with pytest.raises(EgressRefused):
        numeric_host(host)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # CGNAT
        "224.0.0.1",
        "0.0.0.0",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/",
        "https://127.1/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://169.254.169.254/computeMetadata/v1/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "https://metadata.google.internal./x",
        "https://db.corp.internal/x",
        "https://printer.local/x",
        "https://100.64.0.1/",
        "https://224.0.0.1/",
        "https://0.0.0.0/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[fc00::1]/",
        "https://private.example.org/x",
        "https://metadata.example.org/x",
        "https://mixed.example.org/x",  # one private answer among public ones
        "https://mapped.example.org/x",
        "https://nowhere.example.org/x",  # does not resolve
    ],
)
async def test_saving_an_internal_url_is_refused_with_one_message(
    client: httpx.AsyncClient, url: str
) -> None:
    user = await create_user(client)
    response = await client.put(WEBHOOK_PATH, json={"url": url}, headers=user.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == NOT_PUBLIC
    assert (await client.get(WEBHOOK_PATH, headers=user.headers)).status_code == 404


@dataclass
class Listener:
    """A one-line HTTP server on a loopback address that records what reached it."""

    host: str
    reply: bytes | None = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.reply is not None:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(self.reply)
            await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener("127.0.0.3")
    server = await asyncio.start_server(found.handle, found.host, 0)
    found.port = server.sockets[0].getsockname()[1]
    async with server:
        yield found


async def last_delivery(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    shown = await client.get(WEBHOOK_PATH, headers=headers)
    delivery: dict[str, Any] = shown.json()["last_delivery"]
    return delivery


async def test_delivery_dials_the_vetted_address_and_keeps_the_name(
    client: httpx.AsyncClient,
    run_jobs: RunJobs,  # noqa: F811 - the imported fixture
    listener: Listener,
) -> None:
    # "pinned.example.org" exists only in the test resolver: a request that reaches the
    # listener was dialled to the checked address, not resolved again by the system.
    user, hub, mac = await garden(client)
    url = f"http://pinned.example.org:{listener.port}/hook"
    saved = await client.put(WEBHOOK_PATH, json={"url": url}, headers=user.headers)
    assert saved.status_code == 200, saved.text
    await push_battery(client, hub, mac, [(0, 10)])
    await run_jobs()
    [request] = listener.requests
    assert request.startswith(b"POST /hook HTTP/1.1\r\n")
    assert f"host: pinned.example.org:{listener.port}".encode() in request.lower()
    delivery = await last_delivery(client, user.headers)
    assert (delivery["status"], delivery["http_status"]) == ("delivered", 204)


async def test_a_name_rebound_to_an_internal_address_after_saving_is_not_dialled(
    client: httpx.AsyncClient,
    egress: Egress,
    run_jobs: RunJobs,  # noqa: F811
) -> None:
    inside = Listener("127.0.0.2")
    server = await asyncio.start_server(inside.handle, inside.host, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        user, hub, mac = await garden(client)
        url = f"http://rebind.example.org:{port}/h"
        saved = await client.put(WEBHOOK_PATH, json={"url": url}, headers=user.headers)
        assert saved.status_code == 200, saved.text  # public when saved...
        assert isinstance(egress.resolver, StaticResolver)
        egress.resolver.set("rebind.example.org", ["127.0.0.2"])  # ...internal at delivery
        await push_battery(client, hub, mac, [(0, 10)])
        await run_jobs()
    assert inside.connections == 0
    delivery = await last_delivery(client, user.headers)
    assert (delivery["status"], delivery["error"]) == ("retrying", UNREACHABLE)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.3", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_closed_open_and_refused_destinations_look_the_same_to_the_owner(
    client: httpx.AsyncClient,
    egress: Egress,
    run_jobs: RunJobs,  # noqa: F811
) -> None:
    hangs_up = Listener("127.0.0.3", reply=None)  # open port that closes without answering
    server = await asyncio.start_server(hangs_up.handle, hangs_up.host, 0)
    open_port = server.sockets[0].getsockname()[1]
    targets = [
        f"http://pinned.example.org:{_closed_port()}/h",
        f"http://pinned.example.org:{open_port}/h",
        "http://rebind.example.org:9/h",
    ]
    owners = []
    async with server:
        for url in targets:
            user, hub, mac = await garden(client)
            saved = await client.put(WEBHOOK_PATH, json={"url": url}, headers=user.headers)
            assert saved.status_code == 200, saved.text
            await push_battery(client, hub, mac, [(0, 10)])
            owners.append(user)
        assert isinstance(egress.resolver, StaticResolver)
        egress.resolver.set("rebind.example.org", ["169.254.169.254"])  # the metadata server
        await run_jobs()
    assert hangs_up.connections == 1
    errors = [(await last_delivery(client, user.headers))["error"] for user in owners]
    assert errors == [UNREACHABLE] * 3


async def test_vetting_refuses_any_private_answer() -> None:
    egress = Egress(resolver=StaticResolver({"mixed.test": ["8.8.8.8", "10.0.0.1"]}))
    with pytest.raises(EgressRefused):
        await egress.vet("mixed.test", 443)
    allowed = Egress(
        resolver=StaticResolver({"mine.test": ["10.0.0.1"]}),
        policy=EgressPolicy.from_strings(["10.0.0.0/8"]),
    )
    assert await allowed.vet("mine.test", 443) == [ipaddress.ip_address("10.0.0.1")]
    with pytest.raises(EgressRefused):
        await allowed.vet("metadata.google.internal", 80)  # refused by name, whatever it is
