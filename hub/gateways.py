"""Gateway factories for the hub app (``hub.app.create_app(gateway_factory=...)``).

``production_gateway`` scans with bleak's default backend (BlueZ on the Pi).
``emulated_gateway_factory(n)`` runs ``n`` emulated nodes on an in-process Bumble radio, pairs
them in the hub's store at start and drives them with the same gateway code: the demo and
``plantvita hub serve --emulate N``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TypeVar

from hub.ble.gateway import Gateway
from hub.ble.ports import GatewayStore, SeenDevice
from hub.ble.settings import GatewaySettings
from hub.plants import service as plants_service
from hub.settings import HubSettings
from hub.store.writer import WriteOp

if TYPE_CHECKING:
    # Only the emulated gateways need Bumble and the emulator (about 23 MB of RSS): a hub on
    # its adapter never imports them.
    from hub.ble.bumble_backend import BleakBackends
    from hub.ble.emulator import SimClock

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PairingStore(GatewayStore, Protocol):
    """A gateway store that can also pair a node and write (``hub.hub_store.HubStore``)."""

    async def pair_node(self, mac: str, *, bindkey: bytes | None = None) -> object:
        """Pair a node (idempotent)."""

    async def write(self, op: WriteOp[T]) -> T:
        """Run ``op(session)`` in the writer's transaction."""


class Garden(Protocol):
    """What the hub needs of an emulated garden (``EmulatedGarden``, or one whose nodes run in
    another process and are reached across an HCI transport)."""

    @property
    def clock(self) -> SimClock:
        """The garden's clock; the gateway stamps with it."""

    @property
    def bindkeys(self) -> dict[str, bytes]:
        """MAC → bindkey of every node."""

    def backends(self) -> BleakBackends:
        """The bleak backends that reach the garden's nodes."""

    async def start(self, *, stagger_real_s: float = 0.0) -> None:
        """Boot the nodes."""

    async def stop(self) -> None:
        """Stop the nodes and the hub's radio side."""


def production_gateway(store: GatewayStore, settings: HubSettings) -> Gateway:
    """The real gateway: bleak's platform backend (BlueZ), settings from ``ble_*``."""
    return Gateway(store, GatewaySettings.from_hub_settings(settings))


class EmulatedHubGateway:
    """A gateway plus the emulated garden it listens to; starts and stops both."""

    def __init__(
        self,
        store: PairingStore,
        settings: HubSettings,
        garden: Garden,
        pair: bool,
        *,
        boot_in_background: bool = True,
        plant: bool = True,
    ) -> None:
        """``boot_in_background=False``: ``start`` returns once every node is up (a benchmark
        of the hub's steady state must not time the emulator's boot). ``plant``: with ``pair``,
        a fresh unlinked hub gets a plant on each node."""
        self.store = store
        self.garden = garden
        self.pair = pair
        self.boot_in_background = boot_in_background
        self.plant = plant
        self._booting: asyncio.Task[None] | None = None
        # Sessions are quick on the in-process radio: shorter timeouts than on a real adapter.
        self.gateway = Gateway(
            store,
            GatewaySettings.from_hub_settings(
                settings, connect_timeout_s=5.0, session_retry_s=10.0, watchdog_s=30.0
            ),
            garden.backends(),
            now=garden.clock.now,
        )

    async def start(self) -> None:
        """Pair the garden and plant it (first start), start the gateway, boot the nodes.

        The nodes boot in the background: one with a seeded week draws its photos first, and
        the hub answers (``/readyz``) meanwhile; each node is heard as soon as it is up.
        """
        if self.pair:
            paired = {node.mac for node in await self.store.paired_nodes()}
            for mac, key in self.garden.bindkeys.items():
                if mac not in paired:
                    await self.store.pair_node(mac, bindkey=key)
        if self.pair and self.plant:
            macs = list(self.garden.bindkeys)
            await self.store.write(lambda session: plants_service.plant_a_garden(session, macs))
        await self.gateway.start()
        if not self.boot_in_background:
            await self.garden.start(stagger_real_s=min(2.0, 0.05 * len(self.garden.bindkeys)))
            return
        self._booting = asyncio.create_task(self._boot(), name="emulated-garden-boot")

    async def _boot(self) -> None:
        try:
            await self.garden.start(stagger_real_s=min(2.0, 0.05 * len(self.garden.bindkeys)))
        except Exception:
            logger.exception("the emulated garden did not boot")

    async def stop(self) -> None:
        """Stop the gateway, then the garden (a boot still running is cut short)."""
        booting = self._booting
        if booting is not None and not booting.done():
            booting.cancel()
            await asyncio.wait([booting], timeout=10.0)
        await self.gateway.stop()
        await self.garden.stop()

    @property
    def radio_problem(self) -> str | None:
        """See ``Gateway.radio_problem``."""
        return self.gateway.radio_problem

    def seen_devices(self) -> Sequence[SeenDevice]:
        """See ``Gateway.seen_devices``."""
        return self.gateway.seen_devices()

    async def reload_nodes(self) -> None:
        """See ``Gateway.reload_nodes``."""
        await self.gateway.reload_nodes()

    async def request_session(self, node_mac: str) -> None:
        """See ``Gateway.request_session``."""
        await self.gateway.request_session(node_mac)

    async def request_photo(self, node_mac: str) -> None:
        """See ``Gateway.request_photo``."""
        await self.gateway.request_photo(node_mac)


CATCH_UP_REAL_S = 60.0  # real seconds the emulated garden spends replaying before it runs live
SEED_HISTORY_S = 7 * 86_400.0  # what each new node already holds in its flash, as in the demo
SEED_STEP_S = 1800.0  # measured every half hour over that week, a photo a day


def emulated_gateway_factory(
    nodes: int,
    *,
    speed: float = 60.0,
    pair: bool = True,
    photo_every_s: float | None = 3 * 3600,
    seed_history_s: float = SEED_HISTORY_S,
) -> Callable[[PairingStore, HubSettings], EmulatedHubGateway]:
    """A ``gateway_factory`` that brings its own garden of ``nodes`` emulated nodes.

    A fresh garden is like the demo's: each node has been measuring for ``seed_history_s``
    (its records and newest photos in flash, which the hub backfills), and with ``pair`` the
    hub pairs every node and, unlinked and without plants, plants one of another species on
    each, so the charts and galleries are full in the first minute.
    """

    from hub.ble.emulator import EmulatedGarden, SimClock

    def factory(store: PairingStore, settings: HubSettings) -> EmulatedHubGateway:
        # The garden catches up with real time within its first minute (``speed`` × 60 s of
        # history), then runs live: readings are stamped now, never in the future and never
        # hours behind (a week replayed at 60× kept them days old for hours).
        catch_up = timedelta(seconds=min(speed * CATCH_UP_REAL_S, 7 * 86_400))
        clock = SimClock(speed, datetime.now(UTC) - catch_up, cap_at_real=True)
        garden = EmulatedGarden(
            nodes,
            clock=clock,
            photo_every_s=photo_every_s,
            state_dir=settings.data_dir / "emulated-nodes",
            seed_history_s=seed_history_s,
            seed_step_s=SEED_STEP_S,
        )
        (settings.data_dir / "emulated-nodes").mkdir(parents=True, exist_ok=True)
        return EmulatedHubGateway(store, settings, garden, pair)

    return factory
