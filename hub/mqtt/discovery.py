"""Home Assistant MQTT discovery messages from a ``GardenView``: pure, no I/O.

Each node and each plant is a Home Assistant device (the hub is one too, the others are
``via_device`` it). Every entity has a retained config message on
``<discovery prefix>/<component>/plantvita_<hub>/<unique id>/config`` and reads its value from
its device's one retained JSON state topic. Node sensors come from the metric registry (every
metric and channel the node has reported; the bthome-ble key of a metric is the Home Assistant
device class of the same name), plant sensors from the garden overview. Availability is the
hub's birth / last-will topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import orjson

from hub.mqtt.view import GardenView, NodeView
from hub.web.schemas import PlantCard
from shared.freshness import NodeState
from shared.metrics import DLI, PLANT_METRICS, SPECS, Metric, MetricSpec, Role
from shared.plant_status import Status
from shared.sync import AlertKind, NodeKind
from shared.watering import ForecastStatus

Component = Literal["sensor", "binary_sensor", "button"]

ONLINE: Final = "online"
OFFLINE: Final = "offline"
PRESS: Final = "PRESS"
ORIGIN_NAME: Final = "Plant-Vita"
MANUFACTURER: Final = "Plant-Vita"

# Home Assistant's sensor device classes (its sensor documentation): a registry metric whose
# bthome-ble key is not one of them gets no device class rather than a config HA refuses.
# fmt: off
SENSOR_DEVICE_CLASSES: Final = frozenset({
    "apparent_power", "aqi", "area", "atmospheric_pressure", "battery",
    "blood_glucose_concentration", "carbon_dioxide", "carbon_monoxide", "conductivity", "current",
    "data_rate", "data_size", "date", "distance", "duration", "energy", "energy_distance",
    "energy_storage", "enum", "frequency", "gas", "humidity", "illuminance", "irradiance",
    "moisture", "monetary", "nitrogen_dioxide", "nitrogen_monoxide", "nitrous_oxide", "ozone",
    "ph", "pm1", "pm10", "pm25", "power", "power_factor", "precipitation",
    "precipitation_intensity", "pressure", "reactive_power", "signal_strength", "sound_pressure",
    "speed", "sulphur_dioxide", "temperature", "timestamp", "volatile_organic_compounds",
    "volatile_organic_compounds_parts", "voltage", "volume", "volume_flow_rate", "volume_storage",
    "water", "weight", "wind_direction", "wind_speed",
})
# fmt: on

# (manufacturer, model) Home Assistant shows for each kind of node the hub pairs.
NODE_KINDS: Final[dict[str, tuple[str, str]]] = {
    NodeKind.PLANTVITA: (MANUFACTURER, "Plant-Vita node"),
    NodeKind.BTHOME: ("BTHome", "BTHome sensor"),
    NodeKind.XIAOMI: ("Xiaomi", "MiFlora / MiBeacon sensor"),
}
PLANT_STATES: Final = ("ok", "attention", "stale", "unknown")
NODE_STATES: Final = tuple(state.value for state in NodeState)
WATERING_STATES: Final[tuple[ForecastStatus, ...]] = ("now", "today", "in_days", "unknown")


@dataclass(frozen=True, slots=True)
class Entity:
    """One Home Assistant entity of a device: its platform, key (in the state JSON and the
    unique id), name, and the platform options beyond the common ones."""

    component: Component
    key: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    attributes: bool = False  # reads JSON attributes from ``attributes.<key>`` of the state


@dataclass(frozen=True, slots=True)
class Device:
    """A Home Assistant device: registry info, entities and the current state JSON."""

    uid: str  # unique id prefix of its entities and its identifier
    info: dict[str, Any]
    state_topic: str
    entities: tuple[Entity, ...]
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Topics:
    """Where the hub publishes: ``base`` is ``<base topic>/<hub id>``."""

    discovery_prefix: str
    base: str
    hub_id: str

    @property
    def availability(self) -> str:
        """Birth ("online") and last will ("offline"), retained."""
        return f"{self.base}/status"

    @property
    def node_id(self) -> str:
        """The discovery topic's node id level: this hub's configs only."""
        return f"plantvita_{self.hub_id}"

    @property
    def config_filter(self) -> str:
        """Every discovery config this hub publishes (to clear the ones no longer wanted)."""
        return f"{self.discovery_prefix}/+/{self.node_id}/+/config"

    @property
    def ha_status(self) -> str:
        """Home Assistant's own birth topic: "online" after it starts."""
        return f"{self.discovery_prefix}/status"

    @property
    def sync_command(self) -> str:
        """The "Sync now" button."""
        return f"{self.base}/hub/sync/press"

    def photo_command(self, mac: str) -> str:
        """A node's "Take a photo" button."""
        return f"{self.base}/node/{_mac_key(mac)}/photo/press"

    @property
    def photo_filter(self) -> str:
        """Every node's "Take a photo" button."""
        return f"{self.base}/node/+/photo/press"

    def mac_of_photo_command(self, topic: str) -> str | None:
        """The node a photo command is for (colon-separated MAC), or None."""
        prefix, suffix = f"{self.base}/node/", "/photo/press"
        if not (topic.startswith(prefix) and topic.endswith(suffix)):
            return None
        key = topic[len(prefix) : -len(suffix)]
        if len(key) != 12 or not all(c in "0123456789abcdef" for c in key):
            return None
        return ":".join(key[i : i + 2] for i in range(0, 12, 2)).upper()

    def config(self, component: Component, unique_id: str) -> str:
        """The discovery config topic of one entity."""
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{unique_id}/config"


def _mac_key(mac: str) -> str:
    return mac.replace(":", "").lower()


def _slug(name: str, fallback: str) -> str:
    slug = "_".join(
        "".join(c if c.isascii() and c.isalnum() else " " for c in name.lower()).split()
    )
    return slug or fallback


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _on(flag: bool) -> str:
    return "ON" if flag else "OFF"


# --- entities derived from the registry ----------------------------------------------------------


def metric_key(metric: Metric, channel: int) -> str:
    """State key and unique id suffix: ``temperature``, then ``temperature_2`` for channel 1
    (bthome-ble's own naming of a repeated object)."""
    return metric.value if channel == 0 else f"{metric.value}_{channel + 1}"


def metric_entity(spec: MetricSpec, channel: int = 0) -> Entity:
    """A measurement sensor of one registry metric on one channel."""
    key = metric_key(spec.metric, channel)
    options: dict[str, Any] = {
        "state_class": "measurement",
        "unit_of_measurement": spec.unit,
        "suggested_display_precision": spec.decimals,
    }
    device_class = spec.bthome[0].key if spec.bthome else None
    if device_class in SENSOR_DEVICE_CLASSES:
        options["device_class"] = device_class
    if spec.role is Role.NODE:
        options["entity_category"] = "diagnostic"
    name = spec.label if channel == 0 else f"{spec.label} {channel + 1}"
    return Entity("sensor", key, name, options)


def _problem(key: str, name: str, device_class: str = "problem") -> Entity:
    return Entity("binary_sensor", key, name, {"device_class": device_class}, attributes=True)


def _alerts(alerts: Any, kinds: set[AlertKind], metric: Metric | None = None) -> list[str]:
    return [a.message for a in alerts if a.kind in kinds and (metric is None or a.metric is metric)]


# --- devices ------------------------------------------------------------------------------------


def hub_device(topics: Topics, view: GardenView, hub_name: str, version: str) -> Device:
    """The hub: "Sync now" and the hub's own alerts (disk full, dropped data)."""
    uid = f"plantvita_hub_{topics.hub_id}"
    entities = (
        Entity(
            "button",
            "sync",
            "Sync now",
            {"command_topic": topics.sync_command, "payload_press": PRESS},
        ),
        _problem("disk_full", "Disk full"),
        _problem("data_dropped", "Data dropped"),
    )
    disk = _alerts(view.hub_alerts, {AlertKind.DISK_FULL})
    dropped = _alerts(view.hub_alerts, {AlertKind.DATA_DROPPED})
    state = {
        "disk_full": _on(bool(disk)),
        "data_dropped": _on(bool(dropped)),
        "attributes": {"disk_full": {"alerts": disk}, "data_dropped": {"alerts": dropped}},
    }
    info = {
        "identifiers": [uid],
        "name": hub_name,
        "manufacturer": MANUFACTURER,
        "model": "Hub",
        "sw_version": version,
    }
    return Device(uid, info, f"{topics.base}/hub/state", entities, state)


def node_device(topics: Topics, node: NodeView, hub_uid: str, photos: bool = True) -> Device:
    """A node: every metric and channel it reported, signal, last seen, its state and alerts,
    and "Take a photo" on Plant-Vita nodes (the camera is theirs)."""
    key = _mac_key(node.mac)
    uid = f"plantvita_node_{key}"
    values = sorted(node.values, key=lambda v: (list(SPECS).index(v.metric), v.channel))
    entities: list[Entity] = [metric_entity(SPECS[v.metric], v.channel) for v in values]
    entities += [
        Entity(
            "sensor",
            "rssi",
            "Signal strength",
            {
                "device_class": "signal_strength",
                "unit_of_measurement": "dBm",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            },
        ),
        Entity(
            "sensor",
            "last_seen",
            "Last seen",
            {"device_class": "timestamp", "entity_category": "diagnostic"},
        ),
        Entity(
            "sensor",
            "state",
            "Reporting",
            {"device_class": "enum", "options": list(NODE_STATES), "entity_category": "diagnostic"},
        ),
        _problem("stale", "Stopped reporting"),
        _problem("low_battery", "Low battery", "battery"),
    ]
    if photos and node.kind == NodeKind.PLANTVITA:
        entities.append(
            Entity(
                "button",
                "photo",
                "Take a photo",
                {"command_topic": topics.photo_command(node.mac), "payload_press": PRESS},
            )
        )
    stale = _alerts(node.open_alerts, {AlertKind.STALE})
    low_battery = _alerts(node.open_alerts, {AlertKind.LOW_BATTERY})
    state: dict[str, Any] = {metric_key(v.metric, v.channel): v.value for v in values}
    state |= {
        "rssi": node.rssi,
        "last_seen": _iso(node.last_seen),
        "state": node.state.value,
        "stale": _on(bool(stale)),
        "low_battery": _on(bool(low_battery)),
        "attributes": {"stale": {"alerts": stale}, "low_battery": {"alerts": low_battery}},
    }
    manufacturer, model = NODE_KINDS.get(node.kind, ("Unknown", node.kind))
    info: dict[str, Any] = {
        "identifiers": [uid],
        "connections": [["bluetooth", node.mac.upper()]],
        "name": node.name or f"Node {node.mac.upper()[-5:]}",
        "manufacturer": manufacturer,
        "model": model,
        "via_device": hub_uid,
    }
    if node.firmware_version:
        info["sw_version"] = node.firmware_version
    return Device(uid, info, f"{topics.base}/node/{key}/state", tuple(entities), state)


def plant_status(card: PlantCard) -> str:
    """The plant at a glance: "attention" when a metric is out of range or an alert is open,
    else "stale" when its values stopped being current, "unknown" with no value, else "ok"."""
    statuses = {m.status for m in card.metrics}
    if statuses & {Status.LOW, Status.HIGH} or card.open_alerts:
        return "attention"
    if not card.metrics or statuses == {Status.UNKNOWN}:
        return "unknown"
    if Status.STALE in statuses:
        return "stale"
    return "ok"


def plant_device(topics: Topics, card: PlantCard, hub_uid: str) -> Device:
    """A plant: its metrics as the overview judges them, status, canopy cover, daily light
    integral, the watering forecast, and one problem sensor per metric with open alerts."""
    plant = card.plant
    uid = f"plantvita_plant_{plant.id.replace('-', '')}"
    shown = {m.metric: m for m in card.metrics}
    metrics = [metric for metric in PLANT_METRICS if metric in shown]
    entities: list[Entity] = [metric_entity(SPECS[m]) for m in metrics]
    entities += [
        Entity(
            "sensor",
            "status",
            "Status",
            {"device_class": "enum", "options": list(PLANT_STATES)},
            attributes=True,
        ),
        Entity(
            "sensor",
            "canopy_cover",
            "Canopy cover",
            {
                "unit_of_measurement": "%",
                "state_class": "measurement",
                "suggested_display_precision": 1,
                "icon": "mdi:leaf",
            },
        ),
        Entity(
            "sensor",
            "dli",
            f"{DLI.label} yesterday",
            {
                "unit_of_measurement": DLI.unit,
                "state_class": "measurement",
                "suggested_display_precision": DLI.decimals,
                "icon": "mdi:white-balance-sunny",
            },
        ),
        Entity(
            "sensor",
            "dli_today",
            f"{DLI.label} today so far",
            {
                "unit_of_measurement": DLI.unit,
                "state_class": "measurement",
                "suggested_display_precision": DLI.decimals,
                "icon": "mdi:white-balance-sunny",
            },
        ),
        Entity(
            "sensor",
            "watering",
            "Watering",
            {"device_class": "enum", "options": list(WATERING_STATES), "icon": "mdi:watering-can"},
            attributes=True,
        ),
        Entity("sensor", "needs_water_at", "Needs water at", {"device_class": "timestamp"}),
        Entity("sensor", "last_watered", "Last watered", {"device_class": "timestamp"}),
    ]
    entities += [_problem(f"{m.value}_alert", f"{SPECS[m].label} alert") for m in metrics]
    state: dict[str, Any] = {m.value: shown[m].value for m in metrics}
    attributes: dict[str, Any] = {
        "status": {m.value: shown[m].status.value for m in metrics}
        | {"alerts": [a.message for a in card.open_alerts]}
    }
    light = shown.get(Metric.ILLUMINANCE)
    daily = light.daily if light is not None else None
    watering = card.watering
    state |= {
        "status": plant_status(card),
        "canopy_cover": round(card.canopy_cover * 100, 1)
        if card.canopy_cover is not None
        else None,
        "dli": daily.yesterday.dli if daily else None,
        "dli_today": daily.today.dli if daily else None,
        "watering": watering.status if watering else "unknown",
        "needs_water_at": _iso(watering.dry_at) if watering else None,
        "last_watered": _iso(watering.last_watered_at) if watering else None,
    }
    attributes["watering"] = {
        "text": watering.text if watering else "No watering forecast",
        "days": watering.days if watering else None,
        "hours_until_dry": watering.hours_until_dry if watering else None,
        "drying_per_day": watering.drying_per_day if watering else None,
        "reason": watering.reason if watering else None,
    }
    for m in metrics:
        messages = _alerts(card.open_alerts, {AlertKind.LOW, AlertKind.HIGH}, m)
        state[f"{m.value}_alert"] = _on(bool(messages))
        attributes[f"{m.value}_alert"] = {"alerts": messages}
    state["attributes"] = attributes
    info: dict[str, Any] = {
        "identifiers": [uid],
        "name": plant.name,
        "manufacturer": MANUFACTURER,
        "model": plant.species_name or "Plant",
        "via_device": hub_uid,
    }
    if plant.location:
        info["suggested_area"] = plant.location
    return Device(uid, info, f"{topics.base}/plant/{plant.id}/state", tuple(entities), state)


def devices(
    topics: Topics, view: GardenView, hub_name: str, version: str, *, photos: bool = True
) -> list[Device]:
    """Every device of the view: the hub, its nodes, its plants (``photos``: nodes get a
    "Take a photo" button)."""
    hub = hub_device(topics, view, hub_name, version)
    return [
        hub,
        *(node_device(topics, node, hub.uid, photos) for node in view.nodes),
        *(plant_device(topics, card, hub.uid) for card in view.plants),
    ]


def entity_config(topics: Topics, device: Device, entity: Entity, version: str) -> dict[str, Any]:
    """The discovery config payload of one entity (Home Assistant's documented keys)."""
    unique_id = f"{device.uid}_{entity.key}"
    slug = _slug(str(device.info["name"]), device.uid)
    config: dict[str, Any] = {
        "name": entity.name,
        "unique_id": unique_id,
        "default_entity_id": f"{entity.component}.{slug}_{entity.key}",
        "device": device.info,
        "origin": {"name": ORIGIN_NAME, "sw_version": version},
        "availability": [
            {
                "topic": topics.availability,
                "payload_available": ONLINE,
                "payload_not_available": OFFLINE,
            }
        ],
        "qos": 1,
    }
    if entity.component != "button":
        config["state_topic"] = device.state_topic
        config["value_template"] = f"{{{{ value_json.{entity.key} }}}}"
    if entity.attributes:
        config["json_attributes_topic"] = device.state_topic
        config["json_attributes_template"] = (
            f"{{{{ value_json.attributes.{entity.key} | tojson }}}}"
        )
    config |= entity.options
    return config


def messages(
    topics: Topics, view: GardenView, hub_name: str, version: str, *, photos: bool = True
) -> Iterator[tuple[str, bytes]]:
    """(topic, payload) of every retained message the view needs: configs, then states."""
    built = devices(topics, view, hub_name, version, photos=photos)
    for device in built:
        for entity in device.entities:
            yield (
                topics.config(entity.component, f"{device.uid}_{entity.key}"),
                orjson.dumps(entity_config(topics, device, entity, version)),
            )
    for device in built:
        yield device.state_topic, orjson.dumps(device.state)
