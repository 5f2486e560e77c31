"""The garden for the exactly-once tests: a cloud and a hub as real processes that can be
killed and restarted, with a ``FaultProxy`` between them, and the check that the cloud holds
every reading each node produced exactly once and every photo it served, byte for byte.

The emulated nodes live in the hub's process (Bumble's link is in-process); their flash
journal (``hub.ble.emulator.journal``) lets them come back as they were when the hub is
killed, and is their own log of what they measured: the ground truth here.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from plantvita.demo import scenario
from plantvita.demo.garden_hub import LABELS_FILE
from plantvita.demo.run import DemoOptions, cloud_env, hub_env
from plantvita.demo.supervisor import Child, Supervisor, free_port, plantvita_command
from shared.metrics import METRIC_NAMES, spec
from tests.e2e.faultproxy import FaultProxy
from tests.e2e.harness import eventually, process_alive

PASSWORD = "a long and good fault password"
NODES = 3
SPEED = 10.0  # garden seconds per real second
SAMPLING_INTERVAL_S = 10  # garden seconds: a reading per node per real second
HISTORY_S = 4 * 3600  # the garden replays from this long ago, so it never runs ahead of now
METRICS = METRIC_NAMES
TOLERANCE = {"moisture": 0.006, "temperature": 0.006, "humidity": 0.006, "battery": 0.5}


@dataclass(frozen=True)
class Reading:
    """A reading as the cloud holds it, or a measurement as the node logged it."""

    seq: int
    measured_at: datetime
    values: dict[str, float]
    incarnation: int = 0
    source: str = ""

    @property
    def key(self) -> tuple[int, float, float]:
        """What identifies a measurement across counter resets: seq and two noisy values
        (the cloud stores REAL, so they are compared at the two decimals the node sends)."""
        return (
            self.seq,
            round(self.values.get("moisture", -1.0), 2),
            round(self.values.get("temperature", -1.0), 2),
        )


@dataclass
class FaultGarden:
    """The processes, the proxy and the cloud account of one test module."""

    data_dir: Path
    database_url: str
    supervisor: Supervisor
    proxy: FaultProxy
    cloud_port: int
    hub_port: int
    cloud_child: Child | None = None
    hub_child: Child | None = None
    user: scenario.CloudUser | None = None
    hub_id: str = ""
    node_ids: dict[str, str] = field(default_factory=dict)  # MAC -> cloud node id
    plant_ids: dict[str, str] = field(default_factory=dict)  # MAC -> cloud plant id

    @property
    def cloud_url(self) -> str:
        """The cloud, reached directly (as the gardener's app would)."""
        return f"http://127.0.0.1:{self.cloud_port}"

    @property
    def hub_url(self) -> str:
        """The hub's local API."""
        return f"http://127.0.0.1:{self.hub_port}"

    @property
    def options(self) -> DemoOptions:
        """Where the demo helpers put things."""
        return DemoOptions(
            data_dir=self.data_dir, nodes=NODES, cloud_port=self.cloud_port, hub_port=self.hub_port
        )

    @property
    def macs(self) -> list[str]:
        """The emulated nodes' MACs."""
        return sorted(self.node_ids)

    @property
    def headers(self) -> dict[str, str]:
        """The gardener's cloud credentials."""
        assert self.user is not None
        return self.user.headers

    # --- processes --------------------------------------------------------------------

    def start_cloud(self) -> None:
        """Start the cloud API (its signed upload URLs point at the proxy, like the hub)."""
        env = {
            **cloud_env(self.options, self.database_url),
            "PLANTVITA_CLOUD_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.proxy.port}",
            "PLANTVITA_CLOUD_LOG_LEVEL": "WARNING",
            "PLANTVITA_CLOUD_STALE_CHECK_ENABLED": "false",
        }
        cli = plantvita_command()
        self.cloud_child = self.supervisor.spawn(
            "cloud",
            [*cli, "cloud", "run", "--host", "127.0.0.1", "--port", str(self.cloud_port)],
            env,
        )

    def start_hub(self) -> None:
        """Start the hub with its emulated garden (which carries on from its journal)."""
        env = {
            **hub_env(self.options),
            "PLANTVITA_HUB_CLOUD_URL": f"http://127.0.0.1:{self.proxy.port}",
            "PLANTVITA_HUB_SYNC_INTERVAL_S": "1",
            "PLANTVITA_HUB_SYNC_BACKOFF_BASE_S": "0.5",
            "PLANTVITA_HUB_SYNC_BACKOFF_MAX_S": "2",
            "PLANTVITA_HUB_SYNC_BATCH_ITEMS": "25",
            "PLANTVITA_HUB_SYNC_TIMEOUT_S": "15",
            "PLANTVITA_HUB_IMAGE_UPLOAD_BYTES_PER_S": str(1024 * 1024),
        }
        self.hub_child = self.supervisor.spawn(
            "hub",
            [
                sys.executable,
                "-m",
                "plantvita.demo.garden_hub",
                "--nodes",
                str(NODES),
                "--sampling-interval",
                str(SAMPLING_INTERVAL_S),
                "--photo-every",
                "600",
                "--speed",
                str(SPEED),
                "--history",
                str(HISTORY_S),
            ],
            env,
        )

    def hub_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``plantvita hub ARGS`` against the running hub (as its admin)."""
        env = {
            **hub_env(self.options),
            "PLANTVITA_HUB_ADMIN_PASSWORD": PASSWORD,
        }
        return subprocess.run(
            [*plantvita_command(), "hub", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    @staticmethod
    def kill(child: Child | None, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal a child's whole process group (SIGKILL by default) and reap it."""
        assert child is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        child.process.wait(timeout=30)
        assert not process_alive(child.pid)

    def kill_cloud(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """``kill -9`` the cloud API (``sig=SIGTERM``: stop it)."""
        child, self.cloud_child = self.cloud_child, None
        self.kill(child, sig)

    def kill_hub(self) -> None:
        """``kill -9`` the hub (and with it the radio and the emulated nodes)."""
        child, self.hub_child = self.hub_child, None
        self.kill(child)

    @property
    def cloud_down(self) -> bool:
        """The cloud was killed or stopped and not started again."""
        return self.cloud_child is None

    def running(self) -> None:
        """Fail with the log of a process that died on its own."""
        for child in (self.cloud_child, self.hub_child):
            if child is not None and child.process.poll() is not None:
                raise AssertionError(
                    f"{child.name} exited {child.process.returncode}:\n{child.tail(60)}"
                )

    async def all_up(self) -> None:
        """Undo what a failed test may have left behind: both processes running, the link
        up, no fault armed."""
        self.proxy.disarm()
        self.proxy.restore()
        if self.cloud_child is None or self.cloud_child.process.poll() is not None:
            self.start_cloud()
        if self.hub_child is None or self.hub_child.process.poll() is not None:
            self.start_hub()
        await self.cloud_up()
        await self.hub_up()

    async def cloud_up(self) -> None:
        """Wait for a (re)started cloud."""
        await scenario.wait_healthy(self.cloud_url, 60)

    async def hub_up(self) -> None:
        """Wait for a (re)started hub."""
        await scenario.wait_healthy(self.hub_url, 60)

    # --- set-up -----------------------------------------------------------------------

    async def set_up(self) -> None:
        """Sign up, link the hub, register and plant every node, pair them on the hub."""
        await self.cloud_up()
        await self.hub_up()
        async with self.clients() as (cloud, hub):
            self.user = await scenario.sign_up(cloud, "faults@example.com", PASSWORD)
            await scenario.set_hub_password(hub, PASSWORD)
            self.hub_id = await scenario.link_hub(hub, cloud, self.user)
            labels = scenario.read_labels(self.data_dir / "hub" / LABELS_FILE)
            self.node_ids = await scenario.register_cloud_nodes(
                cloud, self.user, self.hub_id, sorted(labels)
            )
            self.plant_ids = await scenario.plant_garden(
                cloud, self.user, self.node_ids, sampling_interval_s=SAMPLING_INTERVAL_S
            )
            await scenario.pair_seen_nodes(hub, labels)

    def clients(self) -> _Clients:
        """HTTP clients: the cloud (direct) and the hub (as its admin)."""
        return _Clients(self)

    # --- what the nodes did ------------------------------------------------------------

    async def node_log(self, hub: httpx.AsyncClient, mac: str) -> list[Reading]:
        """The node's own log of every measurement it produced."""
        response = await hub.get(f"/api/v1/emulator/nodes/{mac}/log")
        assert response.status_code == 200, response.text
        return [
            Reading(
                seq=m["seq"],
                measured_at=datetime.fromisoformat(m["measured_at"]),
                values=m["values"],
                incarnation=m["incarnation"],
            )
            for m in response.json()
        ]

    async def served_photos(self, hub: httpx.AsyncClient, mac: str) -> set[str]:
        """sha256 of every photo the node sent whole to the hub."""
        response = await hub.get(f"/api/v1/emulator/nodes/{mac}/photos")
        assert response.status_code == 200, response.text
        return {p["sha256"] for p in response.json()}

    async def emulator(self, hub: httpx.AsyncClient, mac: str, action: str) -> dict[str, Any]:
        """Drive an emulated node (``capture``, ``out-of-range``, ``resume``, …)."""
        response = await hub.post(f"/api/v1/emulator/nodes/{mac}/{action}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def emulated(self, hub: httpx.AsyncClient, mac: str) -> dict[str, Any]:
        """An emulated node's state."""
        response = await hub.get("/api/v1/emulator/nodes")
        assert response.status_code == 200, response.text
        return next(n for n in response.json() if n["mac"] == mac)

    # --- what the cloud holds ---------------------------------------------------------

    async def cloud_readings(self, cloud: httpx.AsyncClient, mac: str) -> list[Reading]:
        """Every raw reading of the node in the cloud (its CSV export)."""
        now = datetime.now(UTC)
        response = await cloud.get(
            f"/api/v1/nodes/{self.node_ids[mac]}/readings.csv",
            params={
                "start": (now - timedelta(seconds=HISTORY_S + 86_400)).isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
            },
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        rows = []
        for row in csv.DictReader(io.StringIO(response.text)):
            rows.append(
                Reading(
                    seq=int(row["seq"]) if row["seq"] else -1,
                    measured_at=datetime.fromisoformat(row["measured_at"]),
                    values={m: float(row[m]) for m in METRICS if row[m]},
                    source=row["source"],
                )
            )
        return rows

    async def cloud_photos(self, cloud: httpx.AsyncClient, mac: str) -> list[dict[str, Any]]:
        """The photos of the node's plant in the cloud."""
        response = await cloud.get(
            f"/api/v1/plants/{self.plant_ids[mac]}/images",
            params={"limit": 100},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        assert "link" not in response.headers  # every photo on one page
        items: list[dict[str, Any]] = response.json()
        return items

    def stored_objects(self) -> dict[str, str]:
        """Object name (the sha256 the cloud filed it under) -> sha256 of the bytes it holds,
        for every photo in the cloud's local object store."""
        root = self.data_dir / "objects" / "objects" / "owners"
        found: dict[str, str] = {}
        for path in root.rglob("*"):
            if path.is_file() and "thumbs" not in path.parts and len(path.stem) == 64:
                found[path.stem] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found

    # --- the property under test ------------------------------------------------------

    async def assert_exactly_once(self, deadline_s: float = 90.0) -> dict[str, int]:
        """Wait until the cloud holds everything the nodes produced so far, then check it
        holds each reading exactly once with the node's values, and each served photo with
        its exact bytes. Returns counts for the test's own checks."""
        async with self.clients() as (cloud, hub):
            truth = {mac: await self.node_log(hub, mac) for mac in self.macs}
            photos = {mac: await self.served_photos(hub, mac) for mac in self.macs}

            async def caught_up() -> bool:
                # No "sync now" here: the hub's own schedule and backoff must get there.
                self.running()
                for mac in self.macs:
                    held = {r.key for r in await self.cloud_readings(cloud, mac)}
                    if any(m.key not in held for m in truth[mac]):
                        return False
                    hashes = {p["sha256"] for p in await self.cloud_photos(cloud, mac)}
                    if not photos[mac] <= hashes or not photos[mac] <= set(self.stored_objects()):
                        return False
                return True

            try:
                await eventually(caught_up, deadline_s, "the cloud catching up", every_s=1.0)
            except AssertionError:
                raise AssertionError(await self._shortfall(cloud, truth, photos)) from None

            counts = {"readings": 0, "backfilled": 0, "photos": 0}
            objects = self.stored_objects()
            for mac in self.macs:
                held = await self.cloud_readings(cloud, mac)
                # Read after the cloud: every reading it holds was logged by the node by now.
                logged = {m.key: m for m in await self.node_log(hub, mac)}
                repeats = [k for k, n in Counter(r.key for r in held).items() if n > 1]
                assert not repeats, f"{mac}: readings held more than once: {repeats[:10]}"
                phantoms = [r for r in held if r.key not in logged]
                assert not phantoms, f"{mac}: readings the node never produced: {phantoms[:5]}"
                for reading in held:
                    measured = logged[reading.key]
                    for metric, value in measured.values.items():
                        if metric not in reading.values and reading.source == "advert":
                            # A full measurement alternates its slotted metrics between
                            # adverts (humidity on even counters, conductivity on odd);
                            # the node's record, backfilled, keeps every value.
                            assert spec(metric).advert_slot is not None, (
                                f"{mac} seq {reading.seq}: {metric} missing in the cloud"
                            )
                            continue
                        tolerance = TOLERANCE.get(metric, max(0.006, abs(value) * 1e-6))
                        assert abs(reading.values[metric] - value) <= tolerance, (
                            f"{mac} seq {reading.seq}: {metric} {reading.values[metric]} "
                            f"in the cloud, {value} measured"
                        )
                    # Adverts are stamped when heard, backfill by the node's clock.
                    skew = abs((reading.measured_at - measured.measured_at).total_seconds())
                    assert skew <= 3 * SAMPLING_INTERVAL_S, (
                        f"{mac} seq {reading.seq}: stamped {reading.measured_at}, "
                        f"measured {measured.measured_at}"
                    )
                counts["readings"] += len(held)
                counts["backfilled"] += sum(1 for r in held if r.source == "backfill")
                stored = await self.cloud_photos(cloud, mac)
                hashes = [p["sha256"] for p in stored]
                assert len(hashes) == len(set(hashes)), f"{mac}: a photo stored twice"
                for photo in stored:
                    # The bytes in the object store hash to what the node sent.
                    assert objects.get(photo["sha256"]) == photo["sha256"], (
                        f"{mac}: photo {photo['id']} object missing or altered"
                    )
                served = await self.served_photos(hub, mac)
                assert set(hashes) <= served, f"{mac}: photos the node never served"
                counts["photos"] += len(hashes)
            return counts

    async def _shortfall(
        self,
        cloud: httpx.AsyncClient,
        truth: dict[str, list[Reading]],
        photos: dict[str, set[str]],
    ) -> str:
        lines = ["the cloud did not catch up:"]
        for mac in self.macs:
            held = {r.key for r in await self.cloud_readings(cloud, mac)}
            missing = [(m.incarnation, m.seq) for m in truth[mac] if m.key not in held]
            hashes = {p["sha256"] for p in await self.cloud_photos(cloud, mac)}
            lines.append(
                f"  {mac}: {len(missing)} of {len(truth[mac])} readings missing "
                f"(incarnation, seq) {missing[:12]}; "
                f"{len(photos[mac] - hashes)} of {len(photos[mac])} photos missing"
            )
        async with httpx.AsyncClient(base_url=self.hub_url, auth=("admin", PASSWORD)) as hub:
            status = await hub.get("/api/v1/sync/status")
            lines.append(f"  hub sync status: {status.text[:1500]}")
        return "\n".join(lines)

    async def hub_pending_readings(self, hub: httpx.AsyncClient) -> int:
        """Readings the hub holds that the cloud has not acknowledged."""
        response = await hub.get("/api/v1/sync/status")
        assert response.status_code == 200, response.text
        ledger = {e["kind"]: e for e in response.json()["ledger"]}
        return int(ledger.get("readings", {}).get("pending", 0))

    async def cloud_metric(self, cloud: httpx.AsyncClient, line_prefix: str) -> float:
        """A sample from the cloud's Prometheus metrics (0 when absent)."""
        text = (await cloud.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith(line_prefix):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


class _Clients:
    def __init__(self, garden: FaultGarden) -> None:
        self.garden = garden

    async def __aenter__(self) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        self.cloud = httpx.AsyncClient(base_url=self.garden.cloud_url, timeout=30)
        self.hub = httpx.AsyncClient(
            base_url=self.garden.hub_url, timeout=60, auth=("admin", PASSWORD)
        )
        return self.cloud, self.hub

    async def __aexit__(self, *_exc: object) -> None:
        await self.cloud.aclose()
        await self.hub.aclose()


def new_garden(data_dir: Path, database_url: str) -> FaultGarden:
    """Ports, proxy and supervisor for a garden (nothing started yet)."""
    cloud_port = free_port()
    proxy = FaultProxy(free_port(), cloud_port).start()
    return FaultGarden(
        data_dir=data_dir,
        database_url=database_url,
        supervisor=Supervisor(data_dir / "logs"),
        proxy=proxy,
        cloud_port=cloud_port,
        hub_port=free_port(),
    )
