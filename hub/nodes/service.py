"""Node logic: pairing, config revisions, gateway status updates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.ble.ports import AlarmThresholds, NodeStatus, PairedNode
from hub.errors import NotFound
from hub.nodes import repository
from hub.nodes.models import Node
from hub.plants import service as plants_service
from hub.plants.service import effective_thresholds
from hub.store.types import SyncState, utcnow
from shared.freshness import NodeState, node_state
from shared.metrics import Metric
from shared.sync import NodeConfig, NodeKind, Thresholds


def alarm_thresholds(thresholds: Thresholds | None) -> AlarmThresholds | None:
    """The node's alarm limits for its plant's thresholds (None without a plant or limits)."""
    if thresholds is None:
        return None
    # The node's own alarm config (GATT TLV) has moisture and temperature limits only.
    moisture = thresholds.bounds(Metric.MOISTURE)
    temperature = thresholds.bounds(Metric.TEMPERATURE)
    alarm = AlarmThresholds(
        moisture_low=moisture[0],
        moisture_high=moisture[1],
        temperature_low=temperature[0],
        temperature_high=temperature[1],
    )
    return None if alarm == AlarmThresholds() else alarm


def state_of(node: Node, now: datetime) -> NodeState:
    """How the node stands now: wrong key, never seen, stale after a few of its intervals, ok."""
    return node_state(node.last_seen, node.wrong_key_at, now, node.sampling_interval_s)


async def plant_thresholds(session: AsyncSession) -> dict[str, Thresholds]:
    """Node MAC -> the thresholds of the plant it watches (species with overrides)."""
    species = await plants_service.species_map(session)
    return {
        plant.node_mac: effective_thresholds(plant, species)
        for plant in await plants_service.list_plants(session)
        if plant.node_mac
    }


def to_paired(node: Node, thresholds: Thresholds | None = None) -> PairedNode:
    """The gateway's view of a node row (with its plant's thresholds, if it has a plant)."""
    return PairedNode(
        mac=node.mac,
        kind=NodeKind(node.kind),
        bindkey=node.bindkey,
        last_seq=node.last_seq,
        seq_epoch=node.seq_epoch,
        config=NodeConfig.model_validate_json(node.config) if node.config else None,
        config_revision_applied=node.config_revision_applied,
        thresholds=alarm_thresholds(thresholds),
        readings_held=node.readings_held,
    )


async def pair(
    session: AsyncSession, mac: str, kind: NodeKind, bindkey: bytes | None, name: str | None
) -> Node:
    """Pair (or re-pair) a node; its readings and history are kept across re-pairing.

    A new bindkey on a node that had one means the node was re-flashed: its counter restarted,
    so a new sequence epoch begins (adverts under the old key cannot authenticate any more, so
    forgetting the old counter lets no replay through). Re-pairing with the same key keeps the
    epoch and the replay position.
    """
    node = await repository.by_mac(session, mac)
    if node is None:
        node = Node(mac=mac, kind=kind.value, created_at=utcnow())
    elif node.bindkey is not None and bindkey is not None and bindkey != node.bindkey:
        node.seq_epoch += 1
        node.key_epoch = node.seq_epoch
        node.last_seq = None
        node.counter_resets += 1
    if bindkey != node.bindkey:
        node.wrong_key_at = None  # a new key: judge the next adverts afresh
    node.kind = kind.value
    node.bindkey = bindkey
    node.paired = True
    if name is not None:
        node.name = name
    node.sync_state = SyncState.PENDING
    session.add(node)
    await session.flush()
    return node


async def unpair(session: AsyncSession, mac: str) -> Node:
    """Stop decoding a node; its row stays so unsynced readings still reach the cloud."""
    node = await repository.by_mac(session, mac)
    if node is None or not node.paired:
        raise NotFound(f"node {mac} is not paired")
    node.paired = False
    node.bindkey = None
    node.sync_state = SyncState.PENDING
    session.add(node)
    await session.flush()
    return node


async def set_config(session: AsyncSession, mac: str, changes: dict[str, object]) -> Node:
    """Apply settings to a node's wanted config and bump its revision."""
    node = await repository.by_mac(session, mac)
    if node is None or not node.paired:
        raise NotFound(f"node {mac} is not paired")
    current = (
        NodeConfig.model_validate_json(node.config)
        if node.config
        else NodeConfig(mac=mac, revision=node.config_revision)
    )
    revision = max(node.config_revision, current.revision) + 1
    updated = NodeConfig.model_validate(
        {**current.model_dump(), **changes, "mac": mac, "revision": revision}
    )
    node.config = updated.model_dump_json()
    node.config_revision = revision
    session.add(node)
    await session.flush()
    return node


async def apply_cloud_config(session: AsyncSession, config: NodeConfig) -> None:
    """Mirror a node config pulled from the cloud when it is newer than ours."""
    node = await repository.by_mac(session, config.mac)
    if node is None or config.revision <= node.config_revision:
        return
    node.config = config.model_dump_json()
    node.config_revision = config.revision
    session.add(node)
    await session.flush()


async def apply_statuses(session: AsyncSession, statuses: Sequence[NodeStatus]) -> None:
    """Record what the gateway learned. Drop counters are the gateway's running totals."""
    for status in statuses:
        node = await repository.by_mac(session, status.node_mac)
        if node is None:
            continue
        if status.last_seen is not None and (
            node.last_seen is None or status.last_seen >= node.last_seen
        ):
            node.last_seen = status.last_seen
            if status.rssi is not None:
                node.rssi = status.rssi
        if status.wrong_key_at is not None and (
            node.wrong_key_at is None or status.wrong_key_at > node.wrong_key_at
        ):
            node.wrong_key_at = status.wrong_key_at
        if status.battery is not None:
            node.battery = status.battery
        if status.name is not None:
            node.name = status.name
        if status.firmware_version is not None:
            node.firmware_version = status.firmware_version
        if status.config_revision_applied is not None:
            node.config_revision_applied = status.config_revision_applied
        # Counts since the gateway's previous status: they add up across hub restarts.
        counted = status.drops
        node.drops_malformed += counted.malformed
        node.drops_wrong_key += counted.wrong_key
        node.drops_replayed += counted.replayed
        node.adverts_stored += counted.stored
        node.adverts_duplicate += counted.duplicate
        node.adverts_unsupported_object += counted.unsupported_object
        node.adverts_unsupported_device += counted.unsupported_device
        if status.readings_held is not None:
            node.readings_held = status.readings_held
        node.sync_state = SyncState.PENDING
        session.add(node)
    await session.flush()


# --- reads other domains use --------------------------------------------------------------


async def paired_nodes(session: AsyncSession) -> Sequence[Node]:
    """Every paired node, by MAC."""
    return await repository.paired(session)


async def all_nodes(session: AsyncSession) -> Sequence[Node]:
    """Every node the hub knows, paired or not."""
    return await repository.all_nodes(session)


async def node_by_mac(session: AsyncSession, mac: str) -> Node | None:
    """The node with this (normalised) MAC."""
    return await repository.by_mac(session, mac)


async def node_ids(
    session: AsyncSession, macs: Iterable[str], *, paired_only: bool = True
) -> dict[str, int]:
    """MAC -> row id for the given MACs (paired nodes only unless told otherwise)."""
    return await repository.ids_by_mac(session, macs, paired_only=paired_only)


async def node_epochs(
    session: AsyncSession, macs: Iterable[str]
) -> dict[str, tuple[int, int, int]]:
    """MAC -> (row id, current sequence epoch, first epoch of its bindkey) of paired nodes."""
    return await repository.epochs_by_mac(session, macs)
