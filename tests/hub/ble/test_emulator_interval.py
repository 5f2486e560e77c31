"""The emulated node paces itself as the firmware does (pv_config_next_interval_s): an alarm makes
it report at the alert interval, but never less often than its normal sampling interval."""

from __future__ import annotations

from dataclasses import replace

from hub.ble.bumble_backend import BumbleRadio
from hub.ble.emulator import SimClock
from hub.ble.emulator.garden import garden_bindkey
from hub.ble.emulator.node import EmulatedNode
from shared import gatt as pv

MAC = "24:6F:28:00:00:09"


async def paced(config: pv.Config) -> float:
    node = EmulatedNode(
        BumbleRadio(), MAC, garden_bindkey(MAC), SimClock(600.0), photo_every_s=None, config=config
    )
    await node.wake()  # one measurement: its moisture decides whether the node is in alarm
    return node._interval_s()


async def test_an_alarm_shortens_a_long_sampling_interval() -> None:
    config = replace(pv.Config(), moisture_low=99.0, moisture_high=100.0)  # always too dry
    assert await paced(replace(config, sampling_interval_s=600, alert_interval_s=300)) == 300


async def test_an_alarm_never_lengthens_a_short_sampling_interval() -> None:
    config = replace(pv.Config(), moisture_low=99.0, moisture_high=100.0)
    assert await paced(replace(config, sampling_interval_s=10, alert_interval_s=300)) == 10


async def test_no_alarm_keeps_the_sampling_interval() -> None:
    config = replace(pv.Config(), moisture_low=0.0, moisture_high=100.0)
    assert await paced(replace(config, sampling_interval_s=60, alert_interval_s=30)) == 60
