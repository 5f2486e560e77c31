"""``plantvita demo``: embedded PostgreSQL, the cloud API, its worker and a hub with an
emulated garden on this machine, set up through the real APIs and supervised until Ctrl-C.

Nothing here fakes data: every count printed is read back from the cloud API. Setting
``GEMINI_API_KEY`` (or ``PLANTVITA_CLOUD_STORAGE_BACKEND=gcs`` with its bucket settings)
switches the children to the real services: the environment is passed through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from plantvita.demo import scenario
from plantvita.demo.garden_hub import LABELS_FILE
from plantvita.demo.supervisor import Supervisor, plantvita_command

if TYPE_CHECKING:
    from cloud.db.embedded import EmbeddedPostgres

DEMO_EMAIL = "gardener@example.com"
SAMPLING_INTERVAL_S = 10  # the emulated nodes measure this often in the demo (real seconds)
PHOTO_EVERY_S = 600  # the shortest camera interval a node config allows
ALERT_MIN_DURATION_S = 30  # a breach must last this long before it is an alert (demo only)
SYNC_INTERVAL_S = 5


@dataclass(frozen=True)
class DemoOptions:
    """Where and how big."""

    data_dir: Path = Path("var/demo")
    nodes: int = 8
    cloud_port: int = 8000
    hub_port: int = 8080
    keep: bool = False
    status_every_s: float = 15.0


def _say(message: str) -> None:
    print(message, flush=True)


def _credentials(data_dir: Path) -> tuple[str, str]:
    path = data_dir / "credentials.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return str(saved["email"]), str(saved["password"])
    password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({"email": DEMO_EMAIL, "password": password}))
    path.chmod(0o600)
    return DEMO_EMAIL, password


def cloud_env(options: DemoOptions, database_url: str) -> dict[str, str]:
    """The cloud API's and worker's environment: the caller's, plus the demo's settings."""
    cloud_url = f"http://127.0.0.1:{options.cloud_port}"
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env.pop("PLANTVITA_CLOUD_DATABASE_URL", None)
    demo = {
        "PLANTVITA_CLOUD_STORAGE_DIR": str((options.data_dir / "objects").resolve()),
        "PLANTVITA_CLOUD_PUBLIC_BASE_URL": cloud_url,  # the hub's link opens {cloud}/app/link
        # One Web Push key for the API and the worker, kept with the demo's data.
        "PLANTVITA_CLOUD_VAPID_KEY_FILE": str((options.data_dir / "vapid_private.pem").resolve()),
        "PLANTVITA_CLOUD_WORKER_INLINE": "false",
        "PLANTVITA_CLOUD_WORKER_POLL_S": "1",
        "PLANTVITA_CLOUD_DEVICE_POLL_INTERVAL_S": "1",
        "PLANTVITA_CLOUD_ALERT_MIN_DURATION_S": str(ALERT_MIN_DURATION_S),
        "PLANTVITA_CLOUD_DB_POOL_SIZE": "5",
    }
    for key, value in demo.items():
        env.setdefault(key, value)
    return env


def hub_env(options: DemoOptions) -> dict[str, str]:
    """The hub's environment: the caller's, plus where and how the demo hub runs."""
    env = dict(os.environ)
    demo = {
        "PLANTVITA_HUB_DATA_DIR": str((options.data_dir / "hub").resolve()),
        "PLANTVITA_HUB_HOST": "127.0.0.1",
        "PLANTVITA_HUB_PORT": str(options.hub_port),
        "PLANTVITA_HUB_CLOUD_URL": f"http://127.0.0.1:{options.cloud_port}",
        "PLANTVITA_HUB_SYNC_INTERVAL_S": str(SYNC_INTERVAL_S),
        "PLANTVITA_HUB_SYNC_BACKOFF_MAX_S": "30",
        "PLANTVITA_HUB_IMAGE_UPLOAD_BYTES_PER_S": str(4 * 1024 * 1024),
        "PLANTVITA_HUB_BLE_PASSIVE_SCAN": "false",  # scan responses carry "photo waiting"
        "PLANTVITA_HUB_ALERT_MIN_DURATION_S": str(ALERT_MIN_DURATION_S),
        "PLANTVITA_HUB_ALERT_INTERVAL_S": "5",
    }
    for key, value in demo.items():
        env[key] = value
    return env


def start_tiers(
    supervisor: Supervisor,
    options: DemoOptions,
    database_url: str,
    *,
    cloud_overrides: dict[str, str] | None = None,
    hub_overrides: dict[str, str] | None = None,
) -> str:
    """Spawn the cloud API, its worker and the garden hub; record their pids. The diagnoser."""
    cli = plantvita_command()
    cloud = {**cloud_env(options, database_url), **(cloud_overrides or {})}
    diagnoser = (
        "Gemini"
        if cloud.get("GEMINI_API_KEY") or cloud.get("PLANTVITA_CLOUD_GEMINI_API_KEY")
        else "built-in heuristic (no GEMINI_API_KEY)"
    )
    supervisor.spawn(
        "cloud",
        [*cli, "cloud", "run", "--host", "127.0.0.1", "--port", str(options.cloud_port)],
        cloud,
    )
    supervisor.spawn("worker", [*cli, "cloud", "worker"], cloud)
    supervisor.spawn(
        "hub",
        [
            sys.executable,
            "-m",
            "plantvita.demo.garden_hub",
            "--nodes",
            str(options.nodes),
            "--sampling-interval",
            str(SAMPLING_INTERVAL_S),
            "--photo-every",
            str(PHOTO_EVERY_S),
        ],
        {**hub_env(options), **(hub_overrides or {})},
    )
    pids = {child.name: child.pid for child in supervisor.children}
    (options.data_dir / "pids.json").write_text(json.dumps(pids))
    return diagnoser


class DemoFailed(RuntimeError):
    """A child died or a set-up step failed."""


async def _watch(supervisor: Supervisor, stop: asyncio.Event) -> None:
    while not stop.is_set():
        dead = supervisor.dead()
        if dead:
            child = dead[0]
            raise DemoFailed(
                f"{child.name} exited with {child.process.returncode}; "
                f"its log ({child.log_path}) ends with:\n{child.tail()}"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _set_up_and_report(options: DemoOptions, stop: asyncio.Event) -> None:
    cloud_url = f"http://127.0.0.1:{options.cloud_port}"
    hub_url = f"http://127.0.0.1:{options.hub_port}"
    email, password = _credentials(options.data_dir)
    await scenario.wait_healthy(cloud_url, 120)
    await scenario.wait_healthy(hub_url, 120)
    async with (
        httpx.AsyncClient(base_url=cloud_url, timeout=30) as cloud,
        httpx.AsyncClient(base_url=hub_url, timeout=60, auth=("admin", password)) as hub,
    ):
        user = await scenario.sign_up(cloud, email, password)
        _say(f"demo user {email} signed in to the cloud")
        await scenario.set_hub_password(hub, password)
        hub_id = await scenario.link_hub(hub, cloud, user)
        _say(f"hub linked to the cloud with the device flow (hub id {hub_id})")
        labels = scenario.read_labels(options.data_dir / "hub" / LABELS_FILE)
        node_ids = await scenario.register_cloud_nodes(cloud, user, hub_id, sorted(labels))
        plants = await scenario.plant_garden(
            cloud, user, node_ids, sampling_interval_s=SAMPLING_INTERVAL_S
        )
        _say(f"created {len(plants)} plants with species in the cloud; their config goes down")
        macs = await scenario.pair_seen_nodes(hub, labels)
        _say(f"paired {len(macs)} emulated nodes with the bindkeys on their labels")
        forgotten = macs[0]
        (await hub.post(f"/api/v1/emulator/nodes/{forgotten}/dry")).raise_for_status()
        _say(f"the pot on {forgotten} was forgotten: its soil is drying out")
        _say("")
        _say(f"  hub web UI:      {hub_url}/   (admin password: {password})")
        _say(f"  cloud app:       {cloud_url}/app/   (sign in as the demo user)")
        _say(f"  cloud API docs:  {cloud_url}/docs")
        _say(f"  demo user:       {email} / {password}")
        _say(f"  logs:            {options.data_dir / 'logs'}")
        _say("")
        _say("Ctrl-C stops everything.")
        # After the addresses: a first sync under load can take a while, and the gardener
        # should not wait for it to learn where to look.
        await scenario.sync_now(hub)
        started = time.monotonic()
        firsts: dict[str, float] = {}
        next_status = 0.0
        while not stop.is_set():
            summary = await scenario.cloud_summary(cloud, user)
            elapsed = time.monotonic() - started
            for what, count in (
                ("readings", summary.plants_with_readings),
                ("photos", summary.images),
                ("canopy metrics", summary.images_with_metrics),
                ("alerts", summary.alerts),
                ("diagnoses", summary.diagnoses),
            ):
                if count and what not in firsts:
                    firsts[what] = elapsed
                    _say(f"first {what} in the cloud after {elapsed:.0f}s")
            if elapsed >= next_status:
                _say(summary.line())
                next_status = elapsed + options.status_every_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 3.0)


async def _supervise(options: DemoOptions, supervisor: Supervisor) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watch = asyncio.create_task(_watch(supervisor, stop))
    work = asyncio.create_task(_set_up_and_report(options, stop))
    stopped = asyncio.create_task(stop.wait())
    done, _pending = await asyncio.wait({watch, work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    code = 0
    for task in (watch, work):
        if task in done and task.exception() is not None:
            _say(f"demo failed: {task.exception()}")
            code = 1
        task.cancel()
    await asyncio.gather(watch, work, stopped, return_exceptions=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    return code


def start_database(pgdata: Path) -> EmbeddedPostgres:
    """Embedded PostgreSQL in ``pgdata`` (``start_embedded`` retries a slow ``pg_ctl start``)."""
    from cloud.db.embedded import start_embedded

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        return start_embedded(pgdata, cleanup="stop")


def run_demo(
    *,
    data_dir: Path | None = None,
    nodes: int = 8,
    cloud_port: int = 8000,
    hub_port: int = 8080,
    keep: bool = False,
) -> int:
    """Start every tier, set the garden up, report until SIGINT/SIGTERM; the exit code."""
    from cloud.db.migrations import upgrade_to_head

    options = DemoOptions(
        data_dir=data_dir or DemoOptions.data_dir,
        nodes=nodes,
        cloud_port=cloud_port,
        hub_port=hub_port,
        keep=keep,
    )
    if options.data_dir.exists() and not options.keep:
        shutil.rmtree(options.data_dir)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    _say(f"Plant-Vita demo in {options.data_dir.resolve()}")
    database = start_database(options.data_dir / "pgdata")
    supervisor = Supervisor(options.data_dir / "logs")
    try:
        url = database.uri()
        upgrade_to_head(url)
        _say("embedded PostgreSQL started and migrated")
        diagnoser = start_tiers(supervisor, options, url)
        _say(
            f"started the cloud API, its worker (diagnoses: {diagnoser}) and a hub "
            f"with {options.nodes} emulated nodes"
        )
        return asyncio.run(_supervise(options, supervisor))
    finally:
        _say("stopping…")
        supervisor.stop()
        database.stop()
        _say("stopped: no process left running")
