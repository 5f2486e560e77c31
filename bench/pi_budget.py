"""A Raspberry Pi's budget: the hub inside a 400 MB memory cgroup and a quarter of one core.

``python -m bench.pi_budget [--quick]`` (root: it creates cgroups; v1 or v2, whichever is there).

The hub process (``--child``) runs the real app under uvicorn, born inside a memory cgroup of
400 MB and a CPU quota of 25 % of one core: a Pi Zero 2 W's headroom after the OS. Its garden is
50 emulated sensor nodes and 5 camera nodes (800×600 JPEGs, the firmware's size) in a second
process (``--garden``) outside the cgroup, with the hub's Bumble controller: as on a Pi, where
the nodes are other devices and the controller is a chip, only the hub's host stack (reaching
its controller across a TCP HCI transport, as BlueZ reaches the adapter across its HCI socket)
counts against the quota. The hub still imports the emulator to build its side of the radio:
``rss_mb`` is the hub's peak RSS less ``emulator_mb`` (what that import added after the hub's
own modules); ``rss_with_emulator_mb`` is the raw peak.

While it runs, this process (outside the cgroup) requests the garden overview page over and over
and uploads 12 MP photos, so the overview is timed while photos are analysed. At the end it
compares what every node measured and served (the garden's report) with what the hub stored:
``readings_lost`` counts measurements that are neither in the hub's database nor still held by
the node; ``photos_lost`` photos a node sent whole that neither the hub nor the node holds.

``green_ms_per_image`` is the hub's green-pixel analysis of one 12 MP JPEG inside the quota,
``green_ms_unlimited`` the same outside it (the baseline; ``green_quota_slowdown`` their ratio).

Last stdout line: ``{"rss_mb", "oom_killed", "readings_lost", "photos_lost", "overview_p95_ms",
"green_ms_per_image", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench._common import emit_result, machine_info, say

MEMORY_LIMIT_MB = 400
CPU_QUOTA = 0.25  # of one core
SENSOR_NODES = 50
CAMERA_NODES = 5
# Ten times the default weight: on a busy machine the group still gets all of its quarter core
# (a quota is a ceiling, not a guarantee), as the hub has its headroom on a Pi.
CPU_WEIGHT_V2 = 1000
TARGET_RSS_MB = 150.0
TARGET_OVERVIEW_P95_MS = 300.0
ADMIN_PASSWORD = "a Pi budget benchmark password"


# ------------------------------------------------------------------------------ cgroups


@dataclass
class Cgroup:
    """A memory + CPU cgroup for the child; v2 (unified) or v1 (one hierarchy per controller)."""

    paths: list[Path]
    version: int

    @classmethod
    def create(cls, name: str, memory_mb: int, cpu_quota: float) -> Cgroup:
        """Make the group and set its limits; raises OSError when cgroups cannot be written."""
        root = Path("/sys/fs/cgroup")
        period = 100_000
        quota = int(period * cpu_quota)
        if (root / "cgroup.controllers").exists():
            controllers = (root / "cgroup.controllers").read_text().split()
            if not {"memory", "cpu"} <= set(controllers):
                raise OSError(f"cgroup v2 lacks memory/cpu controllers: {controllers}")
            (root / "cgroup.subtree_control").write_text("+memory +cpu")
            group = root / name
            group.mkdir(exist_ok=True)
            (group / "memory.max").write_text(str(memory_mb * 2**20))
            if (group / "memory.swap.max").exists():
                (group / "memory.swap.max").write_text("0")
            (group / "cpu.max").write_text(f"{quota} {period}")
            (group / "cpu.weight").write_text(str(CPU_WEIGHT_V2))
            return cls([group], 2)
        memory = root / "memory" / name
        cpu = root / "cpu" / name
        memory.mkdir(exist_ok=True)
        cpu.mkdir(exist_ok=True)
        # cpuacct may be its own hierarchy (or joined with cpu as "cpu,cpuacct").
        accounting = root / "cpuacct" / name
        if (root / "cpuacct").is_dir() and not (cpu / "cpuacct.usage").exists():
            accounting.mkdir(exist_ok=True)
            paths = [memory, cpu, accounting]
        else:
            paths = [memory, cpu]
        (memory / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
        swap = memory / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(memory_mb * 2**20))
        (cpu / "cpu.cfs_period_us").write_text(str(period))
        (cpu / "cpu.cfs_quota_us").write_text(str(quota))
        (cpu / "cpu.shares").write_text(str(CPU_WEIGHT_V2 * 1024 // 100))
        return cls(paths, 1)

    def join(self) -> None:
        """Move the calling process into the group (used right before exec in the child)."""
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def oom_kills(self) -> int:
        """OOM kills inside the group so far."""
        events = self.paths[0] / ("memory.events" if self.version == 2 else "memory.oom_control")
        for line in events.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def peak_mb(self) -> float:
        """Peak memory charged to the group (RSS plus page cache), MB."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        path = self.paths[0] / name
        return int(path.read_text()) / 2**20 if path.exists() else float("nan")

    def cpu_seconds(self) -> float:
        """CPU time used by the group, seconds."""
        if self.version == 2:
            for line in (self.paths[0] / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
            return float("nan")
        for path in self.paths[1:]:
            usage = path / "cpuacct.usage"
            if usage.exists():
                return int(usage.read_text()) / 1e9
        return float("nan")

    def remove(self) -> None:
        """Delete the group (after its processes ended)."""
        for path in self.paths:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


# ------------------------------------------------------------------------------ photos


UNIT = Path(__file__).resolve().parent.parent / "deploy" / "raspberrypi" / "plantvita-hub.service"


def unit_environment() -> dict[str, str]:
    """The service unit's ``Environment=`` tuning the C library reads (MALLOC_ARENA_MAX, ...):
    the child runs with what the hub runs with on a Pi. The hub's own settings are the child's."""
    found = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            if not name.startswith("PLANTVITA_"):
                found[name] = value
    return found


def rss_mb() -> float:
    """This process's resident set, MB."""
    return float(psutil.Process().memory_info().rss) / 2**20


def photo_12mp(seed: int) -> bytes:
    """A 4000×3000 JPEG of foliage-like noise (what a phone upload of a plant weighs)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, size=(300, 400, 3), dtype=np.uint8)
    small[..., 1] = np.clip(small[..., 1].astype(int) + 80, 0, 255).astype(np.uint8)
    image = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def green_ms(data: bytes, repeats: int) -> float:
    """Median ms of the hub's own green-pixel analysis of ``data``."""
    from hub.images.metrics import compute_metrics

    compute_metrics(data)  # warm-up: imports, first decode
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        compute_metrics(data)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


# ------------------------------------------------------------------------------ the garden


class TwoGardens:
    """Sensor nodes and camera nodes on one radio and one clock, started and stopped together."""

    def __init__(self, sensors: Any, cameras: Any) -> None:
        self.parts = (sensors, cameras)
        self.clock = sensors.clock
        self.nodes = [*sensors.nodes, *cameras.nodes]

    async def start(self) -> None:
        """Boot every node, spread over one sampling interval.

        Real nodes boot at different times and their clocks drift, so their wakes fall anywhere
        in the interval; booted within a few seconds they would all wake together every
        interval, a lockstep no garden has.
        """
        spread = self.clock.real_seconds(self.nodes[0].flash.config.sampling_interval_s)
        await asyncio.gather(*(part.start(stagger_real_s=spread) for part in self.parts))

    async def stop(self) -> None:
        """Stop every node."""
        for part in self.parts:
            await part.stop()

    def report(self) -> dict[str, Any]:
        """What each node measured, still holds and served: the loss check's other half."""
        return {
            node.mac: {
                "measured": [m.seq for m in node.log],
                "held": [r.seq for r in node.flash.records],
                "served": [[image_id, sha] for image_id, sha in node.served],
                "images_held": list(node.flash.images),
            }
            for node in self.nodes
        }


def stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines from stdin as they come (``None`` at end of file), read by a thread."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def run_garden(state_dir: Path, speed: float, hci_port: int, report: Path) -> None:
    """The nodes and the hub's controller, outside the hub's cgroup as on a Pi (the nodes are
    other devices, the controller a chip): the hub reaches it across a TCP HCI transport.

    Prints the garden clock as JSON, boots the nodes on a ``boot`` line (printing ``booted``)
    and stops them at end of input, writing what they measured and served to ``report``.
    """
    from hub.ble.bumble_backend import BumbleRadio
    from hub.ble.emulator import EmulatedGarden, SimClock

    async def main() -> dict[str, Any]:
        lines = stdin_lines(asyncio.get_running_loop())
        clock = SimClock(speed, datetime.now(UTC) - timedelta(hours=1), cap_at_real=True)
        radio = BumbleRadio()
        await radio.serve_central(f"tcp-server:127.0.0.1:{hci_port}")
        sensors = EmulatedGarden(
            SENSOR_NODES, clock=clock, radio=radio, photo_every_s=None, state_dir=state_dir
        )
        cameras = EmulatedGarden(
            CAMERA_NODES,
            clock=clock,
            radio=radio,
            photo_every_s=1800,
            photo_size=(800, 600),
            state_dir=state_dir,
            first_index=SENSOR_NODES + 1,
        )
        garden = TwoGardens(sensors, cameras)
        print(json.dumps({"start": clock.start.isoformat(), "started_at": clock.started_at}))
        sys.stdout.flush()
        try:
            while (line := await lines.get()) is not None:
                if line == "boot":
                    await garden.start()
                    print("booted", flush=True)
        finally:
            await garden.stop()
            await radio.close()
        return garden.report()

    state_dir.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(asyncio.run(main())))


# ------------------------------------------------------------------------------ the child (hub)


class RemoteGarden:
    """The garden as the hub's process sees it: its nodes in the garden process, its
    controller across the HCI transport; booted by the bench once the hub answers."""

    def __init__(self, clock: Any, radio: Any) -> None:
        from hub.ble.emulator.garden import garden_bindkey, garden_mac

        self.clock = clock
        self.radio = radio
        macs = [garden_mac(i) for i in range(1, SENSOR_NODES + CAMERA_NODES + 1)]
        self.bindkeys = {mac: garden_bindkey(mac) for mac in macs}

    def backends(self) -> Any:
        """The hub-side radio's bleak backends."""
        return self.radio.backends()

    async def start(self, *, stagger_real_s: float = 0.0) -> None:
        """Nothing here: the garden process boots the nodes."""

    async def stop(self) -> None:
        """Close the hub's side of the radio."""
        await self.radio.close()


def run_child(
    data_dir: Path, port: int, report: Path, green_photo: Path, hci_port: int, clock: str
) -> None:
    """The hub under test: measure green metrics under the quota, then serve until stdin closes."""
    figures: dict[str, Any] = {"green_ms_per_image": green_ms(green_photo.read_bytes(), 3)}

    # The hub's own modules first, then what only the emulated garden needs: the difference is
    # the emulator's import cost, which a real hub does not carry.
    import uvicorn

    from hub.app import create_app
    from hub.gateways import EmulatedHubGateway
    from hub.settings import Environment, HubSettings

    hub_imported_mb = rss_mb()  # what ``plantvita hub serve`` imports on the adapter
    from hub.ble.bumble_backend import BumbleRadio
    from hub.ble.emulator import SimClock

    figures["emulator_mb"] = round(rss_mb() - hub_imported_mb, 1)

    speed, start, started_at = json.loads(clock)
    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=data_dir,
        host="127.0.0.1",
        port=port,
        cloud_url=None,
        ble_enabled=True,
    )

    def factory(store: Any, hub_settings: HubSettings) -> EmulatedHubGateway:
        garden = RemoteGarden(
            SimClock(
                speed,
                datetime.fromisoformat(start),
                cap_at_real=True,
                started_at=started_at,
            ),
            BumbleRadio(hci_transport=f"tcp-client:127.0.0.1:{hci_port}"),
        )
        # Nodes only, no plants, as the budget was set (55 plants: see docs/benchmarks.md).
        return EmulatedHubGateway(
            store, hub_settings, garden, pair=True, boot_in_background=False, plant=False
        )

    app = create_app(settings, gateway_factory=factory)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )

    async def serve_until_stdin_closes() -> None:
        # Stopped by the parent closing our stdin: uvicorn re-raises a SIGTERM it caught after
        # shutting down, which would kill this process before it reports.
        lines = stdin_lines(asyncio.get_running_loop())

        async def stop_at_eof() -> None:
            while await lines.get() is not None:
                pass
            server.should_exit = True

        stopper = asyncio.create_task(stop_at_eof())
        await server.serve()
        stopper.cancel()

    asyncio.run(serve_until_stdin_closes())
    report.write_text(json.dumps(figures))


def losses(database: Path, nodes: dict[str, Any]) -> dict[str, int]:
    """What the nodes measured and served against what the hub stored (after both stopped)."""
    with sqlite3.connect(database) as db:
        stored = set(
            db.execute(
                "SELECT n.mac, r.seq FROM readings r JOIN nodes n ON n.id = r.node_id "
                "WHERE r.seq IS NOT NULL"
            ).fetchall()
        )
        hashes = {row[0] for row in db.execute("SELECT sha256 FROM images")}
    measured = lost = held = 0
    photos = photos_lost = 0
    for mac, node in nodes.items():
        on_node = set(node["held"])
        for seq in node["measured"]:
            measured += 1
            if (mac, seq) in stored:
                continue
            if seq in on_node:
                held += 1
            else:
                lost += 1
        images_held = set(node["images_held"])
        for image_id, sha in node["served"]:
            photos += 1
            # Sent whole but not stored (a transfer cut by the shutdown, say) is not lost while
            # the node still holds it: the node deletes a photo only when the hub says so.
            photos_lost += sha not in hashes and image_id not in images_held
    return {
        "readings_measured": measured,
        "readings_stored": measured - lost - held,
        "readings_held_on_nodes": held,
        "readings_lost": lost,
        "photos_served": photos,
        "photos_lost": photos_lost,
    }


# ------------------------------------------------------------------------------ the parent


async def drive(
    port: int, seconds: float, photos: list[bytes], boot: Callable[[], Awaitable[None]]
) -> dict[str, Any]:
    """Boot the garden once the hub answers, then time the overview page while uploading 12 MP
    photos; sample nothing else."""
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        deadline = time.monotonic() + 120
        while True:
            try:
                if (await http.get("/readyz")).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not answer within 120 s")
            await asyncio.sleep(0.5)
        await http.post("/api/v1/auth/password", json={"password": ADMIN_PASSWORD})
        http.auth = httpx.BasicAuth("admin", ADMIN_PASSWORD)
        nodes = (await http.get("/api/v1/nodes")).json()
        node_mac = nodes[0]["mac"] if nodes else None
        await boot()  # timed in the garden's steady state, not during its boot

        uploaded = 0
        uploading = False

        async def upload_all() -> None:
            nonlocal uploaded, uploading
            for i, data in enumerate(photos):
                uploading = True
                response = await http.post(
                    "/api/v1/images",
                    files={"file": (f"plant-{i}.jpg", data, "image/jpeg")},
                    data={"node_mac": node_mac} if node_mac else {"plant_id": "none"},
                )
                uploading = False
                if response.status_code == 201:
                    uploaded += 1
                await asyncio.sleep(seconds / (len(photos) + 1))

        uploads = asyncio.create_task(upload_all())
        latencies: list[float] = []
        during_upload: list[float] = []  # requests that began or ended while one was sent
        errors = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            overlapped = uploading
            response = await http.get("/api/v1/web/overview")
            latency = (time.perf_counter() - started) * 1000
            latencies.append(latency)
            if overlapped or uploading:
                during_upload.append(latency)
            errors += response.status_code != 200
            await asyncio.sleep(0.2)
        await uploads
        latencies.sort()
        return {
            "overview_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "overview_p50_ms": round(statistics.median(latencies), 1),
            "overview_max_during_upload_ms": round(max(during_upload, default=0.0), 1),
            "overview_requests_during_upload": len(during_upload),
            "overview_requests": len(latencies),
            "overview_errors": errors,
            "photos_uploaded_12mp": uploaded,
        }


def run(quick: bool) -> dict[str, Any]:
    """Start the garden, then the hub in the cgroup; drive it, stop both, collect figures."""
    seconds = 25.0 if quick else 180.0
    speed = 60.0 if quick else 30.0
    uploads = 2 if quick else 6
    say(f"machine: {machine_info()}")
    say(
        f"hub in {MEMORY_LIMIT_MB} MB and {CPU_QUOTA:.0%} of a core with {SENSOR_NODES} sensor "
        f"+ {CAMERA_NODES} camera nodes outside it, {seconds:.0f} s at {speed:g}x garden speed"
    )
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="pi-budget-") as tmp:
        work = Path(tmp)
        green_photo = work / "green.jpg"
        green_photo.write_bytes(photo_12mp(0))
        baseline_green = green_ms(green_photo.read_bytes(), 3)
        photos = [photo_12mp(i + 1) for i in range(uploads)]
        port, hci_port = free_port(), free_port()
        hub_report, garden_report = work / "hub.json", work / "garden.json"
        garden = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.pi_budget",
                "--garden",
                str(work / "nodes"),
                str(speed),
                str(hci_port),
                str(garden_report),
            ],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert garden.stdin is not None
        assert garden.stdout is not None
        garden_in, garden_out = garden.stdin, garden.stdout
        clock = json.loads(garden_out.readline())
        group = Cgroup.create(f"plantvita-pi-budget-{os.getpid()}", MEMORY_LIMIT_MB, CPU_QUOTA)
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.pi_budget",
                "--child",
                str(work / "hub"),
                str(port),
                str(hub_report),
                str(green_photo),
                str(hci_port),
                json.dumps([speed, clock["start"], clock["started_at"]]),
            ],
            preexec_fn=group.join,  # joins the cgroup before exec
            env={**os.environ, **unit_environment()},
            cwd=root,
            stdin=subprocess.PIPE,
        )
        peak_rss = 0.0
        sampling = True

        async def sample_rss() -> None:
            nonlocal peak_rss
            proc = psutil.Process(child.pid)
            while sampling:
                try:
                    peak_rss = max(peak_rss, proc.memory_info().rss / 2**20)
                except psutil.Error:
                    return
                await asyncio.sleep(0.25)

        async def boot() -> None:
            garden_in.write("boot\n")
            garden_in.flush()
            if (await asyncio.to_thread(garden_out.readline)).strip() != "booted":
                raise RuntimeError("the garden did not boot")

        async def main() -> dict[str, Any]:
            nonlocal sampling
            sampler = asyncio.create_task(sample_rss())
            try:
                return await drive(port, seconds, photos, boot)
            finally:
                sampling = False
                await sampler

        try:
            cpu_start, wall_start = group.cpu_seconds(), time.monotonic()
            figures = asyncio.run(main())
            # The group's CPU over the same wall time (start-up included), as a share of one core.
            cpu_s = group.cpu_seconds() - cpu_start
            wall_s = time.monotonic() - wall_start
            assert child.stdin is not None
            child.stdin.close()  # the hub's signal to shut down and report
            child.wait(timeout=180)
            garden_in.close()  # then the nodes': they report what they measured and served
            garden.wait(timeout=60)
        finally:
            for process in (child, garden):
                if process.poll() is None:
                    process.kill()
                    process.wait()
            oom = group.oom_kills()
            peak_group = group.peak_mb()
            group.remove()
        figures.update(json.loads(hub_report.read_text()) if hub_report.exists() else {})
        if garden_report.exists():
            figures.update(
                losses(work / "hub" / "hub.sqlite3", json.loads(garden_report.read_text()))
            )
    killed = child.returncode == -signal.SIGKILL
    # The hub's process imports the emulator to build its side of the radio; a real hub does
    # not: ``rss_mb`` is its peak less that import's cost, the raw peak stays in the figures.
    emulator = figures.get("emulator_mb", 0.0)
    figures.update(
        rss_mb=round(peak_rss - emulator, 1),
        rss_with_emulator_mb=round(peak_rss, 1),
        cgroup_peak_mb=round(peak_group, 1),
        oom_killed=bool(oom or killed),
        cgroup_version=group.version,
        cpu_share_used=round(cpu_s / wall_s, 3) if cpu_s == cpu_s else None,
        green_ms_unlimited=round(baseline_green, 1),
    )
    if "green_ms_per_image" in figures:
        figures["green_ms_per_image"] = round(figures["green_ms_per_image"], 1)
        figures["green_quota_slowdown"] = round(figures["green_ms_per_image"] / baseline_green, 2)
    figures.setdefault("readings_lost", None)
    figures.setdefault("photos_lost", None)
    figures["targets_met"] = bool(
        figures["rss_mb"] <= TARGET_RSS_MB
        and not figures["oom_killed"]
        and figures["readings_lost"] == 0
        and figures["photos_lost"] == 0
        and figures["overview_p95_ms"] < TARGET_OVERVIEW_P95_MS
    )
    return figures


def free_port() -> int:
    """A TCP port free on loopback right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="25 s run instead of 3 minutes")
    parser.add_argument(
        "--child", nargs=6, metavar=("DATA", "PORT", "REPORT", "PHOTO", "HCI_PORT", "CLOCK")
    )
    parser.add_argument("--garden", nargs=4, metavar=("STATE", "SPEED", "HCI_PORT", "REPORT"))
    args = parser.parse_args()
    if args.child:
        data, port, report, photo, hci_port, clock = args.child
        run_child(Path(data), int(port), Path(report), Path(photo), int(hci_port), clock)
        return 0
    if args.garden:
        state, speed, hci_port, report = args.garden
        run_garden(Path(state), float(speed), int(hci_port), Path(report))
        return 0
    if os.geteuid() != 0:
        say("bench.pi_budget needs root to create cgroups")
        return 2
    emit_result(run(args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
