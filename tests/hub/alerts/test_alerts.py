"""Local alerts: thresholds with minimum duration and hysteresis, stale nodes, low battery."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import service
from hub.alerts.models import Alert
from hub.ble.ports import DecodedReading
from hub.hub_store import HubStore
from hub.plants import repository as plants_repo
from hub.plants.schemas import PlantCreate
from hub.plants.service import create
from hub.store.types import SyncState, from_ms, to_ms, utcnow
from shared.metrics import DLI, Metric, daily_light_integral
from shared.sync import AlertKind, Thresholds

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
    # Opened at the reading that completed 15 minutes of breach, as the cloud's engine does.
    assert low[0].opened_at == from_ms(to_ms(start + timedelta(minutes=51 + 15)))
    # Back above the line but inside moisture's hysteresis band (3 %, the registry's, as in the
    # cloud; 5 % of the span would have closed it at 36.25): still open.
    await store.store_readings(
        [
            reading(later + timedelta(minutes=1), 200, 35.5),
            reading(later + timedelta(minutes=2), 201, 37.5),
        ]
    )
    low = [
        a for a in await evaluate(store, later + timedelta(minutes=2)) if a.kind == AlertKind.LOW
    ]
    assert low[0].resolved_at is None
    back = later + timedelta(minutes=3)
    await store.store_readings([reading(back, 202, 38.0)])
    low = [
        a for a in await evaluate(store, later + timedelta(minutes=5)) if a.kind == AlertKind.LOW
    ]
    assert low[0].resolved_at == from_ms(to_ms(back))
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


# --- light: judged by the daily light integral, like the cloud --------------------------------

NIGHT = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)  # 01:00 UTC, the day after DAY
DAY = datetime(2026, 6, 1, tzinfo=UTC)


async def setup_light_plant(store: HubStore) -> None:
    await store.pair_node(MAC)

    async def op(session: AsyncSession) -> None:
        await create(
            session,
            PlantCreate(
                name="Fern",
                node_mac=MAC,
                overrides=Thresholds(light_lux_min=1000, dli_min=6.0),
            ),
        )

    await store.write(op)


def sunny_day(day: datetime, peak_lux: float, first_seq: int) -> list[DecodedReading]:
    """A reading every 30 min: a sine-shaped day from 06:00 to 18:00 UTC, dark at night."""
    out = []
    for i in range(48):
        at = day + timedelta(minutes=30 * i)
        hour = at.hour + at.minute / 60
        lux = peak_lux * math.sin(math.pi * (hour - 6) / 12) if 6 < hour < 18 else 0.0
        values = {Metric.ILLUMINANCE: round(lux, 2), Metric.MOISTURE: 50.0}
        out.append(DecodedReading(MAC, at, values, first_seq + i))
    return out


def dark_night(start: datetime, first_seq: int, hours: int = 3) -> list[DecodedReading]:
    return [
        DecodedReading(
            MAC,
            start + timedelta(minutes=10 * i),
            {Metric.ILLUMINANCE: 0.0, Metric.MOISTURE: 50.0},
            first_seq + i,
        )
        for i in range(hours * 6 + 1)
    ]


def light_alerts(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.metric == Metric.ILLUMINANCE.value]


async def test_a_normal_night_after_a_bright_day_does_not_alert(store: HubStore) -> None:
    await setup_light_plant(store)
    day = sunny_day(DAY, 60_000.0, 0)
    await store.store_readings(day)
    # Hours of 0 lx tonight, far longer than the minimum duration, under light_lux_min=1000.
    night = dark_night(NIGHT - timedelta(hours=3), 100)
    await store.store_readings(night)
    assert light_alerts(await evaluate(store, NIGHT)) == []
    # The day's DLI is the mean of its readings (the evening's zeros included) converted; a
    # night reading at a day reading's time was a duplicate and was not stored.
    stored = {r.measured_at: r.values[Metric.ILLUMINANCE] for r in day}
    for r in night:
        if r.measured_at.date() == DAY.date():
            stored.setdefault(r.measured_at, r.values[Metric.ILLUMINANCE])
    lux = list(stored.values())
    async with store.read() as session:
        dli = await service.day_light_integral(session, 1, DAY.date())
    assert dli == round(daily_light_integral(sum(lux) / len(lux)), 2)
    assert dli > 6.0 + DLI.hysteresis.band(6.0)


async def test_a_genuinely_dark_day_alerts_once_and_a_bright_day_resolves_it(
    store: HubStore,
) -> None:
    await setup_light_plant(store)
    await store.store_readings(sunny_day(DAY, 1_000.0, 0))  # overcast and indoors: DLI ~0.51
    alerts = light_alerts(await evaluate(store, NIGHT))
    assert len(alerts) == 1
    [dark] = alerts
    assert dark.kind == AlertKind.LOW
    assert dark.rule == "dli"
    assert dark.resolved_at is None
    assert "daily light integral 0.51 mol/m²/day on 2026-06-01 below" in dark.message
    # Judged once per day: evaluating again the same night changes nothing.
    assert len(light_alerts(await evaluate(store, NIGHT + timedelta(hours=2)))) == 1

    # The next day is bright but only just above the minimum: inside the band, still open.
    next_day = DAY + timedelta(days=1)
    await store.store_readings(sunny_day(next_day, 12_500.0, 200))  # DLI ~6.37 < 6 + 0.6
    [still] = light_alerts(await evaluate(store, next_day + timedelta(days=1, hours=1)))
    assert still.resolved_at is None
    # A clearly bright day resolves it.
    third = DAY + timedelta(days=2)
    await store.store_readings(sunny_day(third, 40_000.0, 300))
    [resolved] = light_alerts(await evaluate(store, third + timedelta(days=1, hours=1)))
    assert resolved.resolved_at is not None


async def test_a_day_with_too_few_light_readings_is_not_judged(store: HubStore) -> None:
    await setup_light_plant(store)
    await store.store_readings(sunny_day(DAY, 1_000.0, 0)[::5])  # 10 readings
    assert light_alerts(await evaluate(store, NIGHT)) == []


async def test_an_instant_low_light_alert_from_before_the_dli_rule_is_resolved(
    store: HubStore,
) -> None:
    await setup_light_plant(store)
    await store.store_readings(dark_night(NIGHT - timedelta(hours=1), 0, hours=1))

    async def legacy(session: AsyncSession) -> None:
        await service.open_alert(
            session,
            AlertKind.LOW,
            "Fern: illuminance 0 lx below 1000 lx",
            NIGHT - timedelta(hours=1),
            node_mac=MAC,
            plant_id=(await plants_repo.list_plants(session))[0].id,
            metric=Metric.ILLUMINANCE,
        )

    await store.write(legacy)
    [old] = light_alerts(await evaluate(store, NIGHT))
    assert old.resolved_at == NIGHT
