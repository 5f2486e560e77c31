"""The emulated node paces itself as the firmware does (pv_config_next_interval_s): an alarm makes
it report at the alert interval, but never less often than its normal sampling interval; and
it boots again when its stack stalls while powering on."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from bumble.device import Device

from hub.ble.bumble_backend import BumbleRadio
from hub.ble.emulator import SimClock
from hub.ble.emulator import node as node_module
from hub.ble.emulator.garden import garden_bindkey
from hub.ble.emulator.node import EmulatedNode
from shared import gatt as pv

pytestmark = pytest.mark.pi  # also runs under aarch64 in `make pi-check`

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


async def test_a_stalled_power_on_boots_again_on_a_fresh_controller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    radio = BumbleRadio()
    devices: list[Device] = []
    add_peripheral = radio.add_peripheral

    def add_and_stall_the_first(address: str, name: str) -> Device:
        device = add_peripheral(address, name)
        if not devices:
            # The first controller never answers: power_on waits forever, as Bumble did.
            monkeypatch.setattr(device, "power_on", asyncio.Event().wait)
        devices.append(device)
        return device

    monkeypatch.setattr(radio, "add_peripheral", add_and_stall_the_first)
    monkeypatch.setattr(node_module, "POWER_ON_TIMEOUT_S", 0.2)
    node = EmulatedNode(radio, MAC, garden_bindkey(MAC), SimClock(600.0), photo_every_s=None)
    await node.start()
    try:
        assert len(devices) == 2
        assert node._device is devices[1]
        assert devices[0].host.hci_sink not in radio.link.controllers
    finally:
        await node.stop()
