"""Local alerts: thresholds with minimum duration and hysteresis, stale nodes, low battery."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import service
from hub.alerts.models import Alert
from hub.ble.ports import DecodedReading
from hub.plants.schemas import PlantCreate
from hub.plants.service import create
from hub.store.hub_store import HubStore
from hub.store.types import SyncState, utcnow
from shared.sync import AlertKind, Thresholds
from shared.units import Metric

MAC = "AA:BB:CC:DD:EE:01"


async def setup_plant(store: HubStore) -> None:
    await store.pair_node(MAC)

    async def op(session: AsyncSession) -> None:
        await create(
            session,
            PlantCreate(
                name="Basil",
                node_mac=MAC,
                overrides=Thresholds(moisture_min=35, moisture_max=60),
            ),
        )

    await store.write(op)


def reading(at: datetime, seq: int, moisture: float, battery: float = 90.0) -> DecodedReading:
    return DecodedReading(MAC, at, {Metric.MOISTURE: moisture, Metric.BATTERY: battery}, seq)


async def evaluate(store: HubStore, now: datetime) -> list[Alert]:
    await store.write(lambda s: service.evaluate(s, store.settings, now))
    async with store.read() as session:
        return list(await service.list_alerts(session, open_only=False, limit=100))


async def test_threshold_alert_needs_min_duration_and_closes_with_hysteresis(
    store: HubStore,
) -> None:
    await setup_plant(store)
    now = utcnow()
    start = now - timedelta(minutes=60)
    # 50 minutes fine, then 9 minutes dry: shorter than the 15 minute minimum.
    await store.store_readings(
        [reading(start + timedelta(minutes=i), i, 50.0 if i < 51 else 20.0) for i in range(60)]
    )
    assert [a for a in await evaluate(store, now) if a.kind == AlertKind.LOW] == []
    # Dry for 20 more minutes: now it counts.
    later = now + timedelta(minutes=20)
    await store.store_readings(
        [reading(now + timedelta(minutes=i), 100 + i, 20.0) for i in range(21)]
    )
    alerts = await evaluate(store, later)
    low = [a for a in alerts if a.kind == AlertKind.LOW]
    assert len(low) == 1
    assert low[0].metric == "moisture"
    assert low[0].resolved_at is None
    assert "below 35" in low[0].message
    assert len([a for a in await evaluate(store, later) if a.kind == AlertKind.LOW]) == 1
    # Back above the line but inside the hysteresis margin (5 % of 35..60 = 1.25): still open.
    await store.store_readings([reading(later + timedelta(minutes=1), 200, 35.5)])
    low = [
        a for a in await evaluate(store, later + timedelta(minutes=1)) if a.kind == AlertKind.LOW
    ]
    assert low[0].resolved_at is None
    await store.store_readings([reading(later + timedelta(minutes=2), 201, 40.0)])
    low = [
        a for a in await evaluate(store, later + timedelta(minutes=2)) if a.kind == AlertKind.LOW
    ]
    assert low[0].resolved_at is not None
    assert low[0].sync_state == SyncState.PENDING  # the cloud must learn it closed


async def test_stale_node_and_low_battery(store: HubStore) -> None:
    await setup_plant(store)
    now = utcnow()
    await store.store_readings([reading(now - timedelta(hours=2), 1, 50.0, battery=9.0)])
    alerts = await evaluate(store, now)
    kinds = sorted(a.kind for a in alerts if a.resolved_at is None)
    assert kinds == [AlertKind.LOW_BATTERY, AlertKind.STALE]
    # Heard again with a fresh battery: both close.
    await store.store_readings([reading(now, 2, 50.0, battery=80.0)])
    alerts = await evaluate(store, now)
    assert all(a.resolved_at is not None for a in alerts)


async def test_acknowledge_keeps_threshold_alert_open(store: HubStore) -> None:
    await setup_plant(store)
    now = utcnow()
    await store.store_readings([replace(reading(now - timedelta(hours=3), 1, 50.0))])
    alerts = await evaluate(store, now)
    stale = next(a for a in alerts if a.kind == AlertKind.STALE)
    acked = await store.write(lambda s: service.acknowledge(s, stale.id, now))
    assert acked.acknowledged_at is not None
    assert acked.resolved_at is None
