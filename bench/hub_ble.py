"""BLE gateway: encrypted adverts per second into the hub's SQLite, and the hub's memory.

``python -m bench.hub_ble [--quick]``.

1. Throughput: encrypted BTHome adverts of many paired nodes (every one a new measurement, the
   worst case: no burst repeat to skip) are handed to the gateway's bleak detection callback as
   pre-built ``BLEDevice``/``AdvertisementData`` objects; the clock stops when every reading is
   committed in the hub's real SQLite store. Baseline, same adverts, same run: bthome-ble decoding
   alone (one ``BTHomeBluetoothDeviceData`` per node with its bindkey), nothing stored.
2. Memory: RSS of this process (psutil) while 50 emulated nodes run over the Bumble backend with
   the gateway and the store, sampled through the run; the peak is reported.

Last stdout line: ``{"adverts_per_s", "baseline_adverts_per_s", "rss_mb", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bluetooth_data_tools import monotonic_time_coarse
from bthome_ble import BTHomeBluetoothDeviceData
from habluetooth import BluetoothServiceInfoBleak
from sqlalchemy import text

from bench._common import emit_result, machine_info, say
from hub.ble.bumble_backend import BumbleRadio, ble_device
from hub.ble.emulate import emulated_hub_radio
from hub.ble.emulator import garden_bindkey, garden_mac
from hub.ble.emulator.environment import PlantEnvironment
from hub.ble.gateway import Gateway
from hub.ble.settings import GatewaySettings
from hub.hub_store import HubStore, open_store
from hub.settings import Environment, HubSettings
from shared import ble_uuids
from shared.bthome import encrypt_service_data

TARGET_ADVERTS_PER_S = 5_000
TARGET_RSS_MB = 150.0

Advert = tuple[BLEDevice, AdvertisementData]


def build_adverts(nodes: int, per_node: int) -> tuple[list[Advert], dict[str, bytes]]:
    """Encrypted adverts, interleaved across nodes as a garden's radio would hear them."""
    keys = {garden_mac(i): garden_bindkey(garden_mac(i)) for i in range(1, nodes + 1)}
    envs = {mac: PlantEnvironment(seed=i) for i, mac in enumerate(keys)}
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 6, 1, tzinfo=UTC)
    adverts: list[Advert] = []
    devices = {mac: ble_device(mac, None) for mac in keys}
    for seq in range(1, per_node + 1):
        at = start + timedelta(minutes=10 * seq)
        for mac, key in keys.items():
            values = envs[mac].sample(at)
            data = encrypt_service_data(values, mac=mac, bindkey=key, counter=seq)
            adv = AdvertisementData(
                local_name=None,
                manufacturer_data={},
                service_data={ble_uuids.BTHOME_SERVICE_UUID: data},
                service_uuids=[],
                tx_power=None,
                rssi=-60 - seq % 20,
                platform_data=(),
            )
            adverts.append((devices[mac], adv))
    return adverts, keys


def baseline(adverts: list[Advert], keys: dict[str, bytes]) -> float:
    """bthome-ble alone: decrypt and parse every advert; returns adverts per second."""
    parsers = {mac: BTHomeBluetoothDeviceData(bindkey=key) for mac, key in keys.items()}
    decoded = 0
    gc.collect()
    started = time.perf_counter()
    for device, adv in adverts:
        info = BluetoothServiceInfoBleak(
            name=device.address,
            address=device.address,
            rssi=adv.rssi,
            manufacturer_data={},
            service_data=adv.service_data,
            service_uuids=[ble_uuids.BTHOME_SERVICE_UUID],
            source="bench",
            device=device,
            advertisement=None,
            connectable=False,
            time=monotonic_time_coarse(),
            tx_power=None,
        )
        update = parsers[device.address].update(info)
        decoded += bool(update.entity_values)
    elapsed = time.perf_counter() - started
    assert decoded == len(adverts), f"baseline decoded {decoded} of {len(adverts)}"
    return len(adverts) / elapsed


async def _count_rows(store: HubStore) -> int:
    async with store.read() as session:
        return int((await session.execute(text("SELECT count(*) FROM readings"))).scalar_one())


async def throughput(
    root: Path, adverts: list[Advert], keys: dict[str, bytes], run: int
) -> tuple[float, float]:
    """(adverts/s from the detection callback to committed rows, share of time in callbacks)."""
    settings = HubSettings(environment=Environment.TEST, data_dir=root / f"throughput-{run}")
    async with open_store(settings) as store:
        for mac, key in keys.items():
            await store.pair_node(mac, bindkey=key)
        radio = BumbleRadio()  # an empty radio: the gateway's scanner runs, nobody advertises
        gateway = Gateway(
            store,
            GatewaySettings(sessions_enabled=False, flush_interval_s=0.05, watchdog_s=600),
            radio.backends(),
        )
        await gateway.start()
        try:
            callback = gateway.on_advertisement
            in_callbacks = 0.0
            gc.collect()
            started = time.perf_counter()
            for i in range(0, len(adverts), 500):
                slice_started = time.perf_counter()
                for device, adv in adverts[i : i + 500]:
                    callback(device, adv)
                in_callbacks += time.perf_counter() - slice_started
                await asyncio.sleep(0)  # let the flush task commit, as a radio's loop would
            await gateway.flush()
            elapsed = time.perf_counter() - started
            rows = await _count_rows(store)
        finally:
            await gateway.stop()
            await radio.close()
    assert rows == len(adverts), f"{rows} rows committed for {len(adverts)} adverts"
    assert gateway.stats.readings_stored == len(adverts)
    return len(adverts) / elapsed, in_callbacks / elapsed


async def memory(root: Path, nodes: int, seconds: float) -> dict[str, Any]:
    """Peak RSS while ``nodes`` emulated nodes run through the gateway into the store."""
    process = psutil.Process()
    settings = HubSettings(environment=Environment.TEST, data_dir=root / "garden")
    peak = process.memory_info().rss
    async with open_store(settings) as store:

        async def pair(mac: str, key: bytes) -> None:
            await store.pair_node(mac, bindkey=key)

        gateway_settings = GatewaySettings(
            passive_scan=False, connect_timeout_s=5.0, session_retry_s=2.0, status_interval_s=1.0
        )
        async with emulated_hub_radio(
            store, nodes, speed=600.0, settings=gateway_settings, pair=pair
        ) as (garden, gateway):
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                await asyncio.sleep(0.5)
                peak = max(peak, process.memory_info().rss)
            await gateway.flush()
            rows = await _count_rows(store)
            measured = sum(node.counter for node in garden.nodes)
            stats = gateway.stats
    return {
        "rss_mb": peak / 2**20,
        "rows": rows,
        "measurements": measured,
        "sessions_ok": stats.sessions_ok,
        "sessions_failed": stats.sessions_failed,
        "adverts": stats.adverts,
    }


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


async def run(quick: bool) -> None:
    """Both parts, then the figures."""
    nodes, per_node = (100, 60) if quick else (200, 250)
    garden_nodes, garden_seconds = (50, 15.0) if quick else (50, 45.0)
    say("bench.hub_ble:", machine_info())
    with tempfile.TemporaryDirectory(prefix="bench-hub-ble-") as tmp:
        root = Path(tmp)
        # Memory first, in a process that has not yet held the throughput run's adverts.
        mem = await memory(root, garden_nodes, garden_seconds)
        say(
            f"{garden_nodes} emulated nodes over Bumble for {garden_seconds:.0f}s: peak RSS "
            f"{mem['rss_mb']:.1f} MB (target <= {TARGET_RSS_MB:.0f}), {mem['rows']} rows of "
            f"{mem['measurements']} measurements, {mem['adverts']} adverts heard, sessions "
            f"{mem['sessions_ok']} ok / {mem['sessions_failed']} failed"
        )
        say(f"building {nodes * per_node} encrypted adverts of {nodes} nodes...")
        adverts, keys = build_adverts(nodes, per_node)
        # Median of three runs each (fresh store per run: repeats would be duplicates).
        bases = sorted(baseline(adverts, keys) for _ in range(3))
        base = bases[1]
        say(f"baseline (bthome-ble decode only): {base:,.0f} adverts/s (runs {_fmt(bases)})")
        runs = sorted([await throughput(root, adverts, keys, run) for run in range(3)])
        ours, callback_share = runs[1]
        say(
            f"gateway callback -> committed SQLite rows: {ours:,.0f} adverts/s "
            f"(runs {_fmt([r[0] for r in runs])}; target >= {TARGET_ADVERTS_PER_S:,}), "
            f"{ours / base:.2f}x the decode-only baseline; {callback_share:.0%} of the time in "
            f"the detection callback (decode + queue), the rest committing to SQLite"
        )
    met = ours >= TARGET_ADVERTS_PER_S and mem["rss_mb"] <= TARGET_RSS_MB
    say("targets met" if met else "TARGETS MISSED")
    emit_result(
        {
            "adverts_per_s": round(ours),
            "baseline_adverts_per_s": round(base),
            "ratio": round(ours / base, 3),
            "callback_time_share": round(callback_share, 3),
            "rss_mb": round(mem["rss_mb"], 1),
            "adverts": nodes * per_node,
            "emulated_nodes": garden_nodes,
        }
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m bench.hub_ble", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer adverts, shorter run (<60 s)")
    args = parser.parse_args()
    asyncio.run(run(args.quick))


if __name__ == "__main__":
    main()
