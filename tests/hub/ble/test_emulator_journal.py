"""The emulated node's flash journal: a node built again from its state file (the process it
ran in was killed) has its log, unacknowledged records, photos and served photos back, and a
lost flash starts a new incarnation without resurrecting the old records."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hub.ble.bumble_backend import BumbleRadio
from hub.ble.emulator import SimClock
from hub.ble.emulator.garden import garden_bindkey
from hub.ble.emulator.node import EmulatedNode
from shared import gatt as pv

MAC = "24:6F:28:00:00:07"


def make_node(state: Path) -> EmulatedNode:
    return EmulatedNode(
        BumbleRadio(),
        MAC,
        garden_bindkey(MAC),
        SimClock(600.0),
        photo_every_s=None,
        photo_size=(80, 60),
        state_file=state,
    )


async def control(node: EmulatedNode, request: pv.ControlRequest) -> Any:
    # Control Point requests that need no link (ACK_UPTO, IMG_DELETE), as the hub sends them.
    return await node._execute(None, request)  # type: ignore[arg-type]


async def test_a_killed_node_comes_back_from_its_journal(tmp_path: Path) -> None:
    state = tmp_path / "node.json"
    node = make_node(state)
    for _ in range(5):
        await node.wake()  # not started: measures and journals, advertises nothing
    kept = await node.capture()
    gone = await node.capture()
    assert kept is not None
    assert gone is not None
    await control(node, pv.AckUpto(3))
    await control(node, pv.ImgDelete(gone.image_id))
    node.journal.served(kept.image_id, kept.data)  # type: ignore[union-attr]

    again = make_node(state)
    assert [(m.seq, m.values) for m in again.log] == [(m.seq, m.values) for m in node.log]
    assert [r.seq for r in again.unacked_records()] == [4, 5]
    assert again.counter == 5
    assert again.acked_upto == 3
    assert {i: img.data for i, img in again.flash.images.items()} == {kept.image_id: kept.data}
    assert again.served == [(kept.image_id, hashlib.sha256(kept.data).hexdigest())]
    assert (await again.wake()).seq == 6


async def test_a_lost_flash_is_a_new_incarnation(tmp_path: Path) -> None:
    state = tmp_path / "node.json"
    node = make_node(state)
    for _ in range(3):
        await node.wake()
    await node.capture()
    await node.reboot(keep_counter=False)  # (its wake loop may measure once before stop)
    await node.stop()
    first = await node.wake()
    assert first.incarnation == 1
    reborn = [m.seq for m in node.log if m.incarnation == 1]
    assert reborn == list(range(1, first.seq + 1))

    again = make_node(state)
    assert [(m.incarnation, m.seq) for m in again.log] == [(m.incarnation, m.seq) for m in node.log]
    assert [(m.incarnation, m.seq) for m in again.log][:3] == [(0, 1), (0, 2), (0, 3)]
    assert [r.seq for r in again.unacked_records()] == reborn
    assert again.flash.images == {}
    assert again.counter == first.seq
