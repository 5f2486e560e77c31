"""The seam between the BLE gateway and the rest of the hub.

The gateway (``hub.ble``) turns radio traffic into these values and hands them to a
``GatewayStore``; the hub's store implements that protocol. The hub's API drives the gateway
through ``GatewayControl``. Neither side imports the other's internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from shared.metrics import Metric
from shared.sync import NodeConfig, NodeKind, ReadingSource


@dataclass(frozen=True, slots=True)
class DecodedReading:
    """One measurement of a paired node, decoded from an advert or a backfilled record."""

    node_mac: str
    measured_at: datetime  # UTC, aware
    values: Mapping[Metric, float]
    seq: int | None  # BTHome encryption counter; None for unencrypted third-party sensors
    source: ReadingSource = ReadingSource.ADVERT
    rssi: int | None = None
    seq_epoch: int | None = None  # the node's counter epoch at decode time; None: its current one
    channel: int = 0  # the node's sensor index: 0 its first sensor of each kind, 1 the second…


@dataclass(frozen=True, slots=True)
class AlarmThresholds:
    """The plant's limits a node alarms on (it samples faster outside them); None: no limit on
    that side, the node keeps its own value."""

    moisture_low: float | None = None
    moisture_high: float | None = None
    temperature_low: float | None = None
    temperature_high: float | None = None


@dataclass(frozen=True, slots=True)
class RefusedReplays:
    """Adverts of one node the store refused as replays of an earlier counter epoch."""

    count: int
    last_seq: int | None  # the highest seq stored in the node's current epoch, to resume from


@dataclass(frozen=True, slots=True)
class PairedNode:
    """A node the gardener paired; the gateway decodes and stores only these."""

    mac: str
    kind: NodeKind
    bindkey: bytes | None  # 16 bytes for encrypted BTHome/MiBeacon; None for a plaintext sensor
    last_seq: int | None = None  # highest sequence stored in ``seq_epoch``
    seq_epoch: int = 0  # the node's counter epoch: seqs are unique only within one epoch
    config: NodeConfig | None = None  # the config the node should run
    config_revision_applied: int | None = None  # what the node last confirmed
    thresholds: AlarmThresholds | None = None  # its plant's limits (species + overrides)
    readings_held: int = 0  # readings the node holds that the hub lacks (as last recorded)


@dataclass(frozen=True, slots=True)
class ReceivedImage:
    """A photo fetched from a node over GATT, CRC-checked."""

    node_mac: str
    node_image_id: int
    captured_at: datetime
    data: bytes


@dataclass(slots=True)
class DropCounters:
    """What became of a node's adverts: every advert heard ends in exactly one of these.

    ``stored``: its readings were queued for the store; ``duplicate``: a resend of an advert
    already handled (same packet id or counter); ``replayed``: an encrypted counter below the
    last accepted one; ``wrong_key``: did not authenticate with the node's bindkey (or came
    in plaintext from a node that has one); ``unsupported_object``: well formed but carrying
    only objects the metric registry does not store; ``unsupported_device``: a kind of device
    or advert format the hub cannot decode; ``malformed``: broken bytes.
    """

    malformed: int = 0
    wrong_key: int = 0
    replayed: int = 0
    stored: int = 0
    duplicate: int = 0
    unsupported_object: int = 0
    unsupported_device: int = 0

    @property
    def total(self) -> int:
        """Adverts dropped as broken or untrusted (malformed, wrong key, replayed)."""
        return self.malformed + self.wrong_key + self.replayed

    def minus(self, earlier: DropCounters) -> DropCounters:
        """What was counted since ``earlier`` (a snapshot of these counters)."""
        return DropCounters(
            **{name: getattr(self, name) - getattr(earlier, name) for name in OUTCOMES}
        )


# The advert outcomes, in the order the UIs and /metrics list them.
OUTCOMES: tuple[str, ...] = (
    "stored",
    "duplicate",
    "replayed",
    "wrong_key",
    "unsupported_object",
    "unsupported_device",
    "malformed",
)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What the gateway learned about a node besides its readings."""

    node_mac: str
    last_seen: datetime | None  # the last authenticated advert or session (None: none yet)
    rssi: int | None = None
    battery: float | None = None
    name: str | None = None
    firmware_version: str | None = None
    config_revision_applied: int | None = None
    drops: DropCounters = field(default_factory=DropCounters)  # counted since the last status
    wrong_key_at: datetime | None = None  # the last advert that failed authentication
    readings_held: int | None = None  # readings the node holds that the hub lacks; None: unknown


@dataclass(frozen=True, slots=True)
class SeenDevice:
    """A BTHome or Xiaomi MiBeacon device in range that is not paired: shown for pairing, never
    stored."""

    mac: str
    name: str | None
    rssi: int | None
    last_seen: datetime
    encrypted: bool
    plantvita: bool  # advertises the Plant-Vita GATT service
    kind: NodeKind = NodeKind.BTHOME  # how it would be paired (PLANTVITA when ``plantvita``)
    model: str | None = None  # a Xiaomi device's model (xiaomi-ble's name, e.g. "HHCCJCY01")


class GatewayStore(Protocol):
    """What the gateway needs from the hub's store."""

    async def paired_nodes(self) -> Sequence[PairedNode]:
        """Every paired node with its bindkey, backfill position and wanted config."""
        ...

    async def store_readings(
        self, readings: Sequence[DecodedReading]
    ) -> Mapping[str, RefusedReplays] | None:
        """Persist readings; returns only once they are durably committed (acknowledged).

        Duplicates (same node, epoch and sequence, or same node and time) are ignored. Returns,
        per node MAC, the adverts refused as replays of an earlier counter epoch (None or empty
        when none).
        """
        ...

    async def store_image(self, image: ReceivedImage) -> None:
        """Persist a photo (the store computes metrics and thumbnails)."""
        ...

    async def start_counter_epoch(self, node_mac: str, moved: Sequence[int] = ()) -> int:
        """The node's counter restarted: open a new sequence epoch (its backfill position is
        forgotten, earlier readings are kept) and return the new epoch's number. Readings of the
        current epoch with a seq in ``moved`` were taken after the restart: they move along."""
        ...

    async def stored_values(
        self, node_mac: str, seqs: Sequence[int]
    ) -> Mapping[int, Mapping[Metric, float]]:
        """Values of the node's readings with these seqs in its current epoch, by seq."""
        ...

    async def update_node_status(self, statuses: Sequence[NodeStatus]) -> None:
        """Record last seen, RSSI, battery, firmware, applied config revision, and add the
        advert outcome counts (``drops``: what was counted since the previous status)."""
        ...


class GatewayControl(Protocol):
    """What the hub's API and sync engine need from the gateway."""

    @property
    def radio_problem(self) -> str | None:
        """Why the gateway cannot scan (no Bluetooth adapter, …), or None while it scans."""
        ...

    def seen_devices(self) -> Sequence[SeenDevice]:
        """Unpaired devices heard recently, newest first."""
        ...

    async def reload_nodes(self) -> None:
        """Re-read paired nodes from the store after pairing, unpairing or a config change."""
        ...

    async def request_session(self, node_mac: str) -> None:
        """Connect to the node at its next connectable window (config push, backfill, photos)."""
        ...

    async def request_photo(self, node_mac: str) -> None:
        """Have the node take a photo at its next connectable window (and fetch it then)."""
        ...
