"""Local alerts from the synced species thresholds: works offline.

Thresholds, low battery and the daily light integral go through the shared alert engine
(``shared.alerts``), the same one the cloud runs, with its state per node and metric kept in
``alert_states``: a threshold alert opens at the reading that completes a breach lasting
``alert_min_duration_s`` and resolves at the first reading back inside by the metric's
hysteresis band from the registry; low battery has no minimum duration; low light is judged by
the DLI of each completed UTC day. Stale nodes: ``shared.freshness``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import repository
from hub.alerts.models import Alert, AlertState
from hub.alerts.schemas import AlertPublic
from hub.errors import NotFound
from hub.nodes import service as nodes_service
from hub.nodes.models import Node
from hub.plants import service as plants_service
from hub.plants.models import Plant
from hub.plants.service import effective_thresholds
from hub.readings import service as readings
from hub.settings import HubSettings
from hub.store import kv
from hub.store.types import SyncState, from_ms
from shared import alert_text
from shared.alert_text import TemperatureUnit
from shared.alerts import (
    Breach,
    MetricState,
    Transition,
    days_to_judge,
    judge_daily_light,
    limits,
    min_duration_of,
)
from shared.alerts import evaluate as evaluate_rule
from shared.freshness import stale_after as freshness_window
from shared.metrics import DLI, SPECS, Metric
from shared.sync import AlertKind, Thresholds

if TYPE_CHECKING:
    from hub.store.database import StorageIncident

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
    names = {p.id: p.name for p in await plants_service.list_plants(session)}
    nodes = {n.mac: n.name or n.mac for n in await nodes_service.all_nodes(session)}
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
    return await repository.newest(session, open_only, limit)


async def acknowledge(session: AsyncSession, alert_id: str, now: datetime) -> Alert:
    """Mark an alert seen; a data-dropped notice is closed by acknowledging it."""
    alert = await repository.get(session, alert_id)
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
    alert_id: str | None = None,
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
        id=alert_id or str(uuid4()),
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
    rows = await repository.open_alerts(session)
    return {(a.kind, a.plant_id, a.node_mac, a.metric, a.rule): a for a in rows}


async def evaluate(session: AsyncSession, settings: HubSettings, now: datetime) -> int:
    """Open and resolve alerts from the data stored since the last round; how many changed."""
    changed = 0
    open_alerts = await _open_alerts(session)
    species = await plants_service.species_map(session)
    plants = {p.node_mac: p for p in await plants_service.list_plants(session) if p.node_mac}
    min_duration = timedelta(seconds=settings.alert_min_duration_s)
    for node in await nodes_service.paired_nodes(session):
        assert node.id is not None
        # Silent for a few of its own sampling intervals, not a fixed hour.
        stale_after = freshness_window(node.sampling_interval_s)
        plant = plants.get(node.mac)
        latest = await readings.latest_values(session, node.id)
        changed += await _stale(session, node, plant, latest, open_alerts, now, stale_after)
        thresholds = effective_thresholds(plant, species) if plant is not None else None
        if plant is not None:
            changed += _retire_instant_low_light(open_alerts, plant.id, node.mac, now)
        engine = _Engine(
            session, node, plant, open_alerts, await repository.states_of(session, node.id)
        )
        for metric, (low, high) in limits(thresholds, settings.low_battery_percent).items():
            state = engine.state(metric.value, metric.value, None)
            series = await readings.series_after(session, node.id, metric, state.last_evaluated_at)
            if metric is Metric.BATTERY:
                series += _battery_status(node, series, state)
            outcome = evaluate_rule(
                state, metric, low, high, min_duration_of(metric, min_duration), series, _new_id
            )
            changed += await engine.apply(metric, None, outcome.transitions)
            if outcome.changed:
                await engine.save(metric.value, state)
        if thresholds is not None and plant is not None:
            changed += await _daily_light(session, engine, node.id, thresholds, now)
    await session.flush()
    return changed


def _new_id() -> str:
    return str(uuid4())


def _battery_status(
    node: Node, series: list[tuple[datetime, float]], state: MetricState
) -> list[tuple[datetime, float]]:
    """The battery level the node reported in its last session, when newer than its readings."""
    if node.battery is None or node.last_seen is None:
        return []
    newest = series[-1][0] if series else state.last_evaluated_at
    if newest is not None and node.last_seen <= newest:
        return []
    return [(node.last_seen, float(node.battery))]


class _Engine:
    """Applies the shared engine's transitions to the hub's alerts and keeps its state."""

    def __init__(
        self,
        session: AsyncSession,
        node: Node,
        plant: Plant | None,
        open_alerts: dict[tuple[Any, ...], Alert],
        stored: dict[str, AlertState],
    ) -> None:
        self.session = session
        self.node = node
        self.plant = plant
        self.open_alerts = open_alerts
        self.stored = stored

    def _key(self, kind: AlertKind, metric: Metric, rule: str | None) -> tuple[Any, ...]:
        plant_id = self.plant.id if self.plant else None
        return (kind.value, plant_id, self.node.mac, metric.value, rule)

    def state(self, name: str, metric_value: str, rule: str | None) -> MetricState:
        """The stored state, or one that adopts an alert opened before the engine kept state."""
        row = self.stored.get(name)
        if row is not None:
            return MetricState(
                _breach(row.breach),
                row.breach_since,
                row.breach_value,
                row.alert_id,
                row.last_evaluated_at,
            )
        state = MetricState()
        for alert in self.open_alerts.values():
            if (alert.node_mac, alert.metric, alert.rule) == (self.node.mac, metric_value, rule):
                breach: Breach = (
                    "low" if alert.kind in (AlertKind.LOW, AlertKind.LOW_BATTERY) else "high"
                )
                state.breach, state.breach_since, state.alert_id = breach, alert.opened_at, alert.id
        return state

    async def save(self, name: str, state: MetricState) -> None:
        """Keep the state for the next round."""
        assert self.node.id is not None
        row = self.stored.get(name) or AlertState(node_id=self.node.id, metric=name)
        self.stored[name] = row
        await repository.save_state(
            self.session,
            row,
            breach=state.breach,
            breach_since=state.breach_since,
            breach_value=state.breach_value,
            alert_id=str(state.alert_id) if state.alert_id is not None else None,
            last_evaluated_at=state.last_evaluated_at,
        )

    async def apply(self, metric: Metric, rule: str | None, transitions: list[Transition]) -> int:
        """Open and resolve the hub's alerts as the engine decided; how many changed."""
        changed = 0
        for transition in transitions:
            if transition.action == "resolve":
                alert = next(
                    (a for a in self.open_alerts.values() if a.id == transition.alert_id), None
                )
                if alert is not None:
                    _resolve(alert, transition.at)
                    self.session.add(alert)
                    self.open_alerts.pop(
                        (alert.kind, alert.plant_id, alert.node_mac, alert.metric, alert.rule),
                        None,
                    )
                    changed += 1
                continue
            kind = _kind(metric, transition)
            alert = await open_alert(
                self.session,
                kind,
                _message(self.node, self.plant, metric, rule, transition),
                transition.at,
                node_mac=self.node.mac,
                plant_id=self.plant.id if self.plant else None,
                metric=metric,
                rule=rule,
                value=transition.value,
                bound=None if metric is Metric.BATTERY else transition.threshold,
                subject=(
                    self.plant.name
                    if self.plant and rule is None and metric is not Metric.BATTERY
                    else None
                ),
                alert_id=str(transition.alert_id),
            )
            self.open_alerts[self._key(kind, metric, rule)] = alert
            changed += 1
        return changed


def _breach(stored: str | None) -> Breach | None:
    return "low" if stored == "low" else "high" if stored == "high" else None


def _kind(metric: Metric, transition: Transition) -> AlertKind:
    if metric is Metric.BATTERY:
        return AlertKind.LOW_BATTERY
    return AlertKind.LOW if transition.breach == "low" else AlertKind.HIGH


def _message(
    node: Node, plant: Plant | None, metric: Metric, rule: str | None, transition: Transition
) -> str:
    label = plant.name if plant else (node.name or node.mac)
    if metric is Metric.BATTERY:
        return f"{label}: battery at {transition.value:g} %"
    side = "below" if transition.breach == "low" else "above"
    if rule == DLI_RULE:
        limit = "minimum" if transition.breach == "low" else "maximum"
        return (
            f"{label}: daily light integral {transition.value:g} mol/m²/day on "
            f"{transition.at.astimezone(UTC):%Y-%m-%d} {side} the plant's {limit} "
            f"{transition.threshold:g}"
        )
    unit = SPECS[metric].unit
    value, bound = f"{transition.value:g} {unit}", f"{transition.threshold:g} {unit}"
    return f"{label}: {metric.value} {value} {side} {bound}"


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
    found = await readings.daily_light_integrals(session, node, day, day + timedelta(days=1))
    return found[0][1] if found else None


async def _daily_light(
    session: AsyncSession, engine: _Engine, node: int, thresholds: Thresholds, now: datetime
) -> int:
    """Judge each completed UTC day not judged yet by its DLI."""
    if thresholds.daily_bounds(Metric.ILLUMINANCE) == (None, None):
        return 0
    state = engine.state(DLI.name, Metric.ILLUMINANCE.value, DLI_RULE)
    first, today = days_to_judge(state, now.astimezone(UTC).date())
    if first >= today:
        return 0
    days = await readings.daily_light_integrals(session, node, first, today)
    outcome = judge_daily_light(state, thresholds, days, today, _new_id)
    changed = await engine.apply(Metric.ILLUMINANCE, DLI_RULE, outcome.transitions)
    await engine.save(DLI.name, state)
    return changed


async def _stale(
    session: AsyncSession,
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
    return changed


async def record_storage(session: AsyncSession, incident: StorageIncident) -> int:
    """Open the hub's DISK_FULL alert for a storage incident, and resolve it once it ended."""
    open_alerts = list(await repository.open_alerts(session, AlertKind.DISK_FULL))
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
