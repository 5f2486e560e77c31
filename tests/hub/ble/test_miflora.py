"""An emulated Xiaomi MiFlora on the Bumble radio, read by the gateway into the real hub SQLite:
passive MiBeacon adverts (plain and encrypted, a wrong bindkey counted) and the GATT poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import text

from hub.ble import mibeacon
from hub.ble.emulator import EmulatedGarden
from hub.ble.emulator.miflora import EmulatedMiFlora
from hub.ble.gateway import Gateway
from hub.hub_store import HubStore
from shared.metrics import Metric
from shared.sync import NodeKind
from tests.hub.ble.conftest import FAST, eventually, eventually_async

pytestmark = pytest.mark.timeout(90)

MAC = "C4:7C:8D:6A:3E:7A"
KEY = bytes.fromhex("a3bfe9853dd85a620debe3620caaa351")
LISTEN = replace(FAST, sessions_enabled=False, passive_scan=True)


@pytest.fixture
async def radio_garden() -> AsyncIterator[EmulatedGarden]:
    """An empty garden: its radio and clock carry the MiFlora."""
    garden = EmulatedGarden(0, speed=60.0, photo_every_s=None)
    yield garden
    await garden.stop()


async def readings(store: HubStore, mac: str) -> list[dict[str, object]]:
    """The node's stored readings, oldest first, with the metrics the registry has."""
    async with store.read() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT r.* FROM readings r JOIN nodes n ON n.id = r.node_id "
                    "WHERE n.mac = :mac ORDER BY r.measured_at"
                ),
                {"mac": mac},
            )
        ).mappings()
        return [dict(row) for row in rows]


def advertised_values(flora: EmulatedMiFlora) -> dict[Metric, set[float]]:
    """Every value the MiFlora put on air, by metric."""
    by_object = {
        mibeacon.OBJ_TEMPERATURE: (Metric.TEMPERATURE, lambda v: v.temperature),
        mibeacon.OBJ_ILLUMINANCE: (Metric.ILLUMINANCE, lambda v: float(v.illuminance)),
        mibeacon.OBJ_MOISTURE: (Metric.MOISTURE, lambda v: float(v.moisture)),
        mibeacon.OBJ_CONDUCTIVITY: (Metric.CONDUCTIVITY, lambda v: float(v.conductivity)),
    }
    sent: dict[Metric, set[float]] = {}
    for advert in flora.log:
        if advert.object_id in by_object:
            metric, value = by_object[advert.object_id]
            sent.setdefault(metric, set()).add(value(advert.values))
    return sent


async def start(
    garden: EmulatedGarden, store: HubStore, flora: EmulatedMiFlora, settings: object = LISTEN
) -> Gateway:
    gateway = Gateway(store, settings, garden.backends(), now=garden.clock.now)  # type: ignore[arg-type]
    await flora.start()
    await gateway.start()
    return gateway


async def test_passive_plain_adverts_are_stored_with_the_values_sent(
    radio_garden: EmulatedGarden, store: HubStore
) -> None:
    flora = EmulatedMiFlora(radio_garden.radio, MAC, radio_garden.clock, seed=3)
    stranger = EmulatedMiFlora(radio_garden.radio, "C4:7C:8D:00:00:02", radio_garden.clock)
    await store.pair_node(MAC, kind=NodeKind.XIAOMI, name="Fern sensor")
    gateway = await start(radio_garden, store, flora)
    await stranger.start()
    try:

        async def every_metric_stored() -> bool:
            rows = await readings(store, MAC)
            return all(
                any(row[m.value] is not None for row in rows)
                for m in (
                    Metric.TEMPERATURE,
                    Metric.ILLUMINANCE,
                    Metric.MOISTURE,
                    Metric.CONDUCTIVITY,
                )
            )

        await eventually_async(
            every_metric_stored, what="temperature, light, moisture and conductivity"
        )
        await eventually(
            lambda: stranger.mac in {d.mac for d in gateway.seen_devices()},
            what="the unpaired MiFlora listed",
        )
        await gateway.flush()
        rows = await readings(store, MAC)
        sent = advertised_values(flora)
        for row in rows:
            assert row["source"] == "advert"
            present = {m: row[m.value] for m in sent if row[m.value] is not None}
            assert len(present) == 1, f"one MiBeacon object per advert, got {present}"
            for metric, value in present.items():
                assert value in sent[metric], f"{metric} {value} was never advertised"
        assert gateway.stats.duplicates > 0, "a frame heard twice must be stored once"
        outcomes = gateway.drops(MAC)
        assert outcomes.total == 0
        assert outcomes.duplicate > 0
        assert outcomes.stored >= len(rows)

        seen = {d.mac: d for d in gateway.seen_devices()}
        assert MAC not in seen
        assert seen[stranger.mac].kind is NodeKind.XIAOMI
        assert seen[stranger.mac].model == "HHCCJCY01"
        assert not seen[stranger.mac].encrypted
    finally:
        await gateway.stop()
        await stranger.stop()
        await flora.stop()


async def test_encrypted_adverts_need_the_bindkey(
    radio_garden: EmulatedGarden, store: HubStore
) -> None:
    flora = EmulatedMiFlora(radio_garden.radio, MAC, radio_garden.clock, seed=4, bindkey=KEY)
    await store.pair_node(MAC, kind=NodeKind.XIAOMI, bindkey=bytes(range(16)))
    gateway = await start(radio_garden, store, flora)
    try:
        await eventually(lambda: gateway.drops(MAC).wrong_key >= 3, what="wrong-key drops")
        await gateway.flush()
        assert await readings(store, MAC) == [], "nothing is stored under a wrong bindkey"

        await store.pair_node(MAC, kind=NodeKind.XIAOMI, bindkey=KEY)
        await gateway.reload_nodes()

        async def three_stored() -> bool:
            return len(await readings(store, MAC)) >= 3

        await eventually_async(three_stored, what="readings under the right bindkey")
        await gateway.flush()
        sent = advertised_values(flora)
        for row in await readings(store, MAC):
            for metric, values in sent.items():
                if row[metric.value] is not None:
                    assert row[metric.value] in values
    finally:
        await gateway.stop()
        await flora.stop()


async def test_the_gatt_poll_reads_battery_firmware_and_real_time_values(
    radio_garden: EmulatedGarden, store: HubStore
) -> None:
    flora = EmulatedMiFlora(radio_garden.radio, MAC, radio_garden.clock, seed=5)
    await store.pair_node(MAC, kind=NodeKind.XIAOMI)
    gateway = await start(radio_garden, store, flora, replace(FAST, passive_scan=True))
    try:
        outcome = await gateway.session_outcome(MAC, 0)
        assert outcome.error is None, outcome.error
        await gateway.flush()
        polled = [row for row in await readings(store, MAC) if row["source"] == "poll"]
        assert len(polled) == 1
        row = polled[0]
        assert len(flora.polls) == 1
        truth = flora.polls[0]
        assert row["battery"] == truth.battery
        assert row["temperature"] == pytest.approx(truth.temperature)
        assert row["illuminance"] == truth.illuminance
        assert row["moisture"] == truth.moisture
        assert row["conductivity"] == truth.conductivity

        async def node_status() -> tuple[object, object]:
            async with store.read() as session:
                row = (
                    await session.execute(
                        text("SELECT firmware_version, battery FROM nodes WHERE mac = :mac"),
                        {"mac": MAC},
                    )
                ).one()
            return row.firmware_version, row.battery

        async def firmware_recorded() -> bool:
            # The status loop may be committing the same status the explicit push skipped.
            return (await node_status())[0] is not None

        await eventually_async(firmware_recorded, what="the node's firmware recorded")
        assert await node_status() == ("3.2.1", truth.battery)
        # A day between polls while the adverts carry every value: no second poll now.
        assert gateway.sessions_ended(MAC) == 1
    finally:
        await gateway.stop()
        await flora.stop()


async def test_every_advert_ends_in_one_outcome_counter(
    radio_garden: EmulatedGarden, store: HubStore
) -> None:
    flora = EmulatedMiFlora(
        radio_garden.radio, MAC, radio_garden.clock, seed=6, advertised=(), bindkey=KEY
    )
    await store.pair_node(MAC, kind=NodeKind.XIAOMI, bindkey=KEY)
    gateway = await start(radio_garden, store, flora)
    values = flora.measure()
    temperature = mibeacon.miflora_objects(values)[mibeacon.OBJ_TEMPERATURE]
    formaldehyde = b"\x10\x10\x02\x10\x00"  # 0x1010, a value the registry does not store
    try:
        sent = [
            ("stored", flora.frame(mibeacon.OBJ_TEMPERATURE, values, 500)),
            ("replayed", flora.frame(mibeacon.OBJ_TEMPERATURE, values, 400)),
            (
                "unsupported_object",
                mibeacon.encrypted_frame(MAC, formaldehyde, bindkey=KEY, counter=501),
            ),
            (
                "unsupported_device",
                mibeacon.encrypted_frame(
                    MAC, temperature, bindkey=KEY, counter=502, product_id=0x7FFF
                ),
            ),
            (
                "wrong_key",
                mibeacon.encrypted_frame(MAC, temperature, bindkey=bytes(16), counter=503),
            ),
            ("malformed", b"\x71\x20"),
        ]
        for outcome, frame in sent:
            before = getattr(gateway.drops(MAC), outcome)
            flora.send_frame(frame)
            await eventually(
                lambda o=outcome, b=before: getattr(gateway.drops(MAC), o) > b,  # type: ignore[misc]
                what=f"a {outcome} advert counted",
            )
        # Each frame stays on air and may be heard again: its repeats land in the same counter
        # (those of the one stored frame are duplicates).
        counts = gateway.drops(MAC)
        assert counts.stored == 1
        assert gateway.stats.adverts >= sum(getattr(counts, o) for o, _ in sent) + counts.duplicate
        await gateway.flush()
        rows = await readings(store, MAC)
        assert [row["temperature"] for row in rows] == [values.temperature]
    finally:
        await gateway.stop()
        await flora.stop()
