"""A Raspberry Pi's budget: the hub inside a 400 MB memory cgroup and a quarter of one core.

``python -m bench.pi_budget [--quick]`` (root: it creates cgroups; v1 or v2, whichever is there).

The hub process (``--child``) runs the real app under uvicorn with 50 emulated sensor nodes and
5 camera nodes (800×600 JPEGs, the firmware's size) on the in-process Bumble radio, born inside a
memory cgroup of 400 MB and a CPU quota of 25 % of one core: a Pi Zero 2 W's headroom after the
OS. The emulated nodes live in the hub's process (Bumble's link is in-process), so their CPU
counts against the hub's quota (the timings are an upper bound) and their memory is measured in
the child and taken off: ``rss_mb`` is the process's peak RSS less ``emulator_mb`` (the RSS that
importing the emulator and Bumble added after the hub's own modules, plus what building and
booting the 55 nodes added); ``rss_with_emulator_mb`` is the raw peak.

While it runs, this process (outside the cgroup) requests the garden overview page over and over
and uploads 12 MP photos, so the overview is timed while photos are analysed. At the end the
child compares what every node measured and served (its own log) with what the hub stored:
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


# ------------------------------------------------------------------------------ the child (hub)


class TwoGardens:
    """Sensor nodes and camera nodes on one radio and one clock, started and stopped together."""

    def __init__(self, sensors: Any, cameras: Any, rss_before_mb: float) -> None:
        self.parts = (sensors, cameras)
        self.clock = sensors.clock
        self.nodes = [*sensors.nodes, *cameras.nodes]
        self.rss_before_mb = rss_before_mb  # the process before the nodes were built
        self.footprint_mb = 0.0  # what building and booting them added

    @property
    def bindkeys(self) -> dict[str, bytes]:
        """Every node's bindkey."""
        return {**self.parts[0].bindkeys, **self.parts[1].bindkeys}

    def backends(self) -> Any:
        """The radio's bleak backends (one radio for both)."""
        return self.parts[0].backends()

    async def start(self, *, stagger_real_s: float = 0.0) -> None:
        """Boot every node, spread over one sampling interval.

        Real nodes boot at different times and their clocks drift, so their wakes fall anywhere
        in the interval; booted within ``stagger_real_s`` (2 s) they would all wake within 2 s
        of each other every interval, a lockstep no garden has.
        """
        interval = self.clock.real_seconds(self.nodes[0].flash.config.sampling_interval_s)
        spread = max(stagger_real_s, interval)
        await asyncio.gather(*(part.start(stagger_real_s=spread) for part in self.parts))
        self.footprint_mb = max(0.0, rss_mb() - self.rss_before_mb)

    async def stop(self) -> None:
        """Stop every node."""
        for part in self.parts:
            await part.stop()


def run_child(data_dir: Path, port: int, speed: float, report: Path, green_photo: Path) -> None:
    """The hub under test: measure green metrics under the quota, then serve until SIGTERM."""
    figures: dict[str, Any] = {"green_ms_per_image": green_ms(green_photo.read_bytes(), 3)}

    # The hub's own modules first, then what only the emulated nodes need: the difference is
    # the emulator's import cost, which a real hub does not carry.
    import uvicorn

    from hub.app import create_app
    from hub.settings import Environment, HubSettings

    hub_imported_mb = rss_mb()
    from hub.ble.bumble_backend import BumbleRadio
    from hub.ble.emulator import EmulatedGarden, SimClock
    from hub.gateways import EmulatedHubGateway

    emulator_import_mb = rss_mb() - hub_imported_mb

    settings = HubSettings(
        environment=Environment.TEST,
        data_dir=data_dir,
        host="127.0.0.1",
        port=port,
        cloud_url=None,
        ble_enabled=True,
    )
    gardens: list[TwoGardens] = []

    def factory(store: Any, hub_settings: HubSettings) -> EmulatedHubGateway:
        before = rss_mb()
        clock = SimClock(speed, datetime.now(UTC) - timedelta(hours=1), cap_at_real=True)
        radio = BumbleRadio()
        state = hub_settings.data_dir / "emulated-nodes"
        state.mkdir(parents=True, exist_ok=True)
        sensors = EmulatedGarden(
            SENSOR_NODES, clock=clock, radio=radio, photo_every_s=None, state_dir=state
        )
        cameras = EmulatedGarden(
            CAMERA_NODES,
            clock=clock,
            radio=radio,
            photo_every_s=1800,
            photo_size=(800, 600),
            state_dir=state,
            first_index=SENSOR_NODES + 1,
        )
        garden = TwoGardens(sensors, cameras, before)
        gardens.append(garden)
        # Booted before the hub answers: the overview is timed in the garden's steady state.
        # Nodes only, no plants, as the budget was set (55 plants: see docs/benchmarks.md).
        return EmulatedHubGateway(
            store,
            hub_settings,
            garden,  # type: ignore[arg-type]
            pair=True,
            boot_in_background=False,
            plant=False,
        )

    app = create_app(settings, gateway_factory=factory)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )

    async def serve_until_stdin_closes() -> None:
        # Stopped by the parent closing our stdin: uvicorn re-raises a SIGTERM it caught after
        # shutting down, which would kill this process before it reports.
        loop = asyncio.get_running_loop()

        def wait_for_eof() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(setattr, server, "should_exit", True)

        threading.Thread(target=wait_for_eof, daemon=True).start()
        await server.serve()

    asyncio.run(serve_until_stdin_closes())

    # The hub has stopped (lifespan shut the gateway and the garden down): compare.
    garden = gardens[0]
    with sqlite3.connect(data_dir / "hub.sqlite3") as db:
        stored = set(
            db.execute(
                "SELECT n.mac, r.seq FROM readings r JOIN nodes n ON n.id = r.node_id "
                "WHERE r.seq IS NOT NULL"
            ).fetchall()
        )
        hashes = {row[0] for row in db.execute("SELECT sha256 FROM images")}
    measured = lost = held = 0
    photos = photos_lost = 0
    for node in garden.nodes:
        on_node = {record.seq for record in node.flash.records}
        for measurement in node.log:
            measured += 1
            if (node.mac, measurement.seq) in stored:
                continue
            if measurement.seq in on_node:
                held += 1
            else:
                lost += 1
        for image_id, sha in node.served:
            photos += 1
            # Sent whole but not stored (a transfer cut by the shutdown, say) is not lost while
            # the node still holds it: the node deletes a photo only when the hub says so.
            photos_lost += sha not in hashes and image_id not in node.flash.images
    figures.update(
        emulator_mb=round(emulator_import_mb + garden.footprint_mb, 1),
        readings_measured=measured,
        readings_stored=measured - lost - held,
        readings_held_on_nodes=held,
        readings_lost=lost,
        photos_served=photos,
        photos_lost=photos_lost,
    )
    report.write_text(json.dumps(figures))


# ------------------------------------------------------------------------------ the parent


async def drive(port: int, seconds: float, photos: list[bytes]) -> dict[str, Any]:
    """Time the overview page while uploading 12 MP photos; sample nothing else."""
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
    """Start the child in the cgroup, drive it, stop it, collect figures."""
    seconds = 25.0 if quick else 180.0
    speed = 60.0 if quick else 30.0
    uploads = 2 if quick else 6
    say(f"machine: {machine_info()}")
    say(
        f"hub + {SENSOR_NODES} sensor + {CAMERA_NODES} camera nodes in {MEMORY_LIMIT_MB} MB and "
        f"{CPU_QUOTA:.0%} of a core, {seconds:.0f} s at {speed:g}x garden speed"
    )
    with tempfile.TemporaryDirectory(prefix="pi-budget-") as tmp:
        work = Path(tmp)
        green_photo = work / "green.jpg"
        green_photo.write_bytes(photo_12mp(0))
        baseline_green = green_ms(green_photo.read_bytes(), 3)
        photos = [photo_12mp(i + 1) for i in range(uploads)]
        group = Cgroup.create(f"plantvita-pi-budget-{os.getpid()}", MEMORY_LIMIT_MB, CPU_QUOTA)
        port = free_port()
        report = work / "report.json"
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.pi_budget",
                "--child",
                str(work / "hub"),
                str(port),
                str(speed),
                str(report),
                str(green_photo),
            ],
            preexec_fn=group.join,  # joins the cgroup before exec
            env={**os.environ, **unit_environment()},
            cwd=Path(__file__).resolve().parent.parent,
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

        async def main() -> dict[str, Any]:
            nonlocal sampling
            sampler = asyncio.create_task(sample_rss())
            try:
                return await drive(port, seconds, photos)
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
            child.stdin.close()  # the child's signal to shut down and report
            child.wait(timeout=180)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            oom = group.oom_kills()
            peak_group = group.peak_mb()
            group.remove()
        child_figures = json.loads(report.read_text()) if report.exists() else {}
    killed = child.returncode == -signal.SIGKILL
    figures.update(child_figures)
    # The nodes share the hub's process (Bumble's link is in-process): the hub's own RSS is the
    # process's peak less what the emulator added (its imports and its nodes, measured in the
    # child). The raw peak stays in the figures.
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
    parser.add_argument("--child", nargs=5, metavar=("DATA", "PORT", "SPEED", "REPORT", "PHOTO"))
    args = parser.parse_args()
    if args.child:
        data, port, speed, report, photo = args.child
        run_child(Path(data), int(port), float(speed), Path(report), Path(photo))
        return 0
    if os.geteuid() != 0:
        say("bench.pi_budget needs root to create cgroups")
        return 2
    emit_result(run(args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
