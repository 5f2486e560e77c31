"""What Home Assistant is shown, read from the store through the domains' services: the hub,
every paired node with its latest value of each metric and channel, every plant as the garden
overview sees it (metrics against thresholds, daily light, watering forecast, canopy cover,
open alerts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import service as alerts_service
from hub.alerts.schemas import AlertPublic
from hub.nodes import service as nodes_service
from hub.readings import service as readings
from hub.settings import HubSettings
from hub.store.types import from_ms
from hub.web import service as web_service
from hub.web.schemas import PlantCard
from shared.freshness import NodeState
from shared.metrics import Metric


@dataclass(frozen=True, slots=True)
class Value:
    """The latest value of one metric on one channel (sensor index) of a node."""

    metric: Metric
    channel: int
    value: float
    measured_at: datetime


@dataclass(frozen=True, slots=True)
class NodeView:
    """A paired node as Home Assistant sees it."""

    mac: str
    name: str | None
    kind: str
    firmware_version: str | None
    state: NodeState
    rssi: int | None
    last_seen: datetime | None
    values: tuple[Value, ...]
    open_alerts: tuple[AlertPublic, ...] = ()


@dataclass(frozen=True, slots=True)
class GardenView:
    """Everything published: the hub's own alerts, the nodes, the plants."""

    version: str  # ``change_marker`` when this view was read
    hub_alerts: tuple[AlertPublic, ...] = ()
    nodes: tuple[NodeView, ...] = ()
    plants: tuple[PlantCard, ...] = field(default_factory=tuple)


async def change_marker(session: AsyncSession, now: datetime) -> str:
    """A marker that changes whenever anything the view shows changes: the garden overview's
    (readings, alerts, plants, photos, node health) plus which nodes are paired, by what name
    and firmware (unpairing or renaming a node changes no overview figure)."""
    nodes = "|".join(
        f"{n.mac},{n.kind},{n.name},{n.firmware_version}"
        for n in await nodes_service.paired_nodes(session)
    )
    return f"{await web_service.overview_version(session, now)}/{nodes}"


async def garden_view(session: AsyncSession, settings: HubSettings, now: datetime) -> GardenView:
    """The whole view at ``now`` in one read snapshot."""
    overview = await web_service.overview(session, settings, now)
    open_alerts = await alerts_service.list_alerts(session, open_only=True, limit=1000)
    shown = await alerts_service.public_alerts(session, open_alerts)
    nodes = []
    for node in await nodes_service.paired_nodes(session):
        by_channel = (
            {0: await readings.latest_values(session, node.id)}
            | await readings.latest_channels(session, node.id)
            if node.id is not None
            else {}
        )
        values = tuple(
            Value(metric, channel, value, from_ms(at))
            for channel, latest in sorted(by_channel.items())
            for metric, (value, at) in latest.items()
        )
        nodes.append(
            NodeView(
                mac=node.mac,
                name=node.name,
                kind=node.kind,
                firmware_version=node.firmware_version,
                state=nodes_service.state_of(node, now),
                rssi=node.rssi,
                last_seen=node.last_seen,
                values=values,
                open_alerts=tuple(a for a in shown if a.node_mac == node.mac),
            )
        )
    return GardenView(
        version=await change_marker(session, now),
        hub_alerts=tuple(a for a in shown if a.node_mac is None and a.plant_id is None),
        nodes=tuple(nodes),
        plants=tuple(overview.cards),
    )
