"""The arm64 hub's sync against a real cloud (used by pi-check.sh; runs on the host).

``cloud DATA_DIR PORT`` starts embedded PostgreSQL and ``plantvita cloud run`` on loopback and
stays in the foreground until stdin closes. ``sync HUB_URL CLOUD_URL`` then does what
a gardener does with the hub under qemu: sets its admin password, signs up in the cloud, links the
hub with the device flow, and syncs until the cloud holds readings of every emulated node.
Prints one line per step; exits 1 with the reason when a step fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx

from plantvita.demo import scenario
from plantvita.demo.supervisor import plantvita_command

EMAIL = "pi-check@example.org"
SYNC_DEADLINE_S = 900.0  # qemu-user runs the hub several times slower than a Pi


def say(message: str) -> None:
    print(f"pi-check sync: {message}", flush=True)


def run_cloud(data_dir: Path, port: int) -> int:
    """Embedded PostgreSQL, migrations and the cloud API until stdin closes."""
    from cloud.db.migrations import upgrade_to_head
    from plantvita.demo.run import start_database

    database = start_database(data_dir / "pgdata")
    try:
        url = database.uri()
        upgrade_to_head(url)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PLANTVITA_CLOUD_STORAGE_DIR": str(data_dir / "objects"),
            "PLANTVITA_CLOUD_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "PLANTVITA_CLOUD_DEVICE_POLL_INTERVAL_S": "1",
            "PLANTVITA_CLOUD_DB_POOL_SIZE": "4",
        }
        command = [*plantvita_command(), "cloud", "run", "--host", "127.0.0.1", "--port", str(port)]
        with subprocess.Popen(command, env=env) as cloud:  # noqa: S603 - our own CLI
            sys.stdin.read()
            cloud.terminate()
            try:
                cloud.wait(60)
            except subprocess.TimeoutExpired:
                cloud.kill()  # never left running after this script
                cloud.wait()
    finally:
        database.stop()
    return 0


async def check_sync(hub_url: str, cloud_url: str) -> int:
    """Link the hub and wait until the cloud holds readings of every node it has paired."""
    password = secrets.token_urlsafe(12)
    await scenario.wait_healthy(cloud_url, 180)
    async with (
        httpx.AsyncClient(base_url=cloud_url, timeout=60) as cloud,
        httpx.AsyncClient(base_url=hub_url, timeout=120, auth=("admin", password)) as hub,
    ):
        await scenario.set_hub_password(hub, password)
        user = await scenario.sign_up(cloud, EMAIL, password)
        hub_id = await scenario.link_hub(hub, cloud, user, deadline_s=300)
        say(f"hub linked with the device flow (hub id {hub_id})")
        macs = sorted(n["mac"] for n in (await hub.get("/api/v1/nodes")).json())
        if not macs:
            say("the hub has no paired node")
            return 1
        node_ids = await scenario.wait_cloud_nodes(hub, cloud, user, macs, SYNC_DEADLINE_S)
        say(f"the cloud knows the hub's {len(node_ids)} nodes")
        deadline = time.monotonic() + SYNC_DEADLINE_S
        missing = set(macs)
        while missing and time.monotonic() < deadline:
            await scenario.sync_now(hub)
            for mac in sorted(missing):
                history = await cloud.get(
                    f"/api/v1/nodes/{node_ids[mac]}/readings", headers=user.headers
                )
                if history.status_code == 200 and history.json()["points"]:
                    missing.discard(mac)
            await asyncio.sleep(2)
        if missing:
            say(f"no readings in the cloud from {', '.join(sorted(missing))}")
            return 1
        say(f"readings of all {len(macs)} nodes reached the cloud from the arm64 hub")
    return 0


def main() -> int:
    """Entry point (see the module docstring)."""
    match sys.argv[1:]:
        case ["cloud", data_dir, port]:
            return run_cloud(Path(data_dir), int(port))
        case ["sync", hub_url, cloud_url]:
            try:
                return asyncio.run(check_sync(hub_url, cloud_url))
            except (scenario.ScenarioError, httpx.HTTPError) as exc:
                say(f"failed: {exc}")
                return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
