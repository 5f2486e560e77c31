"""The gardener's first hour, through the real APIs: account, hub link, pairing, plants.

Used by ``plantvita demo`` and by the end-to-end tests, against processes on loopback.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.sync import DEVICE_APPROVE_PATH


class ScenarioError(RuntimeError):
    """A step of the scenario failed; the message says which and why."""


class SignedOut(ScenarioError):
    """The cloud refused the user's access token (it lives minutes; the demo runs for hours)."""


def _check(response: httpx.Response, what: str, *ok: int) -> Any:
    if response.status_code == 401 and 401 not in ok:
        raise SignedOut(f"{what}: HTTP 401 {response.text[:300]}")
    if response.status_code not in (ok or (200,)):
        raise ScenarioError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


async def _every(
    cloud: httpx.AsyncClient, path: str, headers: dict[str, str], what: str
) -> list[Any]:
    """Every item of a cloud list, following its ``Link: <…>; rel="next"`` pages."""
    items: list[Any] = []
    url: str | None = path
    while url is not None:
        response = await cloud.get(url, headers=headers)
        items.extend(_check(response, what))
        url = response.links.get("next", {}).get("url")
    return items


@dataclass
class CloudUser:
    """A signed-in cloud user."""

    email: str
    password: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for the cloud's user routes."""
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Garden:
    """What the scenario set up: node MAC → cloud node id and plant id."""

    user: CloudUser
    hub_id: str
    node_ids: dict[str, str] = field(default_factory=dict)
    plant_ids: dict[str, str] = field(default_factory=dict)


async def wait_healthy(url: str, deadline_s: float = 60.0) -> None:
    """Poll ``url``/healthz until it answers 200."""
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ScenarioError(f"{url} did not become healthy in {deadline_s:.0f}s")
            await asyncio.sleep(0.3)


async def sign_up(cloud: httpx.AsyncClient, email: str, password: str) -> CloudUser:
    """Register (or, when the account exists, just sign in) and return the signed-in user."""
    registered = await cloud.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    if registered.status_code not in (201, 409):
        _check(registered, "register", 201)
    return await sign_in(cloud, email, password)


async def sign_in(cloud: httpx.AsyncClient, email: str, password: str) -> CloudUser:
    """A fresh access token for the user."""
    token = await cloud.post("/api/v1/auth/token", data={"username": email, "password": password})
    body = _check(token, "sign in")
    return CloudUser(email, password, body["access_token"])


async def set_hub_password(hub: httpx.AsyncClient, password: str) -> None:
    """First run of the hub: set its admin password (kept when already set to it)."""
    status = _check(await hub.get("/api/v1/auth"), "hub auth status")
    if status["password_set"]:
        return
    _check(
        await hub.post("/api/v1/auth/password", json={"password": password}),
        "set hub password",
        204,
    )


async def link_hub(
    hub: httpx.AsyncClient, cloud: httpx.AsyncClient, user: CloudUser, deadline_s: float = 60
) -> str:
    """Link the hub with the device flow: hub shows a code, the user approves it. Hub id."""
    status = _check(await hub.get("/api/v1/link"), "hub link status")
    if status["linked"]:
        return str(status["hub_id"])
    started = _check(await hub.post("/api/v1/link/start", json={}), "start linking")
    user_code = started["pending"]["user_code"]
    _check(
        await cloud.post(DEVICE_APPROVE_PATH, json={"user_code": user_code}, headers=user.headers),
        "approve the hub's code",
    )
    deadline = time.monotonic() + deadline_s
    interval = max(0.2, float(started["pending"]["interval"]))
    while time.monotonic() < deadline:
        polled = _check(await hub.post("/api/v1/link/poll"), "poll the link")
        if polled["linked"]:
            return str(polled["hub_id"])
        await asyncio.sleep(interval)
    raise ScenarioError("the hub did not get its token in time")


def read_labels(path: Path) -> dict[str, str]:
    """MAC → bindkey hex from the emulated nodes' labels."""
    return {n["mac"]: n["bindkey"] for n in json.loads(path.read_text())["nodes"]}


async def pair_seen_nodes(
    hub: httpx.AsyncClient, bindkeys: dict[str, str], deadline_s: float = 60
) -> list[str]:
    """Pair every labelled node once the hub hears it (as a gardener would). Paired MACs."""
    deadline = time.monotonic() + deadline_s
    paired: set[str] = {n["mac"] for n in _check(await hub.get("/api/v1/nodes"), "hub nodes")}
    while set(bindkeys) - paired:
        for device in _check(await hub.get("/api/v1/nodes/seen"), "devices in range"):
            mac = device["mac"]
            if mac in bindkeys and mac not in paired:
                _check(
                    await hub.post("/api/v1/nodes", json={"mac": mac, "bindkey": bindkeys[mac]}),
                    f"pair {mac}",
                    201,
                )
                paired.add(mac)
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(set(bindkeys) - paired))
            raise ScenarioError(f"the hub never heard {missing}")
        await asyncio.sleep(0.5)
    return sorted(paired & set(bindkeys))


async def sync_now(hub: httpx.AsyncClient) -> dict[str, Any]:
    """Ask the hub to sync now."""
    result: dict[str, Any] = _check(await hub.post("/api/v1/sync/now"), "sync now")
    return result


async def wait_cloud_nodes(
    hub: httpx.AsyncClient,
    cloud: httpx.AsyncClient,
    user: CloudUser,
    macs: list[str],
    deadline_s: float = 60,
) -> dict[str, str]:
    """Sync until the hub's inventory put every MAC in the cloud; MAC → cloud node id."""
    deadline = time.monotonic() + deadline_s
    while True:
        nodes = await _every(cloud, "/api/v1/nodes", user.headers, "cloud nodes")
        found = {n["mac"]: n["id"] for n in nodes if n["mac"] in macs}
        if len(found) == len(macs):
            return found
        if time.monotonic() > deadline:
            raise ScenarioError(f"the cloud knows {len(found)} of {len(macs)} nodes")
        await sync_now(hub)
        await asyncio.sleep(1.0)


async def register_cloud_nodes(
    cloud: httpx.AsyncClient, user: CloudUser, hub_id: str, macs: list[str]
) -> dict[str, str]:
    """Register the nodes in the user's cloud account on this hub; MAC → cloud node id."""
    known = {
        n["mac"]: n["id"] for n in await _every(cloud, "/api/v1/nodes", user.headers, "cloud nodes")
    }
    for mac in macs:
        if mac not in known:
            node = _check(
                await cloud.post(
                    "/api/v1/nodes", json={"mac": mac, "hub_id": hub_id}, headers=user.headers
                ),
                f"register {mac}",
                201,
            )
            known[mac] = node["id"]
    return {mac: known[mac] for mac in macs}


async def plant_garden(
    cloud: httpx.AsyncClient,
    user: CloudUser,
    node_ids: dict[str, str],
    *,
    sampling_interval_s: int | None = None,
) -> dict[str, str]:
    """One plant per node, each of a different catalogue species; MAC → plant id.

    ``sampling_interval_s`` also sets each node's config, which the hub carries down to it.
    """
    species = _check(
        await cloud.get("/api/v1/species", params={"limit": 50}, headers=user.headers), "species"
    )
    if not species:
        raise ScenarioError("the species catalogue is empty")
    existing = {
        p["node_id"]: p["id"] for p in await _every(cloud, "/api/v1/plants", user.headers, "plants")
    }
    plants: dict[str, str] = {}
    for index, (mac, node_id) in enumerate(sorted(node_ids.items())):
        if node_id in existing:
            plants[mac] = existing[node_id]
            continue
        kind = species[index % len(species)]
        plant = _check(
            await cloud.post(
                "/api/v1/plants",
                json={
                    "name": f"{kind['common_name']} #{index + 1}",
                    "species_id": kind["id"],
                    "location": "Windowsill" if index % 2 else "Balcony",
                    "node_id": node_id,
                },
                headers=user.headers,
            ),
            f"create a plant for {mac}",
            201,
        )
        plants[mac] = plant["id"]
        if sampling_interval_s is not None:
            _check(
                await cloud.put(
                    f"/api/v1/nodes/{node_id}/config",
                    json={"sampling_interval_s": sampling_interval_s},
                    headers=user.headers,
                ),
                f"configure {mac}",
            )
    return plants


@dataclass
class CloudSummary:
    """What the cloud API shows the user right now (counts across their plants)."""

    plants: int = 0
    plants_with_readings: int = 0
    images: int = 0
    images_with_metrics: int = 0
    diagnoses: int = 0
    alerts: int = 0

    def line(self) -> str:
        """One status line."""
        return (
            f"cloud: {self.plants_with_readings}/{self.plants} plants reporting, "
            f"{self.images} photos ({self.images_with_metrics} with canopy metrics), "
            f"{self.diagnoses} diagnoses, {self.alerts} alerts"
        )


async def cloud_summary(cloud: httpx.AsyncClient, user: CloudUser) -> CloudSummary:
    """Count what the user can see through the cloud API, signing ``user`` in again when the
    access token has expired."""
    try:
        return await _count(cloud, user)
    except SignedOut:
        user.access_token = (await sign_in(cloud, user.email, user.password)).access_token
        return await _count(cloud, user)


async def _count(cloud: httpx.AsyncClient, user: CloudUser) -> CloudSummary:
    headers = user.headers
    plants = await _every(cloud, "/api/v1/plants", headers, "plants")
    latest = await _every(cloud, "/api/v1/readings/latest", headers, "latest")
    alerts = await _every(cloud, "/api/v1/alerts?limit=500", headers, "alerts")
    summary = CloudSummary(
        plants=len(plants), plants_with_readings=len({r["plant_id"] for r in latest})
    )
    summary.alerts = len(alerts)
    for plant in plants:
        images = await _every(cloud, f"/api/v1/plants/{plant['id']}/images", headers, "images")
        summary.images += len(images)
        summary.images_with_metrics += sum(1 for i in images if i["metrics"])
        diagnoses = await _every(
            cloud, f"/api/v1/plants/{plant['id']}/diagnoses", headers, "diagnoses"
        )
        summary.diagnoses += sum(1 for d in diagnoses if d["status"] == "succeeded")
    return summary
