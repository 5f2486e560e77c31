"""Registry logic: owner-scoped CRUD, config revisions, the hub config snapshot and inventory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cloud.auth.models import Hub
from cloud.errors import ConflictError, InvalidRequestError, NotFoundError
from cloud.notifications.ports import Subject
from cloud.notifications.preferences import HUB_OFFLINE
from cloud.notifications.queueing import defer_events_sql
from cloud.pagination import Page, PageRequest
from cloud.registry import hooks, repository
from cloud.registry.models import Node, Plant, Species
from cloud.registry.schemas import (
    HubPublic,
    HubUpdate,
    NodeCreate,
    NodePublic,
    NodeUpdate,
    PlantCreate,
    PlantPublic,
    PlantUpdate,
    SpeciesPublic,
)
from shared.sync import (
    ConfigSnapshot,
    HubSyncStatus,
    ItemRejection,
    NodeConfig,
    NodeConfigUpdate,
    NodeInventory,
    NodeInventoryAck,
    PendingCounts,
    PlantConfig,
    PlantEdit,
    PlantEditAck,
    PlantEditBatch,
    PlantEditOutcome,
    PlantEditResult,
    RejectReason,
    SpeciesThresholds,
    Thresholds,
)

_log = structlog.get_logger("cloud.registry")
_THRESHOLD_FIELDS = tuple(Thresholds.model_fields)


def _now() -> datetime:
    return datetime.now(UTC)


# --- conversions -------------------------------------------------------------------------------


def species_thresholds(species: Species) -> Thresholds:
    """A species row's ranges as ``Thresholds``."""
    return Thresholds(**{name: getattr(species, name) for name in _THRESHOLD_FIELDS})


def effective_thresholds(species: Species | None, overrides: dict[str, Any] | None) -> Thresholds:
    """The plant's ranges (``Thresholds.effective``) from the rows the cloud stores them in."""
    return Thresholds.effective(
        species_thresholds(species) if species is not None else None,
        Thresholds.model_validate(overrides) if overrides else None,
    )


def hub_public(hub: Hub) -> HubPublic:
    """Response model of a hub."""
    pending = PendingCounts.model_validate(hub.sync_pending) if hub.sync_pending else None
    return HubPublic(
        id=hub.id,
        name=hub.name,
        linked=hub.token_hash is not None and hub.revoked_at is None,
        created_at=hub.created_at,
        last_seen_at=hub.last_seen_at,
        revoked_at=hub.revoked_at,
        config_revision=hub.config_revision,
        config_revision_acked=hub.config_revision_acked,
        config_pending=(hub.config_revision_acked or 0) < hub.config_revision,
        pending=pending,
        pending_total=pending.total if pending else None,
        pending_reported_at=hub.sync_reported_at,
        oldest_pending_reading_at=hub.oldest_pending_reading_at,
        last_sync_error=hub.sync_error,
    )


def node_config(node: Node) -> NodeConfig:
    """The node's settings at its current revision."""
    return NodeConfig(
        mac=node.mac,
        revision=node.config_revision,
        sampling_interval_s=node.sampling_interval_s,
        advert_burst=node.advert_burst,
        camera_interval_s=node.camera_interval_s,
        connectable_window_s=node.connectable_window_s,
    )


def node_public(node: Node) -> NodePublic:
    """Response model of a node."""
    return NodePublic(
        id=node.id,
        mac=node.mac,
        kind=node.kind,
        name=node.name,
        hub_id=node.hub_id,
        firmware_version=node.firmware_version,
        battery=node.battery,
        rssi=node.rssi,
        last_seen_at=node.last_seen_at,
        last_reading_at=node.last_reading_at,
        dropped_adverts=node.dropped_adverts,
        advert_counts=node.advert_counts,
        config=node_config(node),
        config_revision_applied=node.config_revision_applied,
        config_pending=node.config_revision_applied != node.config_revision,
        created_at=node.created_at,
    )


def plant_public(plant: Plant, species: Species | None) -> PlantPublic:
    """Response model of a plant."""
    return PlantPublic(
        id=plant.id,
        name=plant.name,
        species_id=plant.species_id,
        species_name=species.common_name if species else None,
        location=plant.location,
        node_id=plant.node_id,
        overrides=Thresholds.model_validate(plant.overrides) if plant.overrides else None,
        thresholds=effective_thresholds(species, plant.overrides),
        created_at=plant.created_at,
        updated_at=plant.updated_at,
    )


def species_public(species: Species) -> SpeciesPublic:
    """Response model of a species."""
    return SpeciesPublic(
        id=species.id,
        common_name=species.common_name,
        scientific_name=species.scientific_name,
        category=species.category,
        thresholds=species_thresholds(species),
    )


# --- hubs ------------------------------------------------------------------------------------


async def list_hubs(
    session: AsyncSession, owner_id: uuid.UUID, page: PageRequest
) -> Page[HubPublic]:
    """A page of the owner's hubs, linked ones first, newest first."""
    return (await repository.hubs_of(session, owner_id, page)).map(hub_public)


async def get_hub(session: AsyncSession, owner_id: uuid.UUID, hub_id: uuid.UUID) -> Hub:
    """One of the owner's hubs or 404."""
    hub = await repository.hub_of(session, owner_id, hub_id)
    if hub is None:
        raise NotFoundError("hub not found")
    return hub


async def rename_hub(
    session: AsyncSession, owner_id: uuid.UUID, hub_id: uuid.UUID, body: HubUpdate
) -> HubPublic:
    """Rename a hub."""
    hub = await get_hub(session, owner_id, hub_id)
    hub.name = body.name
    await session.flush()
    return hub_public(hub)


async def unlink_hub(session: AsyncSession, owner_id: uuid.UUID, hub_id: uuid.UUID) -> None:
    """Revoke the hub's token (it can no longer sync) and detach its nodes."""
    hub = await get_hub(session, owner_id, hub_id)
    if hub.revoked_at is None:
        hub.revoked_at = _now()
    hub.token_hash = None
    for node in await repository.nodes_of_hub(session, hub.id):
        node.hub_id = None
    await session.flush()


# --- nodes -----------------------------------------------------------------------------------


async def list_nodes(
    session: AsyncSession, owner_id: uuid.UUID, page: PageRequest
) -> Page[NodePublic]:
    """A page of the owner's nodes by MAC."""
    return (await repository.nodes_of(session, owner_id, page)).map(node_public)


async def get_node(session: AsyncSession, owner_id: uuid.UUID, node_id: uuid.UUID) -> Node:
    """One of the owner's nodes or 404."""
    node = await repository.node_of(session, owner_id, node_id)
    if node is None:
        raise NotFoundError("node not found")
    return node


async def _owned_hub_id(
    session: AsyncSession, owner_id: uuid.UUID, hub_id: uuid.UUID | None
) -> uuid.UUID | None:
    if hub_id is None:
        return None
    hub = await repository.hub_of(session, owner_id, hub_id)
    if hub is None or hub.revoked_at is not None:
        raise InvalidRequestError("hub_id is not one of your linked hubs")
    return hub.id


async def create_node(session: AsyncSession, owner_id: uuid.UUID, body: NodeCreate) -> NodePublic:
    """Register a node; a MAC already registered (by anyone) is a 409."""
    hub_id = await _owned_hub_id(session, owner_id, body.hub_id)
    if await repository.nodes_by_mac(session, [body.mac]):
        raise ConflictError("a node with this MAC is already registered")
    node = Node(owner_id=owner_id, hub_id=hub_id, mac=body.mac, kind=body.kind, name=body.name)
    session.add(node)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError("a node with this MAC is already registered") from exc
    await repository.bump_hubs(session, [hub_id])
    return node_public(node)


async def update_node(
    session: AsyncSession, owner_id: uuid.UUID, node_id: uuid.UUID, body: NodeUpdate
) -> NodePublic:
    """Rename a node or move it between the owner's hubs."""
    node = await get_node(session, owner_id, node_id)
    if "name" in body.model_fields_set:
        node.name = body.name
    if "hub_id" in body.model_fields_set:
        new_hub = await _owned_hub_id(session, owner_id, body.hub_id)
        if new_hub != node.hub_id:
            await repository.bump_hubs(session, [node.hub_id, new_hub])
            node.hub_id = new_hub
    node.updated_at = _now()
    await session.flush()
    return node_public(node)


async def delete_node(session: AsyncSession, owner_id: uuid.UUID, node_id: uuid.UUID) -> None:
    """Delete a node with its readings; its plant keeps existing without a node."""
    node = await get_node(session, owner_id, node_id)
    await repository.bump_hubs(session, [node.hub_id])
    plant = await repository.plant_on_node(session, node.id)
    if plant is not None:
        plant.node_id = None
        await repository.bump_owner_hubs(session, owner_id)
    # Its assignment history goes with it (cascade); its photos keep their plant.
    for delete_data in hooks.hooks().node_deleted:  # readings, rollups, alert state
        await delete_data(session, node.id)
    await session.delete(node)
    await session.flush()


async def update_node_config(
    session: AsyncSession, owner_id: uuid.UUID, node_id: uuid.UUID, body: NodeConfigUpdate
) -> NodeConfig:
    """Change node settings; a real change bumps the node's and its hub's revision."""
    node = await get_node(session, owner_id, node_id)
    changed = False
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is None and field != "camera_interval_s":
            continue
        if getattr(node, field) != value:
            setattr(node, field, value)
            changed = True
    if changed:
        node.config_revision += 1
        node.updated_at = _now()
        await repository.bump_hubs(session, [node.hub_id])
    await session.flush()
    return node_config(node)


# --- plants ----------------------------------------------------------------------------------


async def _check_plant_refs(
    session: AsyncSession,
    owner_id: uuid.UUID,
    species_id: int | None,
    node_id: uuid.UUID | None,
    plant_id: uuid.UUID | None,
) -> Species | None:
    species = None
    if species_id is not None:
        species = (await repository.species_by_ids(session, [species_id])).get(species_id)
        if species is None:
            raise InvalidRequestError("species_id is not in the catalog")
    if node_id is not None:
        if await repository.node_of(session, owner_id, node_id) is None:
            raise InvalidRequestError("node_id is not one of your nodes")
        other = await repository.plant_on_node(session, node_id)
        if other is not None and other.id != plant_id:
            raise ConflictError("this node already measures another plant")
    return species


async def _move_node(
    session: AsyncSession,
    owner_id: uuid.UUID,
    plant_id: uuid.UUID,
    old_node_id: uuid.UUID | None,
    new_node_id: uuid.UUID | None,
) -> None:
    """Record a change of the plant's node in the assignment history and attribute photos.

    The new node's photos that have no plant yet, taken since it last stopped measuring a plant
    (or ever, if it never did), become part of this plant's Visual History.
    """
    if old_node_id == new_node_id:
        return
    now = _now()
    if old_node_id is not None:
        await repository.close_assignment(session, old_node_id, now)
    if new_node_id is not None:
        await repository.close_assignment(session, new_node_id, now)
        since = await repository.last_unassigned_at(session, new_node_id)
        await repository.open_assignment(session, owner_id, new_node_id, plant_id, now)
        await hooks.hooks().node_assigned(session, owner_id, new_node_id, plant_id, since)


async def _species_of(session: AsyncSession, plant: Plant) -> Species | None:
    if plant.species_id is None:
        return None
    return (await repository.species_by_ids(session, [plant.species_id])).get(plant.species_id)


async def list_plants(
    session: AsyncSession, owner_id: uuid.UUID, page: PageRequest
) -> Page[PlantPublic]:
    """A page of the owner's plants by name."""
    plants = await repository.plants_of(session, owner_id, page)
    species = await repository.species_by_ids(
        session, [p.species_id for p in plants.items if p.species_id is not None]
    )
    return plants.map(lambda p: plant_public(p, species.get(p.species_id or -1)))


async def get_plant(session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID) -> Plant:
    """One of the owner's plants or 404."""
    plant = await repository.plant_of(session, owner_id, plant_id)
    if plant is None:
        raise NotFoundError("plant not found")
    return plant


async def plant_with_thresholds(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> tuple[Plant, Thresholds]:
    """One of the owner's plants (or 404) with its effective thresholds."""
    plant = await get_plant(session, owner_id, plant_id)
    return plant, effective_thresholds(await _species_of(session, plant), plant.overrides)


async def plant_detail(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> PlantPublic:
    """One plant with its effective thresholds."""
    plant = await get_plant(session, owner_id, plant_id)
    return plant_public(plant, await _species_of(session, plant))


def check_ranges(thresholds: Thresholds) -> None:
    """Every effective minimum below its maximum (``shared.metrics.threshold_conflicts``, the
    rule the hub applies too), or a 422 naming each range that is not."""
    if problems := thresholds.conflicts():
        raise InvalidRequestError("; ".join(problems), details={"thresholds": problems})


def _overrides_json(overrides: Thresholds | None) -> dict[str, Any] | None:
    if overrides is None:
        return None
    data = overrides.model_dump(exclude_none=True)
    return data or None


async def create_plant(
    session: AsyncSession, owner_id: uuid.UUID, body: PlantCreate
) -> PlantPublic:
    """Create a plant; every hub of the owner gets a new config revision."""
    species = await _check_plant_refs(session, owner_id, body.species_id, body.node_id, None)
    check_ranges(effective_thresholds(species, _overrides_json(body.overrides)))
    plant = Plant(
        owner_id=owner_id,
        name=body.name,
        species_id=body.species_id,
        location=body.location,
        node_id=body.node_id,
        overrides=_overrides_json(body.overrides),
    )
    session.add(plant)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError("this node already measures another plant") from exc
    await _move_node(session, owner_id, plant.id, None, plant.node_id)
    await repository.bump_owner_hubs(session, owner_id)
    return plant_public(plant, species)


async def update_plant(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID, body: PlantUpdate
) -> PlantPublic:
    """Partial update of a plant (explicit nulls clear a field)."""
    plant = await get_plant(session, owner_id, plant_id)
    fields = body.model_fields_set
    if "name" in fields:
        if body.name is None:
            raise InvalidRequestError("a plant needs a name")
        plant.name = body.name
    species_id = body.species_id if "species_id" in fields else plant.species_id
    node_id = body.node_id if "node_id" in fields else plant.node_id
    species = await _check_plant_refs(session, owner_id, species_id, node_id, plant.id)
    old_node_id = plant.node_id
    plant.species_id = species_id
    plant.node_id = node_id
    if "location" in fields:
        plant.location = body.location
    if "overrides" in fields:
        plant.overrides = _overrides_json(body.overrides)
    check_ranges(effective_thresholds(species, plant.overrides))
    plant.updated_at = _now()
    plant.revision += 1
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError("this node already measures another plant") from exc
    await _move_node(session, owner_id, plant.id, old_node_id, node_id)
    await repository.bump_owner_hubs(session, owner_id)
    return plant_public(plant, species)


def plant_config(plant: Plant, node_mac: str | None) -> PlantConfig:
    """A plant as hubs mirror it."""
    return PlantConfig(
        id=plant.id,
        name=plant.name,
        species_id=plant.species_id,
        location=plant.location,
        node_mac=node_mac,
        overrides=Thresholds.model_validate(plant.overrides) if plant.overrides else None,
        revision=plant.revision,
    )


async def apply_plant_edits(session: AsyncSession, hub: Hub, batch: PlantEditBatch) -> PlantEditAck:
    """Apply edits made on a hub, in order. The cloud is the source of truth: an edit made on a
    copy older than the plant's current revision is a conflict and changes nothing (the hub
    shows it as lost); an invalid one is rejected; each edit is its own savepoint."""
    results: list[PlantEditResult] = []
    for edit in batch.edits:
        plant = await repository.plant_of(session, hub.owner_id, edit.plant_id)
        if plant is None:
            results.append(
                PlantEditResult(
                    edit_id=edit.edit_id,
                    outcome=PlantEditOutcome.REJECTED,
                    message="plant not found",
                )
            )
            continue
        outcome, message = PlantEditOutcome.APPLIED, None
        if plant.last_hub_edit != edit.edit_id:
            if plant.revision != edit.base_revision:
                outcome = PlantEditOutcome.CONFLICT
                message = (
                    f"changed in the cloud since this hub's copy (revision {plant.revision}, "
                    f"edited on {edit.base_revision}); the cloud's version stays"
                )
            else:
                outcome, message = await _apply_one_edit(session, hub, plant, edit)
        node = (
            await repository.node_of(session, hub.owner_id, plant.node_id)
            if plant.node_id
            else None
        )
        results.append(
            PlantEditResult(
                edit_id=edit.edit_id,
                outcome=outcome,
                message=message,
                revision=plant.revision,
                current=plant_config(plant, node.mac if node else None),
            )
        )
    return PlantEditAck(results=results)


async def _apply_one_edit(
    session: AsyncSession, hub: Hub, plant: Plant, edit: PlantEdit
) -> tuple[PlantEditOutcome, str | None]:
    changes = edit.changes.model_dump(exclude_unset=True)
    if "node_mac" in changes:
        mac = changes.pop("node_mac")
        node = (await repository.nodes_by_mac(session, [mac])).get(mac) if mac else None
        if mac and (node is None or node.owner_id != hub.owner_id):
            return PlantEditOutcome.REJECTED, f"node {mac} is not registered to this account"
        changes["node_id"] = node.id if node else None
    try:
        async with session.begin_nested():
            await update_plant(session, hub.owner_id, plant.id, PlantUpdate.model_validate(changes))
            plant.last_hub_edit = edit.edit_id
            await session.flush()
    except (ConflictError, InvalidRequestError) as exc:
        await session.refresh(plant)
        return PlantEditOutcome.REJECTED, exc.message
    return PlantEditOutcome.APPLIED, None


async def delete_plant(session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID) -> None:
    """Delete a plant (its node and readings stay)."""
    plant = await get_plant(session, owner_id, plant_id)
    await _move_node(session, owner_id, plant.id, plant.node_id, None)
    # photos: rows cascade, objects purged
    await hooks.hooks().plant_deleted(session, owner_id, plant_id)
    await session.delete(plant)
    await repository.bump_owner_hubs(session, owner_id)
    await session.flush()


# --- species ---------------------------------------------------------------------------------


async def search_species(
    session: AsyncSession, query: str | None, category: str | None, page: PageRequest
) -> Page[SpeciesPublic]:
    """A page of the catalog by common name, optionally searched and filtered."""
    return (await repository.search_species(session, query, category, page)).map(species_public)


async def get_species(session: AsyncSession, species_id: int) -> SpeciesPublic:
    """One species or 404."""
    species = (await repository.species_by_ids(session, [species_id])).get(species_id)
    if species is None:
        raise NotFoundError("species not found")
    return species_public(species)


# --- hub-facing: snapshot and inventory ------------------------------------------------------


def record_sync_status(hub: Hub, status: HubSyncStatus, now: datetime) -> None:
    """Keep what the hub reports still waiting to be sent, for the garden's sync health."""
    hub.sync_pending = status.pending.model_dump()
    hub.oldest_pending_reading_at = status.oldest_pending_reading_at
    hub.sync_error = status.last_error
    hub.sync_reported_at = now


def acknowledge_config(hub: Hub, since_revision: int | None) -> None:
    """The hub pulling with ``since_revision`` holds that revision: remember it (never back)."""
    if since_revision is None or since_revision > hub.config_revision:
        return
    if hub.config_revision_acked is None or since_revision > hub.config_revision_acked:
        hub.config_revision_acked = since_revision


async def config_snapshot(session: AsyncSession, hub: Hub) -> ConfigSnapshot:
    """Everything the hub needs offline: its plants, their species ranges, its nodes' config."""
    plants: Sequence[Plant] = await repository.plants_for_hub(session, hub)
    nodes = await repository.nodes_of_hub(session, hub.id)
    node_macs = {node.id: node.mac for node in nodes}
    species = await repository.species_by_ids(
        session, [p.species_id for p in plants if p.species_id is not None]
    )
    plant_configs = [
        plant_config(plant, node_macs.get(plant.node_id) if plant.node_id else None)
        for plant in plants
    ]
    return ConfigSnapshot(
        revision=hub.config_revision,
        hub_id=hub.id,
        generated_at=_now(),
        plants=plant_configs,
        species=[
            SpeciesThresholds(
                id=s.id,
                common_name=s.common_name,
                scientific_name=s.scientific_name,
                thresholds=species_thresholds(s),
            )
            for s in sorted(species.values(), key=lambda s: s.id)
        ],
        nodes=[node_config(node) for node in nodes],
    )


async def apply_inventory(
    session: AsyncSession, hub: Hub, inventory: NodeInventory
) -> NodeInventoryAck:
    """Register new nodes to the hub's owner, update known ones; refuse MACs owned by others."""
    existing = await repository.nodes_by_mac(session, [info.mac for info in inventory.nodes])
    registered: list[str] = []
    updated: list[str] = []
    rejected: list[ItemRejection] = []
    bump: set[uuid.UUID | None] = set()
    now = _now()
    for index, info in enumerate(inventory.nodes):
        node = existing.get(info.mac)
        if node is not None and node.owner_id != hub.owner_id:
            rejected.append(
                ItemRejection(
                    index=index,
                    reason=RejectReason.CONFLICT,
                    message="this MAC is registered to another account",
                )
            )
            continue
        if node is None:
            node = Node(owner_id=hub.owner_id, hub_id=hub.id, mac=info.mac, kind=info.kind)
            session.add(node)
            existing[info.mac] = node
            registered.append(info.mac)
            bump.add(hub.id)
        else:
            updated.append(info.mac)
            if node.hub_id != hub.id:
                bump.update({node.hub_id, hub.id})
                node.hub_id = hub.id
        if info.name and not node.name:
            node.name = info.name
        node.kind = info.kind
        node.firmware_version = info.firmware_version or node.firmware_version
        if info.battery is not None:
            node.battery = info.battery
        if info.rssi is not None:
            node.rssi = info.rssi
        if info.last_seen is not None:
            node.last_seen_at = info.last_seen
        if info.config_revision_applied is not None:
            node.config_revision_applied = info.config_revision_applied
        node.dropped_adverts = info.dropped_adverts
        if info.advert_counts is not None:
            node.advert_counts = info.advert_counts.model_dump()
        node.updated_at = now
    await session.flush()
    await repository.bump_hubs(session, bump)
    return NodeInventoryAck(registered=registered, updated=updated, rejected=rejected)


# --- hub offline notifications ---------------------------------------------------------------

_GONE_OFFLINE = """
WITH gone AS (
    UPDATE hubs SET offline_notified_at = now()
    WHERE revoked_at IS NULL AND token_hash IS NOT NULL AND last_seen_at IS NOT NULL
      AND last_seen_at < now() - make_interval(secs => %(after)s)
      AND (offline_notified_at IS NULL OR offline_notified_at < last_seen_at)
    RETURNING id, owner_id
)
"""
_OFFLINE_EVENTS = f"SELECT id, owner_id, '{HUB_OFFLINE}' FROM gone"  # noqa: S608 - a constant
_HUBS_GONE_OFFLINE = _GONE_OFFLINE + defer_events_sql(_OFFLINE_EVENTS)


async def check_offline_hubs(engine: AsyncEngine, offline_after_s: int) -> None:
    """Tell the owners of hubs that went silent (once per outage: told again only after the
    hub has called in since)."""
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute(_HUBS_GONE_OFFLINE, {"after": offline_after_s})


async def run_offline_hub_checks(engine: AsyncEngine, offline_after_s: int, every_s: float) -> None:
    """``check_offline_hubs`` every ``every_s`` seconds until cancelled."""
    while True:
        try:
            await check_offline_hubs(engine, offline_after_s)
        except Exception:  # the next round retries; one bad round must not end the loop
            _log.exception("offline_hub_check_failed")
        await asyncio.sleep(every_s)


async def hub_subject(session: AsyncSession, hub_id: uuid.UUID) -> Subject | None:
    """A hub gone offline as notifications tell it."""
    hub = await session.get(Hub, hub_id)
    if hub is None or hub.revoked_at is not None:
        return None
    seen = f"{hub.last_seen_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if hub.last_seen_at else "never"
    return Subject(
        kind="hub",
        owner_id=hub.owner_id,
        title=f"Plant-Vita: hub “{hub.name}” is offline",
        text=f"The hub “{hub.name}” has not called in since {seen}. Its readings wait on the "
        "hub and arrive when it is back online.",
        payload=hub_public(hub).model_dump(mode="json"),
    )


async def linked_hubs(session: AsyncSession, owner_id: uuid.UUID) -> Sequence[Hub]:
    """The owner's hubs that are not revoked, by name (the daily digest's)."""
    return await repository.linked_hubs(session, owner_id)


async def plant_names(session: AsyncSession, owner_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The owner's plants' names by id."""
    return await repository.plant_names(session, owner_id)
