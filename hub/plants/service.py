"""Plant logic: local CRUD while unlinked, edits of cloud plants on a linked hub (applied at once,
sent up by the sync), effective thresholds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from uuid import uuid4

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadRequest, Conflict, NotFound
from hub.plants import repository
from hub.plants.models import Plant, PlantEdit, Species
from hub.plants.schemas import PlantCreate, PlantPublic, PlantUpdate, SpeciesPublic
from hub.store import kv
from hub.store.types import utcnow
from shared.sync import PlantChanges, SpeciesThresholds, Thresholds


def effective_thresholds(plant: Plant, species: dict[int, Species]) -> Thresholds:
    """The plant's ranges (``Thresholds.effective``) from the rows the hub stores them in."""
    kind = species.get(plant.species_id) if plant.species_id is not None else None
    return Thresholds.effective(
        Thresholds.model_validate_json(kind.thresholds) if kind is not None else None,
        Thresholds.model_validate_json(plant.overrides) if plant.overrides else None,
    )


def to_public(plant: Plant, species: dict[int, Species]) -> PlantPublic:
    """The API view of a plant."""
    kind = species.get(plant.species_id) if plant.species_id is not None else None
    return PlantPublic(
        id=plant.id,
        name=plant.name,
        species_id=plant.species_id,
        species_name=kind.common_name if kind else None,
        location=plant.location,
        node_mac=plant.node_mac,
        overrides=Thresholds.model_validate_json(plant.overrides) if plant.overrides else None,
        thresholds=effective_thresholds(plant, species),
        origin="cloud" if plant.origin == "cloud" else "local",
        created_at=plant.created_at,
        updated_at=plant.updated_at,
    )


def species_public(species: Species) -> SpeciesPublic:
    """The API view of a species."""
    return SpeciesPublic(
        id=species.id,
        common_name=species.common_name,
        scientific_name=species.scientific_name,
        thresholds=Thresholds.model_validate_json(species.thresholds),
    )


async def _require_unlinked(session: AsyncSession) -> None:
    if await kv.get(session, kv.HUB_TOKEN) is not None:
        raise Conflict("this hub is linked: plants are managed in the cloud")


async def _check_node_free(session: AsyncSession, mac: str | None, plant_id: str | None) -> None:
    if mac is None:
        return
    owner = await repository.by_node(session, mac)
    if owner is not None and owner.id != plant_id:
        raise Conflict(f"node {mac} already watches plant {owner.name!r}")


async def create(session: AsyncSession, data: PlantCreate) -> Plant:
    """Create a local plant."""
    await _require_unlinked(session)
    await _check_node_free(session, data.node_mac, None)
    now = utcnow()
    plant = Plant(
        id=str(uuid4()),
        name=data.name,
        species_id=data.species_id,
        location=data.location,
        node_mac=data.node_mac,
        overrides=data.overrides.model_dump_json() if data.overrides else None,
        origin="local",
        created_at=now,
        updated_at=now,
    )
    # The species' ranges with these overrides: the rule the cloud applies (shared.metrics).
    problem = effective_thresholds(plant, await repository.species_map(session)).inverted_range()
    if problem is not None:
        raise BadRequest(problem)
    session.add(plant)
    await session.flush()
    if plant.node_mac is not None:
        await adopt_node_photos(session, plant.node_mac, plant.id)
    return plant


async def update(session: AsyncSession, plant_id: str, data: PlantUpdate) -> Plant:
    """Change a plant; it applies on the hub at once. A plant of the cloud (linked hub) also
    records the edit, which the next sync takes up; the cloud settles conflicts by revision."""
    plant = await repository.get(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    fields = data.model_dump(exclude_unset=True)
    if "node_mac" in fields:
        await _check_node_free(session, data.node_mac, plant_id)
    if fields.get("species_id") is not None and await session.get(Species, data.species_id) is None:
        raise BadRequest(f"species {data.species_id} is not in this hub's catalogue")
    species = await repository.species_map(session)
    before = to_public(plant, species)
    for key, value in fields.items():
        if key == "overrides":
            plant.overrides = data.overrides.model_dump_json() if data.overrides else None
        else:
            setattr(plant, key, value)
    problem = effective_thresholds(plant, species).inverted_range()
    if problem is not None:
        raise BadRequest(problem)
    plant.updated_at = utcnow()
    session.add(plant)
    if plant.origin == "cloud" and fields:
        changes = PlantChanges.model_validate(data.model_dump(exclude_unset=True, mode="json"))
        session.add(
            PlantEdit(
                id=str(uuid4()),
                plant_id=plant.id,
                base_revision=plant.cloud_revision or 0,
                changes=changes.model_dump_json(exclude_unset=True),
                summary=describe_changes(before, to_public(plant, species)),
                edited_at=plant.updated_at,
            )
        )
    await session.flush()
    if "node_mac" in fields and plant.node_mac is not None:
        await adopt_node_photos(session, plant.node_mac, plant.id)
    return plant


def describe_changes(before: PlantPublic, after: PlantPublic) -> str:
    """What an edit changed, in words ("name 'Basil' → 'Sweet basil'; moisture_min 30 → 40")."""
    parts = []
    for key in ("name", "species_name", "location", "node_mac"):
        old, new = getattr(before, key), getattr(after, key)
        if old != new:
            parts.append(f"{key.removesuffix('_name')} {old!r} → {new!r}")
    old_limits = before.overrides.model_dump() if before.overrides else {}
    new_limits = after.overrides.model_dump() if after.overrides else {}
    for key in sorted(set(old_limits) | set(new_limits)):
        if old_limits.get(key) != new_limits.get(key):
            parts.append(f"{key} {old_limits.get(key)} → {new_limits.get(key)}")
    return f"{after.name}: " + ("; ".join(parts) if parts else "no change")


async def delete(session: AsyncSession, plant_id: str) -> None:
    """Delete a local plant (its readings belong to the node and stay)."""
    await _require_unlinked(session)
    plant = await repository.get(session, plant_id)
    if plant is None:
        raise NotFound(f"plant {plant_id} not found")
    await session.delete(plant)
    await session.flush()


async def plant_a_garden(session: AsyncSession, node_macs: Sequence[str]) -> int:
    """A fresh standalone hub with an emulated garden (``serve --emulate N``): one local plant
    per node, each of another catalogue species, as the demo plants its garden in the cloud.
    Only on an unlinked hub that has no plant yet (plants deleted later stay deleted); returns
    how many it created."""
    if await kv.get(session, kv.HUB_TOKEN) is not None or await repository.list_plants(session):
        return 0
    species = sorted((await repository.species_map(session)).values(), key=lambda s: s.id)
    for index, mac in enumerate(node_macs):
        kind = species[index % len(species)] if species else None
        name = f"{kind.common_name if kind else 'Plant'} #{index + 1}"
        await create(
            session,
            PlantCreate(
                name=name,
                species_id=kind.id if kind else None,
                location="Windowsill" if index % 2 else "Balcony",
                node_mac=mac,
            ),
        )
    return len(node_macs)


# --- reads other domains use --------------------------------------------------------------


async def list_plants(session: AsyncSession) -> Sequence[Plant]:
    """Every plant, by name."""
    return await repository.list_plants(session)


async def get_plant(session: AsyncSession, plant_id: str) -> Plant | None:
    """One plant, or None."""
    return await repository.get(session, plant_id)


async def plant_on_node(session: AsyncSession, mac: str) -> Plant | None:
    """The plant a node watches, or None."""
    return await repository.by_node(session, mac)


async def species_map(session: AsyncSession) -> dict[int, Species]:
    """Every species by id."""
    return await repository.species_map(session)


class SpeciesCatalogue:
    """Every species by id, kept between read sessions: loaded again only when the catalogue's
    revision (which the database moves on every change of the species table) is not the one
    loaded. Callers share the rows: read them, never change them."""

    def __init__(self) -> None:
        self._loaded: tuple[str | None, dict[int, Species]] | None = None

    async def species_map(self, session: AsyncSession) -> dict[int, Species]:
        """Every species by id as ``session`` sees the catalogue."""
        revision = await kv.get(session, kv.SPECIES_REVISION)
        loaded = self._loaded
        if loaded is None or loaded[0] != revision:
            loaded = self._loaded = (revision, await repository.species_map(session))
        return loaded[1]


CATALOGUE = Path(__file__).with_name("species_catalogue.json")


def catalogue_snapshot() -> list[SpeciesThresholds]:
    """The species catalogue shipped with the hub (a snapshot of the cloud's seed catalogue)."""
    return TypeAdapter(list[SpeciesThresholds]).validate_json(CATALOGUE.read_bytes())


async def seed_catalogue(session: AsyncSession) -> int:
    """A hub that never synced (standalone, ``serve --emulate``) gets the shipped catalogue;
    a linked hub's config pull then replaces it with the cloud's. Returns species added.

    A catalogue seeded by an older hub gains the ranges it lacks (a metric added since, such as
    conductivity); ranges it already has are kept."""
    existing = await repository.species_map(session)
    if existing:
        for entry in catalogue_snapshot():
            species = existing.get(entry.id)
            if species is None:
                continue
            held = json.loads(species.thresholds)
            shipped = entry.thresholds.model_dump(exclude_none=True)
            missing = {k: v for k, v in shipped.items() if k not in held}
            if missing:
                species.thresholds = json.dumps(held | missing)
        await session.flush()
        return 0
    added = 0
    for entry in catalogue_snapshot():
        session.add(
            Species(
                id=entry.id,
                common_name=entry.common_name,
                scientific_name=entry.scientific_name,
                thresholds=entry.thresholds.model_dump_json(),
            )
        )
        added += 1
    await session.flush()
    return added


async def adopt_node_photos(session: AsyncSession, node_mac: str, plant_id: str) -> int:
    """A plant now watched by ``node_mac`` takes the node's photos that belong to no plant (a
    node paired before its plant came down from the cloud, say), so its gallery shows them as
    the cloud's does; photos of another plant stay where they are. How many it took."""
    return await repository.adopt_node_photos(session, node_mac, plant_id)
