"""A hub process whose radio is an emulated garden: ``python -m plantvita.demo.garden_hub``.

Bumble's LocalLink is in-process, so the emulated nodes live in the hub's process. The hub is
the real one (``hub.app.create_app`` with its store, sync engine and scheduler); only the
bleak backend is the garden's. Settings come from ``PLANTVITA_HUB_*`` as for ``hub serve``.
Each node's label (MAC, name, bindkey: what a gardener reads off the node) is written to
``labels`` so pairing can go through the hub's API like it would for real hardware.
A small emulator control API (``/api/v1/emulator``) lets the demo and the end-to-end tests
make a pot dry out, take a photo now, reboot a node, take it out of range, or read a node's own
log of measurements and served photos (kept across restarts of this process in the garden's
state dir, as is the garden clock, so a hub killed and restarted finds its garden as it was).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel

from hub.auth.dependencies import AdminDep
from hub.ble.emulator import EmulatedGarden, EmulatedNode, SimClock
from hub.ble.gateway import Gateway
from hub.ble.settings import GatewaySettings
from hub.errors import NotFound
from hub.hub_store import HubStore
from hub.net import uvicorn_options
from hub.settings import HubSettings

LABELS_FILE = "garden-labels.json"


class GardenGateway(Gateway):
    """The hub's gateway on the garden's radio; powers the garden on and off with itself."""

    def __init__(self, store: HubStore, garden: EmulatedGarden, settings: GatewaySettings) -> None:
        super().__init__(store, settings, garden.backends(), now=garden.clock.now)
        self.garden = garden

    async def start(self) -> None:
        """Boot the nodes (staggered so their bursts interleave), then scan."""
        await self.garden.start(stagger_real_s=min(2.0, 0.1 * len(self.garden.nodes)))
        await super().start()

    async def stop(self) -> None:
        """Stop scanning, then power the nodes off."""
        try:
            await super().stop()
        finally:
            await self.garden.stop()


class NodeLabel(BaseModel):
    """What is printed on an emulated node."""

    mac: str
    name: str
    bindkey: str


class MeasurementOut(BaseModel):
    """One entry of a node's own measurement log."""

    seq: int
    measured_at: datetime
    values: dict[str, float]
    incarnation: int  # how many times the node had lost its flash before this measurement


class ServedPhotoOut(BaseModel):
    """A photo the node sent whole to the hub."""

    image_id: int
    sha256: str


class EmulatedNodeOut(BaseModel):
    """An emulated node's state as the emulator sees it."""

    mac: str
    name: str
    counter: int
    acked_upto: int  # the newest record the hub acknowledged (this incarnation)
    config_revision: int  # of the config in its flash (0: the factory default)
    sampling_interval_s: int
    measurements: int
    photos_waiting: int
    moisture: float


def _garden(request: Request) -> EmulatedGarden:
    gateway = request.app.state.gateway
    if not isinstance(gateway, GardenGateway):
        raise NotFound("this hub has no emulated garden")
    return gateway.garden


GardenDep = Annotated[EmulatedGarden, Depends(_garden)]


def _node(garden: EmulatedGarden, mac: str) -> EmulatedNode:
    try:
        return garden.node(mac)
    except KeyError:
        raise NotFound(f"no emulated node {mac}") from None


def _node_out(node: EmulatedNode) -> EmulatedNodeOut:
    return EmulatedNodeOut(
        mac=node.mac,
        name=node.name,
        counter=node.counter,
        acked_upto=node.acked_upto,
        config_revision=node.flash.config.revision,
        sampling_interval_s=node.flash.config.sampling_interval_s,
        measurements=len(node.log),
        photos_waiting=len(node.flash.images),
        moisture=node.environment.moisture,
    )


router = APIRouter(prefix="/api/v1/emulator", tags=["emulator"])


@router.get("/nodes", response_model=list[EmulatedNodeOut])
async def list_emulated(garden: GardenDep) -> list[EmulatedNodeOut]:
    """Every emulated node."""
    return [_node_out(node) for node in garden.nodes]


@router.get("/nodes/{mac}/log", response_model=list[MeasurementOut])
async def measurement_log(mac: str, garden: GardenDep) -> list[MeasurementOut]:
    """Every measurement the node produced (the ground truth end-to-end tests compare with)."""
    return [
        MeasurementOut(
            seq=m.seq,
            measured_at=m.measured_at,
            values={str(metric.value): value for metric, value in m.values.items()},
            incarnation=m.incarnation,
        )
        for m in _node(garden, mac).log
    ]


@router.get("/nodes/{mac}/photos", response_model=list[ServedPhotoOut])
async def served_photos(mac: str, garden: GardenDep) -> list[ServedPhotoOut]:
    """Every photo the node sent whole over GATT, with the sha256 of the bytes it sent."""
    return [ServedPhotoOut(image_id=i, sha256=h) for i, h in _node(garden, mac).served]


@router.post("/nodes/{mac}/dry", response_model=EmulatedNodeOut)
async def dry_out(mac: str, garden: GardenDep, _admin: AdminDep) -> EmulatedNodeOut:
    """The gardener forgets this pot: the soil is nearly dry and nobody waters it any more."""
    node = _node(garden, mac)
    node.environment.water_below = -1.0
    node.environment.moisture = min(node.environment.moisture, 2.0)
    node.wake_now()
    return _node_out(node)


@router.post("/nodes/{mac}/water", response_model=EmulatedNodeOut)
async def water(mac: str, garden: GardenDep, _admin: AdminDep) -> EmulatedNodeOut:
    """Water the pot and go back to the normal watering habit."""
    node = _node(garden, mac)
    node.environment.water_below = 24.0
    node.environment.water()
    node.wake_now()
    return _node_out(node)


@router.post("/nodes/{mac}/wake", response_model=EmulatedNodeOut)
async def wake(mac: str, garden: GardenDep, _admin: AdminDep) -> EmulatedNodeOut:
    """Cut the node's sleep short: it measures and advertises now."""
    node = _node(garden, mac)
    node.wake_now()
    return _node_out(node)


@router.post("/nodes/{mac}/slow-acks", response_model=EmulatedNodeOut)
async def slow_acks(
    mac: str, garden: GardenDep, _admin: AdminDep, seconds: float = Query(ge=0, le=30)
) -> EmulatedNodeOut:
    """Make ACK_UPTO take ``seconds`` (a slow flash erase; 0 puts it back)."""
    node = _node(garden, mac)
    node.faults.ack_delay_s = seconds
    return _node_out(node)


@router.post("/nodes/{mac}/capture", response_model=EmulatedNodeOut)
async def capture(mac: str, garden: GardenDep, _admin: AdminDep) -> EmulatedNodeOut:
    """Take a photo now (it is offered to the hub at the next wake)."""
    node = _node(garden, mac)
    await node.capture()
    node.wake_now()
    return _node_out(node)


@router.post("/nodes/{mac}/reboot", response_model=EmulatedNodeOut)
async def reboot(
    mac: str, garden: GardenDep, _admin: AdminDep, keep_counter: bool = True
) -> EmulatedNodeOut:
    """Power-cycle the node (``keep_counter=false``: it lost its counter)."""
    node = _node(garden, mac)
    await node.reboot(keep_counter=keep_counter)
    return _node_out(node)


@router.post("/nodes/{mac}/silence", response_model=EmulatedNodeOut)
async def silence(mac: str, garden: GardenDep, _admin: AdminDep) -> EmulatedNodeOut:
    """Silence the node: no wakes, no measurements, no adverts (battery pulled)."""
    node = _node(garden, mac)
    await node.go_silent()
    return _node_out(node)


@router.post("/nodes/{mac}/out-of-range", response_model=EmulatedNodeOut)
async def out_of_range(mac: str, garden: GardenDep, _admin: AdminDep) -> EmulatedNodeOut:
    """Take the node out of range: it keeps measuring into its record store, unheard."""
    node = _node(garden, mac)
    await node.go_out_of_range()
    return _node_out(node)


@router.post("/nodes/{mac}/resume", response_model=EmulatedNodeOut)
async def resume(mac: str, garden: GardenDep, _admin: AdminDep) -> EmulatedNodeOut:
    """Bring the node back (after silence or out of range)."""
    node = _node(garden, mac)
    node.resume()
    node.wake_now()
    return _node_out(node)


def write_labels(garden: EmulatedGarden, path: Path) -> None:
    """Write every node's label (MAC, name, bindkey) where the demo can read it."""
    labels = [
        NodeLabel(mac=n.mac, name=n.name, bindkey=n.bindkey.hex()).model_dump()
        for n in garden.nodes
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"written_at": datetime.now(UTC).isoformat(), "nodes": labels}))
    os.replace(tmp, path)


CLOCK_FILE = "clock.json"


def garden_clock(state_dir: Path, speed: float, history_s: float) -> SimClock:
    """The garden's clock, continuous across restarts of this process (saved in
    ``state_dir``): with ``speed`` > 1 it replays from ``history_s`` ago, then runs live."""
    path = state_dir / CLOCK_FILE
    now = time.time()
    try:
        saved = json.loads(path.read_text())
        # Garden time went on while the process was down, at the same speed.
        start = datetime.fromisoformat(saved["start"]) + timedelta(
            seconds=(now - float(saved["wall"])) * float(saved["speed"])
        )
    except (OSError, ValueError, KeyError):
        start = datetime.now(UTC) - timedelta(seconds=history_s)
    path.write_text(json.dumps({"start": start.isoformat(), "wall": now, "speed": speed}))
    return SimClock(speed, start, cap_at_real=True)


def build_app(
    settings: HubSettings,
    nodes: int,
    *,
    sampling_interval_s: int = 600,
    photo_every_s: float | None = 6 * 3600,
    labels: Path | None = None,
    speed: float = 1.0,
    history_s: float = 0.0,
    seed_history_s: float = 0.0,
    seed_step_s: float = 1800.0,
) -> FastAPI:
    """The real hub app with an ``nodes``-node emulated garden on its radio."""
    from hub.app import create_app

    def gateway_factory(store: HubStore, hub_settings: HubSettings) -> GardenGateway:
        state_dir = hub_settings.data_dir / "garden"
        state_dir.mkdir(parents=True, exist_ok=True)
        garden = EmulatedGarden(
            nodes,
            clock=garden_clock(state_dir, speed, history_s),
            sampling_interval_s=sampling_interval_s,
            photo_every_s=photo_every_s,
            state_dir=state_dir,
            seed_history_s=seed_history_s,
            seed_step_s=seed_step_s,
        )
        write_labels(garden, labels or hub_settings.data_dir / LABELS_FILE)
        gateway_settings = GatewaySettings.from_hub_settings(
            hub_settings, connect_timeout_s=5.0, session_retry_s=5.0, status_interval_s=2.0
        )
        return GardenGateway(store, garden, gateway_settings)

    app = create_app(settings, gateway_factory=gateway_factory)
    app.include_router(router)
    return app


def main(argv: list[str] | None = None) -> int:
    """Serve the hub with an emulated garden until SIGINT/SIGTERM."""
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m plantvita.demo.garden_hub", description=__doc__
    )
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--sampling-interval", type=int, default=600, help="seconds")
    parser.add_argument("--photo-every", type=float, default=6 * 3600, help="seconds")
    parser.add_argument("--labels", type=Path, default=None)
    parser.add_argument("--speed", type=float, default=1.0, help="garden seconds per real second")
    parser.add_argument(
        "--history", type=float, default=0.0, help="with --speed: replay from this many s ago"
    )
    parser.add_argument(
        "--seed-history",
        type=float,
        default=0.0,
        help="seconds of history each new node already holds in its flash (its records and "
        "newest photos, which the hub backfills over GATT)",
    )
    parser.add_argument(
        "--seed-step", type=float, default=1800.0, help="seconds between seeded measurements"
    )
    args = parser.parse_args(argv)
    settings = HubSettings()
    app = build_app(
        settings,
        args.nodes,
        sampling_interval_s=args.sampling_interval,
        photo_every_s=args.photo_every,
        labels=args.labels,
        speed=args.speed,
        history_s=args.history,
        seed_history_s=args.seed_history,
        seed_step_s=args.seed_step,
    )
    uvicorn.run(app, **uvicorn_options(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
