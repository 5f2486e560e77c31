"""API models for nodes and pairing."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.freshness import NodeState
from shared.mac import MacAddress
from shared.sync import NodeConfig, NodeKind


class PairRequest(BaseModel):
    """Pair a node by MAC; encrypted BTHome nodes and encrypted Xiaomi MiBeacon devices need
    their 16-byte bindkey as 32 hex chars (a plain MiFlora needs none)."""

    model_config = ConfigDict(extra="forbid")

    mac: MacAddress
    bindkey: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")
    kind: NodeKind = NodeKind.PLANTVITA
    name: str | None = Field(default=None, max_length=64)


class DropCounts(BaseModel):
    """What became of this node's adverts: each one heard ends in exactly one count
    (docs/hub-ble.md); ``total`` is those dropped as broken or untrusted."""

    stored: int
    duplicate: int
    replayed: int
    wrong_key: int
    unsupported_object: int
    unsupported_device: int
    malformed: int
    total: int


class NodePublic(BaseModel):
    """A node as the API shows it (the bindkey is never shown)."""

    mac: str
    kind: NodeKind
    name: str | None
    paired: bool
    has_bindkey: bool
    battery: float | None
    rssi: int | None
    last_seen: datetime | None
    wrong_key_at: datetime | None
    state: NodeState
    stale_after_s: float  # silence after which its values stop being current
    firmware_version: str | None
    drops: DropCounts
    config: NodeConfig | None
    config_revision: int
    config_revision_applied: int | None
    config_pending: bool
    plant_id: str | None
    sync_state: str
    reject_reason: str | None
    readings_held: int  # measurements the node still holds that the hub has not received


class RadioStatus(BaseModel):
    """Whether the hub can hear nodes at all; ``problem`` says why not (as ``/readyz`` does)."""

    problem: str | None


class SeenDevicePublic(BaseModel):
    """An unpaired BTHome or Xiaomi MiBeacon device in range."""

    mac: str
    name: str | None
    rssi: int | None
    last_seen: datetime
    encrypted: bool
    plantvita: bool
    kind: NodeKind = Field(description="the kind to pair it as")
    model: str | None = Field(default=None, description="a Xiaomi device's model, e.g. HHCCJCY01")
