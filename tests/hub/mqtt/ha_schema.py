"""Home Assistant's MQTT discovery schema, written down from its documentation (the MQTT
integration page and the sensor, binary sensor and button platform pages), to check what the
hub publishes: topic format, required and known keys, device and origin mappings, device
classes with their units, state classes, and that states fit their entities."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

# <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, ids from [a-zA-Z0-9_-].
TOPIC = re.compile(
    r"^(?P<prefix>[^/]+)/(?P<component>[a-z_]+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?"
    r"(?P<object_id>[a-zA-Z0-9_-]+)/config$"
)

COMMON = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "default_entity_id", "device", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "icon", "json_attributes_template", "json_attributes_topic", "name",
    "origin", "payload_available", "payload_not_available", "platform", "qos", "unique_id",
}  # fmt: skip
PLATFORM_KEYS = {
    "sensor": COMMON | {
        "device_class", "expire_after", "force_update", "last_reset_value_template", "options",
        "state_class", "state_topic", "suggested_display_precision", "unit_of_measurement",
        "value_template",
    },
    "binary_sensor": COMMON | {
        "device_class", "expire_after", "force_update", "off_delay", "payload_off", "payload_on",
        "state_topic", "value_template",
    },
    "button": COMMON | {
        "command_template", "command_topic", "device_class", "payload_press", "retain",
    },
}  # fmt: skip
REQUIRED = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "button": {"command_topic"},
}
DEVICE_KEYS = {
    "configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
    "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device",
}  # fmt: skip
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
# Sensor device classes the hub may use and the units Home Assistant accepts for each.
SENSOR_UNITS: dict[str, set[str | None]] = {
    "battery": {"%"},
    "conductivity": {"S/cm", "mS/cm", "µS/cm"},
    "humidity": {"%"},
    "illuminance": {"lx"},
    "moisture": {"%"},
    "signal_strength": {"dB", "dBm"},
    "temperature": {"°C", "°F", "K"},
    "timestamp": {None},
    "enum": {None},
}
BINARY_DEVICE_CLASSES = {"battery", "connectivity", "problem"}  # the ones the hub uses


def check_config(topic: str, config: dict[str, Any]) -> str:
    """Raise AssertionError when a discovery config breaks the documented schema; return its
    platform."""
    match = TOPIC.match(topic)
    assert match, f"bad discovery topic {topic}"
    component = match["component"]
    assert component in PLATFORM_KEYS, f"{topic}: unexpected platform {component}"
    unknown = set(config) - PLATFORM_KEYS[component]
    assert not unknown, f"{topic}: keys {component} does not document: {unknown}"
    missing = REQUIRED[component] - set(config)
    assert not missing, f"{topic}: required keys missing: {missing}"
    assert "object_id" not in config, "object_id stopped working in HA 2026.4"
    unique_id = config["unique_id"]
    assert isinstance(unique_id, str), topic
    assert unique_id == match["object_id"], topic
    entity_id = config["default_entity_id"]
    assert re.fullmatch(rf"{component}\.[a-z0-9_]+", entity_id), entity_id
    assert isinstance(config["name"], str), topic
    assert config["name"], topic
    device = config["device"]
    assert set(device) <= DEVICE_KEYS, f"{topic}: unknown device keys {set(device) - DEVICE_KEYS}"
    assert device["identifiers"]
    assert all(isinstance(i, str) for i in device["identifiers"])
    assert isinstance(device["name"], str)
    assert device["name"]
    for connection in device.get("connections", []):
        assert isinstance(connection, list), connection
        assert len(connection) == 2, connection
    origin = config["origin"]
    assert set(origin) <= ORIGIN_KEYS, origin
    assert isinstance(origin["name"], str), origin
    for availability in config["availability"]:
        assert set(availability) <= {
            "topic", "payload_available", "payload_not_available", "value_template",
        }  # fmt: skip
        assert availability["topic"]
    assert config.get("qos", 0) in (0, 1, 2)
    if "entity_category" in config:
        assert config["entity_category"] in ENTITY_CATEGORIES
    if component == "sensor":
        device_class = config.get("device_class")
        unit = config.get("unit_of_measurement")
        if device_class is not None:
            assert device_class in SENSOR_UNITS, f"{topic}: device class {device_class}"
            assert unit in SENSOR_UNITS[device_class], f"{topic}: {device_class} in {unit}"
        if device_class in ("timestamp", "enum"):
            assert "state_class" not in config, f"{topic}: {device_class} has no state class"
        if "state_class" in config:
            assert config["state_class"] in STATE_CLASSES
        if device_class == "enum":
            assert config["options"]
            assert all(isinstance(o, str) for o in config["options"])
        else:
            assert "options" not in config
        if "suggested_display_precision" in config:
            assert isinstance(config["suggested_display_precision"], int)
    if component == "binary_sensor" and "device_class" in config:
        assert config["device_class"] in BINARY_DEVICE_CLASSES
    return component


def state_of(config: dict[str, Any], state: dict[str, Any]) -> Any:
    """The value the entity reads from its device's state JSON (its ``value_json.<key>``)."""
    key = re.fullmatch(r"\{\{ value_json\.([a-z0-9_]+) \}\}", config["value_template"])
    assert key, config["value_template"]
    assert key[1] in state, f"state has no {key[1]}"
    return state[key[1]]


def check_state(component: str, config: dict[str, Any], value: Any) -> None:
    """A state value fits its entity: numbers for measurements, ISO times with a zone for
    timestamps, an option for enums, ON/OFF for binary sensors (None is "unknown")."""
    if component == "binary_sensor":
        assert value in ("ON", "OFF"), value
        return
    if value is None:
        return
    device_class = config.get("device_class")
    if device_class == "timestamp":
        assert datetime.fromisoformat(value).tzinfo is not None, value
    elif device_class == "enum":
        assert value in config["options"], f"{value} not in {config['options']}"
    elif "state_class" in config:
        assert isinstance(value, int | float), value
        assert not isinstance(value, bool), value
