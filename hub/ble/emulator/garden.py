"""A garden of emulated nodes sharing one in-process radio with the hub."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

from hub.ble.bumble_backend import BleakBackends, BumbleRadio
from hub.ble.emulator.clock import SimClock
from hub.ble.emulator.node import EmulatedNode
from shared import gatt as pv


def garden_mac(index: int) -> str:
    """The MAC of the garden's ``index``-th node (Espressif's 24:6F:28 prefix)."""
    return f"24:6F:28:{(index >> 16) & 0xFF:02X}:{(index >> 8) & 0xFF:02X}:{index & 0xFF:02X}"


DEMO_SECRET = "plant-vita-demo"  # noqa: S105 - derives the emulated garden's bindkeys, not a credential


def garden_bindkey(mac: str, secret: str = DEMO_SECRET) -> bytes:
    """A stable per-node bindkey for the emulated garden (printed by ``plantvita hub emulate``)."""
    return hashlib.sha256(f"{secret}:{mac}".encode()).digest()[:16]


class EmulatedGarden:
    """``count`` emulated Plant-Vita nodes on a Bumble radio, and the bleak backends to reach them.

    Bumble's LocalLink lives in this process, so the hub's gateway must run in the same process
    and use ``backends()``.
    """

    def __init__(
        self,
        count: int,
        *,
        speed: float = 1.0,
        clock: SimClock | None = None,
        radio: BumbleRadio | None = None,
        sampling_interval_s: int = 600,
        connectable_window_s: int = 30,
        photo_every_s: float | None = 6 * 3600,
        photo_size: tuple[int, int] = (320, 240),
        state_dir: Path | None = None,
        secret: str = DEMO_SECRET,
        first_index: int = 1,
        seed_history_s: float = 0.0,
        seed_step_s: float = 1800.0,
        seed_photo_every_s: float = 86_400,
    ) -> None:
        """``seed_history_s``: each node that never measured has been in the garden that long
        before it first boots here, measuring every ``seed_step_s`` and photographing every
        ``seed_photo_every_s`` (``EmulatedNode.seed_history``)."""
        self.seed_history_s = seed_history_s
        self.seed_step_s = seed_step_s
        self.seed_photo_every_s = seed_photo_every_s
        self.seeded: dict[str, int] = {}  # MAC → measurements of its seeded history
        self.clock = clock or SimClock(speed)
        self.radio = radio or BumbleRadio()
        config = pv.Config(
            sampling_interval_s=sampling_interval_s, connectable_window_s=connectable_window_s
        )
        self.nodes: list[EmulatedNode] = []
        for i in range(first_index, first_index + count):
            mac = garden_mac(i)
            self.nodes.append(
                EmulatedNode(
                    self.radio,
                    mac,
                    garden_bindkey(mac, secret),
                    self.clock,
                    seed=i,
                    photo_every_s=photo_every_s,
                    photo_size=photo_size,
                    state_file=(state_dir / f"{mac.replace(':', '')}.json") if state_dir else None,
                    config=config,
                )
            )

    @property
    def bindkeys(self) -> dict[str, bytes]:
        """MAC → bindkey of every node (what the gardener types in when pairing)."""
        return {node.mac: node.bindkey for node in self.nodes}

    def node(self, mac: str) -> EmulatedNode:
        """The node with this MAC."""
        for node in self.nodes:
            if node.mac == mac.upper():
                return node
        raise KeyError(mac)

    def backends(self) -> BleakBackends:
        """bleak scanner/client backend classes bound to this garden's radio."""
        return self.radio.backends()

    async def start(self, *, stagger_real_s: float = 0.0) -> None:
        """Boot every node (optionally spread over ``stagger_real_s`` so bursts interleave)."""
        step = stagger_real_s / max(1, len(self.nodes))
        for node in self.nodes:
            if self.seed_history_s:
                self.seeded[node.mac] = await node.seed_history(
                    self.seed_history_s, self.seed_step_s, self.seed_photo_every_s
                )
            await node.start()
            if step:
                await asyncio.sleep(step)

    async def stop(self) -> None:
        """Power every node off, then the hub's radio side."""
        await asyncio.gather(*(node.stop() for node in self.nodes), return_exceptions=True)
        await self.radio.close()

    async def __aenter__(self) -> EmulatedGarden:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def emulated_backends(garden: EmulatedGarden) -> BleakBackends:
    """The factory the hub calls for ``--emulate``: backend classes bound to ``garden``."""
    return garden.backends()


__all__: Sequence[str] = ["EmulatedGarden", "emulated_backends", "garden_bindkey", "garden_mac"]
