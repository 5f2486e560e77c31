"""Two records a node took within one second of its clock are both kept when backfilled."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.ble.session import NodeSession
from hub.hub_store import HubStore
from shared import gatt as pv
from shared.metrics import Metric
from tests.hub.ble.conftest import pair, stored_readings

MAC = "24:6F:28:00:00:09"
EPOCH = 1_795_738_462


async def test_records_of_the_same_second_are_both_stored(store: HubStore) -> None:
    await pair(store, [MAC], {MAC: bytes(16)})
    session = NodeSession(
        None,  # type: ignore[arg-type]  # no link needed to turn records into readings
        MAC,
        store,
        now=lambda: datetime.now(UTC),
        op_timeout_s=1.0,
        wanted_config=None,
        since_seq=None,
        partial_images={},
        image_attempts=1,
    )
    # A scheduled wake, then a wake for a photo 0.1 s later: the same epoch second.
    records = [
        pv.Record(62, EPOCH, {Metric.MOISTURE: 41.0}),
        pv.Record(63, EPOCH, {Metric.MOISTURE: 40.5}),
    ]
    readings = session._readings(records)
    await store.store_readings(readings)
    stored = {r.seq: r.moisture for r in await stored_readings(store, MAC)}
    assert stored == {62: 41.0, 63: 40.5}
    assert all(abs(r.measured_at.timestamp() - EPOCH) < 1 for r in readings)
