"""Local alerts from the synced species thresholds: works offline.

Threshold alerts open only after the breach has lasted ``alert_min_duration_s`` and close only
once the value is back inside by a hysteresis margin, so a reading wobbling on the line does not
flap. Stale-node and low-battery alerts come from the node's last reading and status.

Light follows the cloud's rule (cloud/alerts/rules.py and service.py): every night is dark, so a
low reading of illuminance never alerts by itself; low (and high) light is judged by the daily
light integral (DLI) of the last completed UTC day, from that day's mean illuminance (at least
``DLI_MIN_SAMPLES`` readings, converted with ``shared.metrics.daily_light_integral``) against the
plant's ``dli_min``/``dli_max``. One dark day opens the alert; it resolves on a day that is back
inside by the cloud's band (10 % of the limit, at least 0.5 mol/m²/day). A too-bright reading
(``light_lux_max``) still alerts as a threshold, as in the cloud.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.alerts.models import Alert
from hub.alerts.schemas import AlertPublic
from hub.errors import NotFound
from hub.nodes import repository as nodes_repo
from hub.nodes.models import Node
from hub.plants import repository as plants_repo
from hub.plants.models import Plant
from hub.plants.service import thresholds_for
from hub.readings import service as readings
from hub.settings import HubSettings
from hub.store import kv
from hub.store.types import SyncState, from_ms, to_ms
from shared import alert_text
from shared.alert_text import TemperatureUnit
from shared.freshness import stale_after as freshness_window
from shared.metrics import DLI, PLANT_METRICS, SPECS, Metric
from shared.sync import AlertKind, Thresholds

if TYPE_CHECKING:
    from hub.store.hub_store import StorageIncident

BATTERY_RECOVERY_MARGIN = 5.0
DLI_RULE = "dli"


def to_public(alert: Alert, subject: str | None = None, unit: TemperatureUnit = "C") -> AlertPublic:
    """The API view of an alert; its text names ``subject`` (the plant's current name) and
    shows temperatures in ``unit``."""
    message = alert.message
    if subject is not None:
        message = alert_text.describe(
            alert.kind,
            subject=subject,
            metric=Metric(alert.metric) if alert.metric else None,
            rule=alert.rule,
            value=alert.value,
            bound=alert.bound,
            opened_at=alert.opened_at,
            unit=unit,
            fallback=alert.message,
        )
    return AlertPublic(
        id=alert.id,
        kind=AlertKind(alert.kind),
        metric=Metric(alert.metric) if alert.metric else None,
        node_mac=alert.node_mac,
        plant_id=alert.plant_id,
        message=message,
        opened_at=alert.opened_at,
        resolved_at=alert.resolved_at,
        acknowledged_at=alert.acknowledged_at,
        sync_state=SyncState(alert.sync_state).name.lower(),
        reject_reason=alert.reject_reason,
    )


async def public_alerts(session: AsyncSession, alerts: Sequence[Alert]) -> list[AlertPublic]:
    """Alerts as the API shows them: the plant's current name, the gardener's unit."""
    names = {p.id: p.name for p in await plants_repo.list_plants(session)}
    nodes = {n.mac: n.name or n.mac for n in await nodes_repo.all_nodes(session)}
    unit: TemperatureUnit = "F" if await kv.get(session, kv.UNITS) == "F" else "C"
    out = []
    for alert in alerts:
        subject = names.get(alert.plant_id or "") or (
            nodes.get(alert.node_mac) if alert.node_mac else None
        )
        out.append(to_public(alert, subject, unit))
    return out


async def list_alerts(session: AsyncSession, open_only: bool, limit: int) -> Sequence[Alert]:
    """Alerts, newest first."""
    stmt = select(Alert).order_by(col(Alert.opened_at).desc()).limit(limit)
    if open_only:
        stmt = stmt.where(col(Alert.resolved_at).is_(None))
    return (await session.execute(stmt)).scalars().all()


async def acknowledge(session: AsyncSession, alert_id: str, now: datetime) -> Alert:
    """Mark an alert seen; a data-dropped notice is closed by acknowledging it."""
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    alert.acknowledged_at = alert.acknowledged_at or now
    if alert.kind == AlertKind.DATA_DROPPED and alert.resolved_at is None:
        _resolve(alert, now)
    session.add(alert)
    await session.flush()
    return alert


def _resolve(alert: Alert, now: datetime) -> None:
    alert.resolved_at = now
    alert.sync_state = SyncState.PENDING  # the cloud learns it closed
    alert.batch_id = None


async def open_alert(
    session: AsyncSession,
    kind: AlertKind,
    message: str,
    now: datetime,
    *,
    node_mac: str | None = None,
    plant_id: str | None = None,
    metric: Metric | None = None,
    rule: str | None = None,
    value: float | None = None,
    bound: float | None = None,
    subject: str | None = None,
) -> Alert:
    """Insert a new open alert (pending sync). With ``subject`` and the ``value`` (and ``bound``)
    it opened on, the stored text is the one ``to_public`` writes, in °C."""
    if subject is not None:
        message = alert_text.describe(
            kind.value,
            subject=subject,
            metric=metric,
            rule=rule,
            value=value,
            bound=bound,
            opened_at=now,
            fallback=message,
        )
    alert = Alert(
        id=str(uuid4()),
        node_mac=node_mac,
        plant_id=plant_id,
        kind=kind.value,
        metric=metric.value if metric else None,
        rule=rule,
        message=message[:500],
        opened_at=now,
        value=value,
        bound=bound,
    )
    session.add(alert)
    await session.flush()
    return alert


async def _open_alerts(session: AsyncSession) -> dict[tuple[Any, ...], Alert]:
    rows = (
        (await session.execute(select(Alert).where(col(Alert.resolved_at).is_(None))))
        .scalars()
        .all()
    )
    return {(a.kind, a.plant_id, a.node_mac, a.metric, a.rule): a for a in rows}


async def _breach_lasted(
    session: AsyncSession,
    node: int,
    metric: Metric,
    kind: AlertKind,
    bound: float,
    latest_ms: int,
    min_duration_ms: int,
) -> bool:
    """True when every reading of the last ``min_duration`` breached and so did the one
    before it: two index range lookups, however long the node's history."""
    column = metric.value
    inside = f"{column} >= :b" if kind is AlertKind.LOW else f"{column} <= :b"
    window_start = latest_ms - min_duration_ms
    ok_in_window = (
        await session.execute(
            text(
                f"select 1 from readings where node_id = :n and measured_at >= :w "  # noqa: S608
                f"and measured_at <= :t and {column} is not null and {inside} limit 1"
            ),
            {"n": node, "w": window_start, "t": latest_ms, "b": bound},
        )
    ).first()
    if ok_in_window is not None:
        return False
    before = (
        await session.execute(
            text(
                f"select {column} from readings where node_id = :n "  # noqa: S608
                f"and measured_at <= :w and {column} is not null "
                "order by measured_at desc limit 1"
            ),
            {"n": node, "w": window_start},
        )
    ).first()
    if before is None:
        return False
    value = float(before[0])
    return value < bound if kind is AlertKind.LOW else value > bound


async def evaluate(session: AsyncSession, settings: HubSettings, now: datetime) -> int:
    """Open and resolve alerts from the current data; returns how many changed."""
    changed = 0
    open_alerts = await _open_alerts(session)
    species = await plants_repo.species_map(session)
    plants = {p.node_mac: p for p in await plants_repo.list_plants(session) if p.node_mac}
    min_duration_ms = int(settings.alert_min_duration_s * 1000)
    for node in await nodes_repo.paired(session):
        assert node.id is not None
        # Silent for a few of its own sampling intervals, not a fixed hour.
        stale_after = freshness_window(node.sampling_interval_s)
        plant = plants.get(node.mac)
        latest = await readings.latest_values(session, node.id)
        changed += await _stale_and_battery(
            session, settings, node, plant, latest, open_alerts, now, stale_after
        )
        if plant is None:
            continue
        thresholds = thresholds_for(plant, species)
        for metric in PLANT_METRICS:
            value = latest.get(metric)
            fresh = value is not None and now - from_ms(value[1]) <= stale_after
            low, high = thresholds.bounds(metric)
            if metric is Metric.ILLUMINANCE:
                # Darkness at night is normal: low light is a daily-light-integral matter.
                changed += _retire_instant_low_light(open_alerts, plant.id, node.mac, now)
                low = None
            span = (high - low) if low is not None and high is not None else None
            for kind, bound in ((AlertKind.LOW, low), (AlertKind.HIGH, high)):
                if bound is None:
                    continue
                key = (kind.value, plant.id, node.mac, metric.value, None)
                current = open_alerts.get(key)
                margin = settings.alert_hysteresis_fraction * (
                    span if span else max(abs(bound), 1.0)
                )
                if current is not None:
                    if value is None:
                        continue
                    back = (
                        value[0] >= bound + margin
                        if kind is AlertKind.LOW
                        else value[0] <= bound - margin
                    )
                    if back:
                        _resolve(current, now)
                        session.add(current)
                        changed += 1
                    continue
                if not fresh or value is None:
                    continue
                breached = value[0] < bound if kind is AlertKind.LOW else value[0] > bound
                if not breached:
                    continue
                if not await _breach_lasted(
                    session, node.id, metric, kind, bound, value[1], min_duration_ms
                ):
                    continue
                side = "below" if kind is AlertKind.LOW else "above"
                unit = SPECS[metric].unit
                await open_alert(
                    session,
                    kind,
                    f"{plant.name}: {metric.value} {value[0]:g} {unit} {side} {bound:g} {unit}",
                    now,
                    node_mac=node.mac,
                    plant_id=plant.id,
                    metric=metric,
                    value=value[0],
                    bound=bound,
                    subject=plant.name,
                )
                changed += 1
        changed += await _daily_light(
            session, node.id, plant, thresholds, node.mac, open_alerts, now
        )
    await session.flush()
    return changed


def _retire_instant_low_light(
    open_alerts: dict[tuple[Any, ...], Alert], plant_id: str, node_mac: str, now: datetime
) -> int:
    # A low-illuminance alert opened by the former instant rule (before the DLI rule).
    alert = open_alerts.pop(
        (AlertKind.LOW.value, plant_id, node_mac, Metric.ILLUMINANCE.value, None), None
    )
    if alert is None:
        return 0
    _resolve(alert, now)
    return 1


async def day_light_integral(session: AsyncSession, node: int, day: date) -> float | None:
    """The DLI (mol/m²/day, 2 decimals) of one UTC day from its hourly rollups, or None with
    fewer than ``DLI_MIN_SAMPLES`` illuminance readings that day."""
    start = datetime.combine(day, time(), UTC)
    row = (
        await session.execute(
            text(
                "select sum(illuminance_sum), sum(illuminance_n) from readings_hourly "
                "where node_id = :n and hour >= :s and hour < :e and illuminance_n > 0"
            ),
            {"n": node, "s": to_ms(start), "e": to_ms(start + timedelta(days=1))},
        )
    ).one()
    total, samples = row
    if not samples or int(samples) < DLI.min_samples:
        return None
    return round(DLI.from_mean(float(total) / int(samples)), 2)


async def _daily_light(
    session: AsyncSession,
    node: int,
    plant: Plant,
    thresholds: Thresholds,
    node_mac: str,
    open_alerts: dict[tuple[Any, ...], Alert],
    now: datetime,
) -> int:
    dli_min, dli_max = thresholds.daily_bounds(Metric.ILLUMINANCE)
    if dli_min is None and dli_max is None:
        return 0
    day = now.astimezone(UTC).date() - timedelta(days=1)  # the last completed UTC day
    dli = await day_light_integral(session, node, day)
    if dli is None:
        return 0  # too few readings to judge that day: alerts stay as they are
    changed = 0
    metric = Metric.ILLUMINANCE
    for kind, bound in ((AlertKind.LOW, dli_min), (AlertKind.HIGH, dli_max)):
        if bound is None:
            continue
        key = (kind.value, plant.id, node_mac, metric.value, DLI_RULE)
        current = open_alerts.get(key)
        if current is not None:
            back = (
                dli >= bound + DLI.hysteresis.band(bound)
                if kind is AlertKind.LOW
                else dli <= bound - DLI.hysteresis.band(bound)
            )
            if back:
                _resolve(current, now)
                session.add(current)
                changed += 1
            continue
        if dli < bound if kind is AlertKind.LOW else dli > bound:
            side = "below" if kind is AlertKind.LOW else "above"
            limit = "minimum" if kind is AlertKind.LOW else "maximum"
            alert = await open_alert(
                session,
                kind,
                f"{plant.name}: daily light integral {dli:g} mol/m²/day on {day:%Y-%m-%d} "
                f"{side} the plant's {limit} {bound:g}",
                now,
                node_mac=node_mac,
                plant_id=plant.id,
                metric=metric,
                rule=DLI_RULE,
                value=dli,
                bound=bound,
            )
            open_alerts[key] = alert
            changed += 1
    return changed


async def _stale_and_battery(
    session: AsyncSession,
    settings: HubSettings,
    node: Node,
    plant: Plant | None,
    latest: dict[Metric, tuple[float, int]],
    open_alerts: dict[tuple[Any, ...], Alert],
    now: datetime,
    stale_after: timedelta,
) -> int:
    changed = 0
    plant_id = plant.id if plant else None
    label = plant.name if plant else (node.name or node.mac)
    newest = max((t for _v, t in latest.values()), default=None)
    heard = max(
        [t for t in (node.last_seen, from_ms(newest) if newest else None) if t is not None],
        default=None,
    )
    reference = heard or node.created_at
    stale_key = (AlertKind.STALE.value, plant_id, node.mac, None, None)
    stale = now - reference > stale_after
    if stale and stale_key not in open_alerts:
        minutes = int((now - reference).total_seconds() // 60)
        await open_alert(
            session,
            AlertKind.STALE,
            f"{label}: no data for {minutes} min",
            now,
            node_mac=node.mac,
            plant_id=plant_id,
            value=minutes,
        )
        changed += 1
    elif not stale and stale_key in open_alerts:
        alert = open_alerts[stale_key]
        _resolve(alert, now)
        session.add(alert)
        changed += 1
    battery = node.battery
    if Metric.BATTERY in latest and (
        battery is None
        or node.last_seen is None
        or latest[Metric.BATTERY][1] >= to_ms(node.last_seen)
    ):
        battery = latest[Metric.BATTERY][0]
    battery_key = (AlertKind.LOW_BATTERY.value, plant_id, node.mac, Metric.BATTERY.value, None)
    if battery is not None:
        low = battery < settings.low_battery_percent
        if low and battery_key not in open_alerts:
            await open_alert(
                session,
                AlertKind.LOW_BATTERY,
                f"{label}: battery at {battery:g} %",
                now,
                node_mac=node.mac,
                plant_id=plant_id,
                metric=Metric.BATTERY,
                value=battery,
            )
            changed += 1
        elif (
            battery_key in open_alerts
            and battery >= settings.low_battery_percent + BATTERY_RECOVERY_MARGIN
        ):
            alert = open_alerts[battery_key]
            _resolve(alert, now)
            session.add(alert)
            changed += 1
    return changed


async def record_storage(session: AsyncSession, incident: StorageIncident) -> int:
    """Open the hub's DISK_FULL alert for a storage incident, and resolve it once it ended."""
    query = select(Alert).where(
        col(Alert.resolved_at).is_(None), col(Alert.kind) == AlertKind.DISK_FULL.value
    )
    open_alerts = list((await session.execute(query)).scalars().all())
    changed = 0
    if not open_alerts:
        message = f"the hub could not store data: {incident.message}"
        open_alerts = [await open_alert(session, AlertKind.DISK_FULL, message, incident.since)]
        changed += 1
    if incident.ended_at is not None:
        for alert in open_alerts:
            _resolve(alert, incident.ended_at)
            session.add(alert)
            changed += 1
        await session.flush()
    return changed
