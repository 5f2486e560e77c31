"""Exactly-once across faults, through real processes on loopback.

One garden for the module: the cloud (uvicorn, embedded PostgreSQL, local object store) and a
hub whose radio is an emulated garden (Bumble), with a fault proxy between them. Each test
injects one fault while the garden keeps measuring, clears it, then checks that the cloud
holds every reading each node logged exactly once, with its values, and every photo a node
served with the same sha256 in the object store (``FaultGarden.assert_exactly_once``). The
garden runs at ``SPEED`` times real time with a one-second sync interval, so each fault
spans many measurements and sync attempts. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.db.embedded import EmbeddedPostgres
from shared.sync import SYNC_IMAGE_COMPLETE_PATH, SYNC_READINGS_PATH
from tests.cloud.conftest import create_database, drop_database
from tests.e2e.faultgarden import FaultGarden, new_garden
from tests.e2e.harness import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

REPLAYED = 'plantvita_cloud_ingest_readings_total{outcome="replayed"}'
IMAGE_COMPLETE = SYNC_IMAGE_COMPLETE_PATH.replace("{image_id}", "*")


@pytest.fixture(scope="module")
def garden(
    pg_server: EmbeddedPostgres, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultGarden]:
    name = create_database(pg_server, migrated_template)
    garden = new_garden(tmp_path_factory.mktemp("faults"), pg_server.uri(name))
    try:
        garden.start_cloud()
        garden.start_hub()
        asyncio.run(garden.set_up())
        yield garden
    finally:
        garden.proxy.close()
        garden.supervisor.stop()
        drop_database(pg_server, name)


@pytest.fixture(autouse=True)
async def _garden_up(garden: FaultGarden) -> None:
    """Each test starts from a running garden, whatever the previous one left."""
    await garden.all_up()


async def _wait(event: threading.Event, deadline_s: float, what: str) -> None:
    async def fired() -> bool:
        return event.is_set()

    await eventually(fired, deadline_s, what, every_s=0.05)


async def _photo_on_every_node(garden: FaultGarden, hub: httpx.AsyncClient) -> None:
    for mac in garden.macs:
        await garden.emulator(hub, mac, "capture")


async def test_cloud_down_for_a_long_stretch(garden: FaultGarden) -> None:
    async with garden.clients() as (_cloud, hub):
        await _photo_on_every_node(garden, hub)
        garden.kill_cloud(signal.SIGTERM)
        started = time.monotonic()

        # Down long enough for several batches to pile up and many sync attempts to fail.
        async def backlog() -> int | None:
            garden.running()
            pending = await garden.hub_pending_readings(hub)
            return pending if pending >= 60 and time.monotonic() - started >= 10 else None

        await eventually(backlog, 90, "a backlog on the hub while the cloud is down")
        status = (await hub.get("/api/v1/sync/status")).json()
        errors = [e for e in status["ledger"] if e["last_error_at"] is not None]
        assert errors, status
    garden.start_cloud()
    await garden.cloud_up()
    # The gardener does not wait for the schedule: ``plantvita hub sync-now`` on the hub.
    synced = await asyncio.to_thread(garden.hub_cli, "sync-now")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert '"error":null' in synced.stdout.replace(" ", ""), synced.stdout
    counts = await garden.assert_exactly_once()
    assert counts["photos"] >= len(garden.macs)


async def test_cloud_killed_mid_batch(garden: FaultGarden) -> None:
    # Twice: at once when the batch has arrived, and a moment later (inside its transaction).
    for delay_s in (0.0, 0.05):

        def kill_soon(delay_s: float = delay_s) -> None:
            threading.Timer(delay_s, garden.kill_cloud).start()

        killed = garden.proxy.on_request(SYNC_READINGS_PATH, kill_soon)
        await _wait(killed, 30, "a readings batch reaching the cloud")

        async def killed_cloud() -> bool:
            return garden.cloud_down

        await eventually(killed_cloud, 10, "the cloud killed", every_s=0.05)
        garden.start_cloud()
        await garden.cloud_up()
    await garden.assert_exactly_once()


async def test_network_flaps_and_lost_acks(garden: FaultGarden) -> None:
    proxy = garden.proxy
    async with garden.clients() as (cloud, hub):
        replayed = await garden.cloud_metric(cloud, REPLAYED)
        lost_before = proxy.responses_lost
        await _photo_on_every_node(garden, hub)

        # Acks lost: the cloud stored the batch (or the photo), the hub never heard so.
        acks_lost = proxy.lose_responses(SYNC_READINGS_PATH, 3)
        image_ack_lost = proxy.lose_responses(IMAGE_COMPLETE, 1)
        await _wait(acks_lost, 30, "three readings batches whose acks get lost")
        await _wait(image_ack_lost, 60, "a photo completion whose ack gets lost")

        async def dropped() -> bool:
            # (A request the hub gave up on, its sibling's ack being lost, gets no response.)
            return proxy.responses_lost > lost_before

        await eventually(dropped, 20, "responses dropped on their way to the hub", every_s=0.1)

        # Flaps: the link goes down (open connections cut mid-transfer) and comes back.
        await _photo_on_every_node(garden, hub)
        for _flap in range(3):
            proxy.cut()
            cut_at = (await hub.get("/api/v1/sync/status")).json()["last_run_at"]

            async def tried_since_cut(cut_at: str | None = cut_at) -> bool:
                status = (await hub.get("/api/v1/sync/status")).json()
                return bool(status["last_run_at"] != cut_at)

            await eventually(tried_since_cut, 20, "a sync attempt while the link is down")
            proxy.restore()
            seen = proxy.requests.get(SYNC_READINGS_PATH, 0)

            async def through_again(seen: int = seen) -> bool:
                return proxy.requests.get(SYNC_READINGS_PATH, 0) > seen

            await eventually(through_again, 20, "a batch through the restored link", every_s=0.1)
        counts = await garden.assert_exactly_once()
        # The hub sent the batches whose acks it lost again under the same ids.
        assert await garden.cloud_metric(cloud, REPLAYED) > replayed
    assert counts["photos"] >= 2 * len(garden.macs)


async def test_same_batch_delivered_twice(garden: FaultGarden) -> None:
    proxy = garden.proxy
    first = len(proxy.captured)
    await _wait(proxy.capture(SYNC_READINGS_PATH), 30, "a readings batch")
    batch = proxy.captured[first]
    headers = {
        k: v
        for k, v in batch.headers.items()
        if k in ("authorization", "content-type", "content-encoding")
    }
    async with garden.clients() as (cloud, _hub):

        async def deliver() -> dict[str, object]:
            response = await cloud.post(batch.path, content=batch.body, headers=headers)
            assert response.status_code == 200, response.text
            ack: dict[str, object] = response.json()
            return ack

        # Again, then twice more at the same time as each other.
        again = await deliver()
        twice = await asyncio.gather(deliver(), deliver())
        acks = [again, *twice]
        assert len({str(a["batch_id"]) for a in acks}) == 1
        assert all(a["replayed"] for a in twice)
        assert all(a["accepted"] == acks[0]["accepted"] for a in acks)
    await garden.assert_exactly_once()


async def test_hub_killed_mid_sync(garden: FaultGarden) -> None:
    async with garden.clients() as (cloud, _hub):
        replayed = await garden.cloud_metric(cloud, REPLAYED)
        killed = garden.proxy.on_request(SYNC_READINGS_PATH, garden.kill_hub)
        await _wait(killed, 30, "a readings batch in flight")
        garden.start_hub()
        await garden.hub_up()
        await garden.assert_exactly_once()
        # The restarted hub sent the batch it had in flight again, under the same id.
        assert await garden.cloud_metric(cloud, REPLAYED) > replayed


def _newest_backfilled(database: Path, mac: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute(
            "select max(r.seq) from readings r join nodes n on n.id = r.node_id "
            "where n.mac = ? and r.source = 'backfill'",
            (mac,),
        ).fetchone()
    return int(row[0] or 0)


def _acked_in_journal(garden: FaultGarden, mac: str) -> int:
    journal = garden.data_dir / "hub" / "garden" / f"{mac.replace(':', '')}.jsonl"
    acks = [json.loads(line)["ack"] for line in journal.read_text().splitlines() if '"ack"' in line]
    return max(acks, default=0)


async def test_hub_killed_mid_write(garden: FaultGarden) -> None:
    """Killed as its backfill commits: the node still holds those records (not acked) and
    every node's adverts decoded but not yet flushed die with the process."""
    mac = garden.macs[0]
    database = garden.data_dir / "hub" / "hub.sqlite3"
    async with garden.clients() as (_cloud, hub):
        await garden.emulator(hub, mac, "capture")
        await garden.emulator(hub, mac, "out-of-range")
        counter = int((await garden.emulated(hub, mac))["counter"])

        async def records_piled_up() -> bool:
            return int((await garden.emulated(hub, mac))["counter"]) >= counter + 10

        await eventually(records_piled_up, 40, "records on the node out of range")
        # A slow flash erase holds the node's ACK: the kill lands between commit and ack.
        await hub.post(f"/api/v1/emulator/nodes/{mac}/slow-acks", params={"seconds": 10})
        before = _newest_backfilled(database, mac)
        await garden.emulator(hub, mac, "resume")
    deadline = time.monotonic() + 30
    while (committed := _newest_backfilled(database, mac)) == before:
        assert time.monotonic() < deadline, "no backfill written"
        await asyncio.sleep(0.01)
    garden.kill_hub()
    # The hub died with the backfill committed and the node still holding it.
    assert _acked_in_journal(garden, mac) < committed
    garden.start_hub()
    await garden.hub_up()
    await garden.assert_exactly_once()


async def test_node_out_of_range_then_back_with_backfill(garden: FaultGarden) -> None:
    mac = garden.macs[1]
    async with garden.clients() as (cloud, hub):
        await garden.emulator(hub, mac, "out-of-range")
        away_from = (await garden.emulated(hub, mac))["counter"] + 1
        await garden.emulator(hub, mac, "capture")

        async def away_long_enough() -> int | None:
            counter = int((await garden.emulated(hub, mac))["counter"])
            return counter if counter >= away_from + 12 else None

        away_to = await eventually(away_long_enough, 60, "12 measurements out of range")
        await garden.emulator(hub, mac, "resume")
        await garden.assert_exactly_once()
        held = {r.seq: r for r in await garden.cloud_readings(cloud, mac) if r.seq >= away_from}
        away = [held[seq] for seq in range(away_from, away_to + 1)]
        # Nothing was heard while away: all of it came back over GATT.
        assert all(r.source == "backfill" for r in away), [r.source for r in away]


async def test_node_reboot_losing_its_counter(garden: FaultGarden) -> None:
    mac = garden.macs[2]
    await garden.assert_exactly_once()
    async with garden.clients() as (_cloud, hub):
        response = await hub.post(
            f"/api/v1/emulator/nodes/{mac}/reboot", params={"keep_counter": "false"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["counter"] <= 1  # it started over (and may have measured once)

        # Over GATT the hub takes the restarted counter into a new epoch, sets the lost clock
        # and writes back the config that went with the flash. What the node measured before
        # its clock was set stays on it until timed records follow (then it is acked).
        async def taken_back() -> bool:
            node = await garden.emulated(hub, mac)
            return int(node["config_revision"]) >= 1

        await eventually(taken_back, 60, "the hub taking the restarted node back")
        # It fell asleep on the factory 10-minute interval before the config came: wake it.
        await garden.emulator(hub, mac, "wake")

        async def measured_again() -> bool:
            log = await garden.node_log(hub, mac)
            return sum(1 for m in log if m.incarnation == 1) >= 10

        await eventually(measured_again, 60, "ten measurements after the reboot")

        async def acked() -> bool:
            return int((await garden.emulated(hub, mac))["acked_upto"]) >= 1

        await eventually(acked, 60, "the records of the new boot acked")
    await garden.assert_exactly_once()
    async with garden.clients() as (cloud, _hub):
        held = await garden.cloud_readings(cloud, mac)
    # Both lives of the node are kept: its first seqs are in the cloud twice, as measured twice.
    assert len([r for r in held if r.seq == 1]) == 2
