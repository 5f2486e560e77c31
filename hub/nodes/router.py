"""Nodes: list, seen-but-unpaired devices, pair, unpair, config, take a photo."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.dependencies import AdminDep
from hub.dependencies import GatewayDep, ReadSessionDep, StoreDep
from hub.errors import Conflict, NotFound
from hub.nodes import service
from hub.nodes.models import Node
from hub.nodes.schemas import (
    DropCounts,
    NodePublic,
    PairRequest,
    RadioStatus,
    SeenDevicePublic,
)
from hub.plants import service as plants_service
from hub.store.types import SyncState, utcnow
from shared.freshness import stale_after
from shared.mac import normalize_mac
from shared.sync import NodeConfig, NodeConfigUpdate, NodeKind

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])


def to_public(node: Node, plant_id: str | None, now: datetime | None = None) -> NodePublic:
    """The API view of a node."""
    config = NodeConfig.model_validate_json(node.config) if node.config else None
    return NodePublic(
        mac=node.mac,
        kind=NodeKind(node.kind),
        name=node.name,
        paired=node.paired,
        has_bindkey=node.bindkey is not None,
        battery=node.battery,
        rssi=node.rssi,
        last_seen=node.last_seen,
        wrong_key_at=node.wrong_key_at,
        state=service.state_of(node, now or utcnow()),
        stale_after_s=stale_after(node.sampling_interval_s).total_seconds(),
        firmware_version=node.firmware_version,
        drops=DropCounts(**node.advert_counts(), total=node.drops_total),
        config=config,
        config_revision=node.config_revision,
        config_revision_applied=node.config_revision_applied,
        config_pending=config is not None
        and (node.config_revision_applied or -1) < node.config_revision,
        plant_id=plant_id,
        sync_state=SyncState(node.sync_state).name.lower(),
        reject_reason=node.reject_reason,
        readings_held=node.readings_held,
    )


async def _public(session: AsyncSession, node: Node) -> NodePublic:
    plant = await plants_service.plant_on_node(session, node.mac)
    return to_public(node, plant.id if plant else None)


@router.get("", response_model=list[NodePublic])
async def list_nodes(session: ReadSessionDep, include_unpaired: bool = False) -> list[NodePublic]:
    """Paired nodes (and formerly paired ones on request)."""
    nodes = await (
        service.all_nodes(session) if include_unpaired else service.paired_nodes(session)
    )
    return [await _public(session, n) for n in nodes]


@router.get("/seen", response_model=list[SeenDevicePublic])
async def seen_devices(gateway: GatewayDep, session: ReadSessionDep) -> list[SeenDevicePublic]:
    """BTHome and Xiaomi devices in range that are not paired (empty without a radio)."""
    if gateway is None:
        return []
    paired = {n.mac for n in await service.paired_nodes(session)}
    return [
        SeenDevicePublic(
            mac=d.mac,
            name=d.name,
            rssi=d.rssi,
            last_seen=d.last_seen,
            encrypted=d.encrypted,
            plantvita=d.plantvita,
            kind=d.kind,
            model=d.model,
        )
        for d in gateway.seen_devices()
        if d.mac not in paired
    ]


BLE_DISABLED = "turned off in the hub's settings (PLANTVITA_HUB_BLE_ENABLED)"


@router.get("/radio", response_model=RadioStatus)
async def radio_status(gateway: GatewayDep) -> RadioStatus:
    """Why the hub hears no device (no Bluetooth adapter, Bluetooth turned off), or None."""
    return RadioStatus(problem=BLE_DISABLED if gateway is None else gateway.radio_problem)


@router.post("", response_model=NodePublic, status_code=status.HTTP_201_CREATED)
async def pair_node(
    data: PairRequest, store: StoreDep, gateway: GatewayDep, _admin: AdminDep
) -> NodePublic:
    """Pair a node; the gateway starts decoding it right away."""
    bindkey = bytes.fromhex(data.bindkey) if data.bindkey else None

    async def op(session: AsyncSession) -> NodePublic:
        node = await service.pair(session, data.mac, data.kind, bindkey, data.name)
        return await _public(session, node)

    public = await store.write(op)
    if gateway is not None:
        await gateway.reload_nodes()
    return public


@router.get("/{mac}", response_model=NodePublic)
async def get_node(mac: str, session: ReadSessionDep) -> NodePublic:
    """One node."""
    node = await service.node_by_mac(session, _mac(mac))
    if node is None:
        raise NotFound(f"node {mac} not found")
    return await _public(session, node)


@router.delete("/{mac}", status_code=status.HTTP_204_NO_CONTENT)
async def unpair_node(mac: str, store: StoreDep, gateway: GatewayDep, _admin: AdminDep) -> None:
    """Unpair a node; its stored readings stay and still sync."""
    normal = _mac(mac)
    await store.write(lambda session: service.unpair(session, normal))
    if gateway is not None:
        await gateway.reload_nodes()


@router.patch("/{mac}/config", response_model=NodePublic)
async def update_config(
    mac: str, data: NodeConfigUpdate, store: StoreDep, gateway: GatewayDep, _admin: AdminDep
) -> NodePublic:
    """Change a node's settings (new revision); pushed at its next connection."""
    normal = _mac(mac)
    changes = data.model_dump(exclude_unset=True)

    async def op(session: AsyncSession) -> NodePublic:
        node = await service.set_config(session, normal, changes)
        return await _public(session, node)

    public = await store.write(op)
    if gateway is not None:
        await gateway.reload_nodes()
        await gateway.request_session(normal)
    return public


@router.post("/{mac}/photo", status_code=status.HTTP_202_ACCEPTED)
async def take_photo(
    mac: str, session: ReadSessionDep, gateway: GatewayDep, _admin: AdminDep
) -> dict[str, str]:
    """Have a Plant-Vita node take a photo at its next connectable window; it shows in the
    plant's gallery once fetched (Home Assistant's "Take a photo" button does the same)."""
    normal = _mac(mac)
    node = await service.node_by_mac(session, normal)
    if node is None or not node.paired:
        raise NotFound(f"node {normal} is not paired")
    if node.kind != NodeKind.PLANTVITA:
        raise Conflict(f"node {normal} is a third-party sensor without a camera")
    if gateway is None:
        raise Conflict("the hub runs without Bluetooth (PLANTVITA_HUB_BLE_ENABLED=false)")
    await gateway.request_photo(normal)
    return {"status": "requested"}


def _mac(value: str) -> str:
    try:
        return normalize_mac(value)
    except ValueError:
        raise NotFound(f"node {value[:40]} not found") from None
