"""Emulated Plant-Vita nodes on an in-process Bumble radio (tests and the demo)."""

from hub.ble.emulator.clock import SimClock
from hub.ble.emulator.garden import EmulatedGarden, emulated_backends, garden_bindkey, garden_mac
from hub.ble.emulator.node import EmulatedNode, Measurement, NodeFaults

__all__ = [
    "EmulatedGarden",
    "EmulatedNode",
    "Measurement",
    "NodeFaults",
    "SimClock",
    "emulated_backends",
    "garden_bindkey",
    "garden_mac",
]
