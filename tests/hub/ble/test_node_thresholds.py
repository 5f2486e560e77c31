"""The node's alarm limits from its plant's thresholds (pure: no radio)."""

from __future__ import annotations

from hub.ble.ports import AlarmThresholds
from hub.ble.session import thresholds_applied, with_thresholds
from hub.nodes.service import alarm_thresholds
from shared import gatt as pv
from shared.sync import Thresholds

NODE_DEFAULT = pv.Config()  # moisture 20..80 %, temperature 5..35 °C


def test_each_side_set_by_the_plant_replaces_the_nodes_value() -> None:
    config = with_thresholds(NODE_DEFAULT, AlarmThresholds(moisture_low=35.0, temperature_high=28))
    assert (config.moisture_low, config.moisture_high) == (35.0, 80.0)
    assert (config.temperature_low, config.temperature_high) == (5.0, 28.0)
    assert config.revision == NODE_DEFAULT.revision
    config.validate()  # what the node accepts


def test_limits_the_node_cannot_hold_are_left_alone() -> None:
    # Outside the node's range, or a pair that would not keep low < high.
    crossed = AlarmThresholds(moisture_low=90.0, temperature_low=-60.0, temperature_high=30.0)
    config = with_thresholds(NODE_DEFAULT, crossed)
    assert (config.moisture_low, config.moisture_high) == (20.0, 80.0)
    assert (config.temperature_low, config.temperature_high) == (5.0, 30.0)
    config.validate()


def test_values_are_kept_to_the_nodes_step_so_a_written_config_counts_as_applied() -> None:
    wanted = AlarmThresholds(moisture_low=33.333, moisture_high=66.666)
    written = with_thresholds(NODE_DEFAULT, wanted)
    read_back = pv.Config.decode(written.encode())
    assert (read_back.moisture_low, read_back.moisture_high) == (33.33, 66.67)
    assert thresholds_applied(wanted, read_back)
    assert not thresholds_applied(wanted, NODE_DEFAULT)
    assert not thresholds_applied(wanted, None)
    assert thresholds_applied(None, None)


def test_a_plant_without_moisture_or_temperature_limits_sets_none() -> None:
    assert alarm_thresholds(None) is None
    assert alarm_thresholds(Thresholds(light_lux_min=500, dli_min=4)) is None
    assert alarm_thresholds(Thresholds(moisture_min=30)) == AlarmThresholds(moisture_low=30)
