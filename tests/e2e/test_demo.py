"""``plantvita demo`` as a gardener runs it: data flows within a minute, Ctrl-C leaves nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from plantvita.demo import scenario
from plantvita.demo.supervisor import free_port, plantvita_command
from tests.e2e.harness import eventually, postmaster_pid, process_alive, processes_mentioning

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@dataclass
class Demo:
    """A running ``plantvita demo``."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    output: Path
    cloud_url: str
    hub_url: str

    def running(self) -> None:
        """Fail with the demo's output if it exited."""
        assert self.process.poll() is None, self.output.read_text()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    data_dir = tmp_path / "demo"
    cloud_port, hub_port = free_port(), free_port()
    output = tmp_path / "demo.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [
                *plantvita_command(),
                "demo",
                "--data-dir",
                str(data_dir),
                "--cloud-port",
                str(cloud_port),
                "--hub-port",
                str(hub_port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Demo(
            process,
            data_dir,
            output,
            f"http://127.0.0.1:{cloud_port}",
            f"http://127.0.0.1:{hub_port}",
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


WEEK = timedelta(days=7)
SEEDED_PER_NODE = 336  # plantvita.demo.run: a week every half hour in each node's flash


async def _seeded_week(cloud: httpx.AsyncClient, user: scenario.CloudUser) -> dict[str, Any] | None:
    """A plant whose raw history spans the week before now and whose photos from days ago are
    linked to it (what the nodes' flash held when the demo started), or None."""
    now = datetime.now(UTC)
    plants = _json(await cloud.get("/api/v1/plants", headers=user.headers))
    for plant in plants:
        history = _json(
            await cloud.get(
                f"/api/v1/plants/{plant['id']}/readings",
                params={
                    "start": (now - WEEK - timedelta(hours=1)).isoformat(),
                    "end": now.isoformat(),
                    "resolution": "raw",
                    "max_points": 10_000,
                },
                headers=user.headers,
            )
        )
        times = [datetime.fromisoformat(p["t"]) for p in history["points"]]
        if len(times) < SEEDED_PER_NODE or min(times) > now - WEEK + timedelta(hours=1):
            continue
        images = _json(
            await cloud.get(f"/api/v1/plants/{plant['id']}/images", headers=user.headers)
        )
        old = [
            i
            for i in images
            if i["plant_id"] == plant["id"]
            and datetime.fromisoformat(i["captured_at"]) < now - timedelta(days=1)
        ]
        if len(old) >= 5:
            return {"plant": plant["id"], "readings": len(times), "old_photos": len(old)}
    return None


def _json(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def test_demo_shows_readings_photos_diagnoses_then_stops_cleanly(demo: Demo) -> None:
    credentials = demo.data_dir / "credentials.json"

    async def credentials_written() -> dict[str, str] | None:
        demo.running()
        return json.loads(credentials.read_text()) if credentials.exists() else None

    saved = await eventually(credentials_written, 60, "the demo writing its credentials")
    await scenario.wait_healthy(demo.cloud_url, 90)
    async with httpx.AsyncClient(base_url=demo.cloud_url, timeout=30) as cloud:

        async def week_seeded() -> dict[str, Any] | None:
            demo.running()
            token = await cloud.post(
                "/api/v1/auth/token",
                data={"username": saved["email"], "password": saved["password"]},
            )
            if token.status_code != 200:
                return None
            user = scenario.CloudUser(
                saved["email"], saved["password"], token.json()["access_token"]
            )
            return await _seeded_week(cloud, user)

        async def addresses_shown() -> bool | None:
            demo.running()
            return "Ctrl-C stops everything." in demo.output.read_text() or None

        # Charts and the gallery are full in the gardener's first minute (from when the demo
        # says where to look; the embedded database's start-up before it is the machine's):
        # the week the nodes' flash held reached the cloud through the hub's backfill and
        # sync, photos on their plants.
        await eventually(addresses_shown, 90, "the demo printing where to look", 0.5)
        seeded = await eventually(week_seeded, 60, "a week of history and photos", 2.0)
        assert seeded["readings"] >= SEEDED_PER_NODE

        async def hub_galleries_full() -> list[int] | None:
            # The hub's own galleries too: photos it fetched before a plant came down from
            # the cloud are that plant's, so no plant's gallery stays empty.
            demo.running()
            plants = _json(await cloud.get(f"{demo.hub_url}/api/v1/plants"))
            counts = [
                len(_json(await cloud.get(f"{demo.hub_url}/api/v1/plants/{p['id']}/images")))
                for p in plants
            ]
            return counts if len(counts) == 8 and min(counts) >= 5 else None

        await eventually(hub_galleries_full, 30, "a week of photos in every hub gallery", 2.0)

        async def flowing() -> scenario.CloudSummary | None:
            demo.running()
            token = await cloud.post(
                "/api/v1/auth/token",
                data={"username": saved["email"], "password": saved["password"]},
            )
            if token.status_code != 200:
                return None
            user = scenario.CloudUser(
                saved["email"], saved["password"], token.json()["access_token"]
            )
            summary = await scenario.cloud_summary(cloud, user)
            done = (
                summary.plants == 8
                and summary.plants_with_readings > 0
                and summary.images_with_metrics > 0
                and summary.diagnoses > 0
            )
            return summary if done else None

        summary = await eventually(flowing, 120, "readings, photos and a diagnosis", 2.0)
        hub_status = await cloud.get(f"{demo.hub_url}/api/v1/sync/status")
        app_shell = await cloud.get(f"{demo.cloud_url}/app/")
    assert app_shell.status_code == 200
    assert "/app/static/js/app.js" in app_shell.text
    assert summary.images >= summary.diagnoses
    assert hub_status.status_code == 200, hub_status.text
    pids: dict[str, int] = json.loads((demo.data_dir / "pids.json").read_text())
    assert set(pids) == {"cloud", "worker", "hub"}
    postgres = postmaster_pid(demo.data_dir / "pgdata")
    assert postgres is not None
    assert all(process_alive(pid) for pid in (*pids.values(), postgres))

    async def addresses_printed() -> bool | None:
        demo.running()
        return "Ctrl-C stops everything." in demo.output.read_text() or None

    await eventually(addresses_printed, 60, "the demo printing where to look")
    demo.process.send_signal(signal.SIGINT)
    assert await asyncio.to_thread(demo.process.wait, 90) == 0

    output = demo.output.read_text()
    assert f"{demo.hub_url}/" in output
    assert f"{demo.cloud_url}/docs" in output
    assert f"{demo.cloud_url}/app/" in output
    assert f"{saved['email']} / {saved['password']}" in output
    assert "Traceback" not in output
    assert [pid for pid in (*pids.values(), postgres) if process_alive(pid)] == []
    assert processes_mentioning(str(demo.data_dir)) == []
    assert postmaster_pid(demo.data_dir / "pgdata") is None
