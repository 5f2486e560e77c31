"""What the web UI's own endpoints compute: the garden overview, its change marker, settings."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.alerts import service as alerts_service
from hub.images import service as images_service
from hub.nodes import service as nodes_service
from hub.plants import service as plants_service
from hub.readings import service as readings
from hub.settings import HubSettings
from hub.store import kv
from hub.store.database import Database
from hub.web import repository
from hub.web.schemas import Overview, PlantCard, TemperatureUnit, WebSettings, WebSettingsUpdate
from shared.freshness import NodeState
from shared.metrics import PLANT_METRICS
from shared.sync import ImageMetrics
from shared.watering import as_of_node

DISK_BUDGET_KEY = "disk_budget_mb"
STATUS_BUCKET_S = 60  # the overview turns stale values "stale" at most this late


async def overview_version(
    session: AsyncSession,
    now: datetime,
    radio_problem: str | None = None,
    storage_problem: str | None = None,
) -> str:
    """A short marker of the garden's state; equal markers mean an unchanged overview."""
    row = await repository.overview_marks(session)
    bucket = int(now.timestamp()) // STATUS_BUCKET_S
    raw = "|".join(str(part) for part in (*row, bucket, radio_problem, storage_problem))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def overview(
    session: AsyncSession,
    settings: HubSettings,
    now: datetime,
    radio_problem: str | None = None,
    storage_problem: str | None = None,
    *,
    catalogue: plants_service.SpeciesCatalogue | None = None,
) -> Overview:
    """Every plant with its latest metrics against thresholds, node health, photo and alerts,
    from a fixed number of queries whatever the number of plants. ``catalogue``: species kept
    loaded between calls (loaded afresh without one)."""
    version = await overview_version(session, now, radio_problem, storage_problem)
    species = (
        await catalogue.species_map(session)
        if catalogue is not None
        else await plants_service.species_map(session)
    )
    nodes = {n.mac: n for n in await nodes_service.all_nodes(session)}
    open_alerts = await alerts_service.list_alerts(session, open_only=True, limit=1000)
    shown = dict(
        zip(
            [a.id for a in open_alerts],
            await alerts_service.public_alerts(session, open_alerts),
            strict=True,
        )
    )
    plants = await plants_service.list_plants(session)
    thresholds = [plants_service.effective_thresholds(plant, species) for plant in plants]
    watchers = [nodes.get(plant.node_mac) if plant.node_mac else None for plant in plants]
    states = [nodes_service.state_of(node, now) if node else None for node in watchers]
    # One newest-values query serves both the metrics and the watering forecasts.
    latest = await readings.latest_values_of(
        session, sorted({node.id for node in watchers if node and node.id})
    )
    metrics = await readings.plants_metrics(
        session,
        [
            readings.Watched(
                node.id if node else None,
                limits,
                node.sampling_interval_s if node else None,
                superseded=state is NodeState.WRONG_KEY,
            )
            for node, limits, state in zip(watchers, thresholds, states, strict=True)
        ],
        now,
        PLANT_METRICS,
        latest,
    )
    watered = [
        (node.id, limits)
        for node, limits in zip(watchers, thresholds, strict=True)
        if node and node.id
    ]
    forecasts = iter(await readings.waterings(session, watered, now, latest))
    photos = await images_service.latest_for_plants(session, [p.id for p in plants], 1)
    cards: list[PlantCard] = []
    for plant, node, state, plant_metrics in zip(plants, watchers, states, metrics, strict=True):
        images = photos.get(plant.id, [])
        image = images[0] if images else None
        image_metrics = (
            ImageMetrics.model_validate_json(image.metrics) if image and image.metrics else None
        )
        cards.append(
            PlantCard(
                plant=plants_service.to_public(plant, species),
                metrics=plant_metrics,
                node_name=node.name if node else None,
                node_state=state,
                watering=as_of_node(next(forecasts), state).forecast if node and node.id else None,
                battery=node.battery if node else None,
                rssi=node.rssi if node else None,
                last_seen=node.last_seen if node else None,
                thumbnail_url=f"/api/v1/images/{image.id}/thumbnail"
                if image and image.thumbnail_path and image.file_present
                else None,
                canopy_cover=image_metrics.canopy_cover if image_metrics else None,
                open_alerts=[
                    shown[a.id]
                    for a in open_alerts
                    if a.plant_id == plant.id or (a.node_mac and a.node_mac == plant.node_mac)
                ],
            )
        )
    return Overview(
        version=version,
        generated_at=now,
        cards=cards,
        radio_problem=radio_problem,
        storage_problem=storage_problem,
    )


class SharedOverview:
    """The last overview computed, as JSON, by version: every page and event stream asking at
    one garden state shares one computation, and the species catalogue stays loaded."""

    def __init__(self) -> None:
        self.version = ""
        self.body = ""
        self.lock = asyncio.Lock()
        self.catalogue = plants_service.SpeciesCatalogue()

    async def get(
        self,
        version: str,
        session: AsyncSession,
        settings: HubSettings,
        now: datetime,
        radio_problem: str | None,
        storage_problem: str | None,
    ) -> tuple[str, str]:
        """(version, JSON) of the overview at ``version`` (``overview_version``), computed
        once."""
        async with self.lock:
            if version != self.version:
                view = await overview(
                    session,
                    settings,
                    now,
                    radio_problem,
                    storage_problem,
                    catalogue=self.catalogue,
                )
                self.version, self.body = view.version, view.model_dump_json()
            return self.version, self.body


async def read_settings(store: Database) -> WebSettings:
    """The display unit, the disk budget in force and what the store uses now."""
    from hub.budget import service as budget

    async with store.read() as session:
        unit = await kv.get(session, kv.UNITS)
    return WebSettings(
        temperature_unit=_unit(unit),
        disk_budget_mb=store.settings.disk_budget_mb,
        disk_used_bytes=await budget.used_bytes(store),
    )


async def update_settings(store: Database, data: WebSettingsUpdate) -> WebSettings:
    """Store the changed settings; a new disk budget applies from the next pruning pass."""
    changes = data.model_dump(exclude_none=True)

    async def op(session: AsyncSession) -> None:
        if "temperature_unit" in changes:
            await kv.put(session, kv.UNITS, changes["temperature_unit"])
        if "disk_budget_mb" in changes:
            await kv.put(session, DISK_BUDGET_KEY, repr(float(changes["disk_budget_mb"])))

    await store.write(op)
    if "disk_budget_mb" in changes:
        store.settings.disk_budget_mb = float(changes["disk_budget_mb"])
    return await read_settings(store)


async def restore_settings(store: Database) -> None:
    """At start-up: a disk budget the gardener set in the UI wins over the configured one."""
    async with store.read() as session:
        saved = await kv.get(session, DISK_BUDGET_KEY)
    if saved is not None:
        store.settings.disk_budget_mb = float(saved)


def _unit(value: str | None) -> TemperatureUnit:
    return "F" if value == "F" else "C"
