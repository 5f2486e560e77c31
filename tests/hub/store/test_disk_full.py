"""A full disk is reported (issue 17), tested on a small real tmpfs.

On a full filesystem the hub stored nothing (``store_commit_failed`` in the log) while ``/readyz``
said ``"database": "ok"``, with no alert and no metric; the disk budget looked only at its own
files, never at the filesystem's free space.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from hub.app import create_app, evaluate_alerts
from hub.budget import service as budget
from hub.hub_store import HubStore, open_store
from hub.settings import Environment, HubSettings
from tests.hub.factories import T0, create_readings
from tests.lifespan import LifespanManager

MAC = "AA:BB:CC:DD:EE:01"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 MB tmpfs (root may mount here; CI runs as root, so there it must run)."""
    mount_point = tmp_path / "card"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI: {done.stderr.strip()}")
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def settings_on(disk: Path, **changes: object) -> HubSettings:
    values: dict[str, object] = {"disk_reserve_mb": 1.0}  # full-disk problem below 256 KB
    values.update(changes)
    return HubSettings(
        environment=Environment.TEST,
        data_dir=disk / "hub",
        ble_enabled=False,
        **values,  # type: ignore[arg-type]
    )


def fill_up(disk: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem with someone else's file, leaving about ``leave_bytes`` free."""
    filler = disk / "filler.bin"
    with filler.open("wb") as out:
        chunk = b"\0" * 65_536
        while True:
            stats = os.statvfs(disk)
            free = stats.f_bavail * stats.f_frsize
            if free <= leave_bytes:
                break
            try:
                out.write(chunk[: max(4096, min(len(chunk), free - leave_bytes))])
                out.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return filler


async def database_check(http: httpx.AsyncClient) -> str:
    # The scheduler is not started here, so /readyz is 503 anyway: look at the database check.
    return str((await http.get("/readyz")).json()["checks"]["database"])


async def scalar(store: HubStore, sql: str) -> int:
    async with store.read() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def test_a_full_disk_fails_readyz_counts_commits_and_raises_an_alert(
    small_disk: Path,
) -> None:
    settings = settings_on(small_disk)
    app = create_app(settings, run_scheduler=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        store: HubStore = app.state.store
        await store.pair_node(MAC)
        await store.store_readings(create_readings(MAC, 100))
        assert await database_check(http) == "ok"

        filler = fill_up(small_disk)
        refused: Exception | None = None
        for i in range(1, 40):  # the WAL may still have room for the first few
            try:
                await store.store_readings(
                    create_readings(MAC, 2000, start_seq=i * 2000, start=T0 + timedelta(days=i))
                )
            except Exception as exc:
                refused = exc
                break
        assert refused is not None
        assert "full" in str(refused)

        ready = await http.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "cannot be written" in ready.json()["checks"]["database"]
        metrics = (await http.get("/metrics")).text
        failures = next(
            line for line in metrics.splitlines() if line.startswith("hub_store_commit_failures")
        )
        assert float(failures.split()[-1]) >= 1
        assert "hub_disk_free_bytes" in metrics
        overview = (await http.get("/api/v1/web/overview")).json()
        assert "cannot be written" in overview["storage_problem"]
        # The alert cannot be written while nothing can.
        with contextlib.suppress(Exception):
            await evaluate_alerts(store)

        # Room again (the gardener removed the file): the next commit works, the hub is ready,
        # and the alert of the episode is stored, resolved, and waits to go to the cloud.
        filler.unlink()
        await store.store_readings(create_readings(MAC, 10, start_seq=900_000))
        assert await database_check(http) == "ok"
        assert (await http.get("/api/v1/web/overview")).json()["storage_problem"] is None
        await evaluate_alerts(store)
        alerts = (await http.get("/api/v1/alerts")).json()
        disk = [a for a in alerts if a["kind"] == "disk_full"]
        assert len(disk) == 1, alerts
        assert "could not store data" in disk[0]["message"]
        assert disk[0]["resolved_at"] is not None
        pending = await scalar(
            store, "select count(*) from alerts where kind = 'disk_full' and sync_state = 0"
        )
        assert pending == 1


async def test_a_nearly_full_disk_raises_the_alert_while_it_lasts(small_disk: Path) -> None:
    async with open_store(settings_on(small_disk)) as store:
        await store.pair_node(MAC)
        filler = fill_up(small_disk, leave_bytes=128 * 1024)
        assert store.storage_problem() is not None
        assert "disk full" in (store.storage_problem() or "")
        await evaluate_alerts(store)
        assert (
            await scalar(
                store,
                "select count(*) from alerts where kind = 'disk_full' and resolved_at is null",
            )
            == 1
        )
        filler.unlink()
        await evaluate_alerts(store)
        assert (
            await scalar(
                store,
                "select count(*) from alerts where kind = 'disk_full' and resolved_at is null",
            )
            == 0
        )


async def test_the_budget_prunes_synced_data_when_the_filesystem_runs_short(
    small_disk: Path,
) -> None:
    # The configured budget (2 GB) is far away; the card itself is what runs out.
    settings = settings_on(small_disk, disk_reserve_mb=4.0)
    async with open_store(settings) as store:
        await store.pair_node(MAC)
        for i in range(4):
            await store.store_readings(
                create_readings(MAC, 5000, start_seq=i * 5000, start=T0 + timedelta(days=i * 4))
            )
        await store.write(lambda s: s.execute(text("update readings set sync_state = 1")))
        used = await budget.used_bytes(store)
        assert used < settings.disk_budget_bytes
        filler = fill_up(small_disk, leave_bytes=3 * 1024 * 1024)  # under the 4 MB reserve
        try:
            report = await budget.enforce(store)
            assert report.removed.get("readings", 0) > 0, "free space was not watched"
            assert report.dropped_unsynced == {}
            assert report.used_after <= report.budget < settings.disk_budget_bytes
        finally:
            filler.unlink()
