"""Third-party BTHome sensors on the emulated Bumble radio: a Shelly BLU H&T-style sensor with
repeated objects, a pvvx thermometer (encrypted BTHome v2) and a BTHome v1 thermometer broadcast
the field vectors' bytes, many copies each, and the gateway stores each measurement once (one row
per channel) and counts every other copy a duplicate, never malformed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from hub.ble.emulator import EmulatedGarden
from hub.ble.emulator.sensor import EmulatedBTHomeSensor
from hub.ble.gateway import Gateway
from hub.hub_store import HubStore
from shared.sync import NodeKind
from shared.vectors import load_field
from tests.hub.ble.conftest import eventually, eventually_async

pytestmark = [pytest.mark.pi, pytest.mark.timeout(120)]

FIELD = {v.name: v for v in load_field()}
SENSORS = (
    FIELD["shelly-blu-ht-repeated-objects"],
    FIELD["pvvx-bthome-encrypted"],
    FIELD["bthome-v1-atc"],
)


async def channel_rows(store: HubStore, mac: str) -> list[tuple[int, float | None, float | None]]:
    async with store.read() as session:
        rows = await session.execute(
            text(
                "select r.channel, r.temperature, r.humidity from readings r "
                "join nodes n on n.id = r.node_id where n.mac = :m order by r.channel"
            ),
            {"m": mac},
        )
        return [(int(c), t, h) for c, t, h in rows.tuples()]


async def test_third_party_adverts_over_the_radio_are_stored_once_per_channel(
    garden: EmulatedGarden, store: HubStore, make_gateway: Callable[..., Gateway]
) -> None:
    for vector in SENSORS:
        key = vector.fields["bindkey"]
        await store.pair_node(
            vector.fields["mac"], bindkey=bytes.fromhex(key) if key else None, kind=NodeKind.BTHOME
        )
    gateway = make_gateway()
    await gateway.start()
    sensors = [EmulatedBTHomeSensor(garden.radio, v.fields["mac"]) for v in SENSORS]
    try:
        for sensor, vector in zip(sensors, SENSORS, strict=True):
            await sensor.start()
            await sensor.broadcast(vector.fields["uuid"], vector.data, seconds=1.0)
            mac = vector.fields["mac"]
            await eventually(lambda mac=mac: gateway.drops(mac).stored == 1, what=f"{mac} stored")
            await eventually(
                lambda mac=mac: gateway.drops(mac).duplicate >= 2, what=f"{mac} resends"
            )
        await gateway.flush()
        for vector in SENSORS:
            mac = vector.fields["mac"]
            drops = gateway.drops(mac)
            assert (drops.stored, drops.malformed, drops.wrong_key) == (1, 0, 0), mac
            assert drops.unsupported_object == drops.unsupported_device == 0
            expected = [
                (int(c), v.get("temperature"), v.get("humidity"))
                for c, v in vector.fields["channels"].items()
            ]
            rows = await channel_rows(store, mac)
            assert [(c, t, h) for c, t, h in rows] == expected, mac

        async def counted() -> bool:
            await gateway.push_statuses()
            async with store.read() as session:
                row = await session.execute(
                    text("select adverts_stored, adverts_duplicate from nodes where mac = :m"),
                    {"m": SENSORS[0].fields["mac"]},
                )
                stored, duplicate = row.one()
            return bool(stored == 1 and duplicate >= 2)

        await eventually_async(counted, what="the counts in the node row")
    finally:
        for sensor in sensors:
            await sensor.stop()
