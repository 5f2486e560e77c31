"""The ``nodes`` table: paired (and formerly paired) BLE nodes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import EpochMs, SyncState
from shared.sync import NodeConfig


class Node(SQLModel, table=True):
    """A node the gardener paired; kept after unpairing so its readings still sync."""

    __tablename__ = "nodes"

    id: int | None = Field(default=None, primary_key=True)
    mac: str = Field(unique=True)
    kind: str
    bindkey: bytes | None = None
    paired: bool = True
    name: str | None = None
    last_seen: datetime | None = Field(default=None, sa_type=EpochMs)  # last authenticated advert
    wrong_key_at: datetime | None = Field(default=None, sa_type=EpochMs)  # last failed one
    rssi: int | None = None
    battery: float | None = None
    firmware_version: str | None = None
    # Advert outcomes (hub.ble.ports.DropCounters): every advert heard ends in exactly one.
    drops_malformed: int = 0
    drops_wrong_key: int = 0  # also plaintext adverts from a node with a key
    drops_replayed: int = 0
    drops_plaintext: int = 0  # no longer counted: migration 11 folded it into drops_wrong_key
    adverts_stored: int = 0
    adverts_duplicate: int = 0
    adverts_unsupported_object: int = 0
    adverts_unsupported_device: int = 0
    config: str | None = None  # NodeConfig JSON the node should run
    config_revision: int = 0
    config_revision_applied: int | None = None
    last_seq: int | None = None  # highest seq stored in the current ``seq_epoch``
    seq_epoch: int = 0  # counter epoch: bumped when the node's counter restarts
    key_epoch: int = 0  # first epoch under the current bindkey (replays possible since then)
    counter_resets: int = 0  # how many times a counter restart was detected and accepted
    readings_held: int = 0  # readings the node holds that the hub has not received yet
    created_at: datetime = Field(sa_type=EpochMs)
    sync_state: int = SyncState.PENDING
    reject_reason: str | None = None
    cloud_registered: bool = False

    @property
    def sampling_interval_s(self) -> int | None:
        """The sampling interval the node is configured to run (None: not known yet)."""
        if not self.config:
            return None
        return NodeConfig.model_validate_json(self.config).sampling_interval_s

    @property
    def drops_total(self) -> int:
        """Adverts dropped as broken or untrusted (malformed, wrong key, replayed)."""
        return self.drops_malformed + self.drops_wrong_key + self.drops_replayed

    def advert_counts(self) -> dict[str, int]:
        """Every advert outcome count, by outcome name (``hub.ble.ports.OUTCOMES``)."""
        return {
            "stored": self.adverts_stored,
            "duplicate": self.adverts_duplicate,
            "replayed": self.drops_replayed,
            "wrong_key": self.drops_wrong_key,
            "unsupported_object": self.adverts_unsupported_object,
            "unsupported_device": self.adverts_unsupported_device,
            "malformed": self.drops_malformed,
        }
