"""What ingestion knows of a node, handed to the alert evaluation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What ingestion needs to know of a node: ids, sampling interval, its plant's ranges and
    the time of its newest reading stored before this batch (``nodes.last_reading_at``)."""

    node_id: uuid.UUID
    mac: str
    hub_id: uuid.UUID | None
    sampling_interval_s: int
    plant_id: uuid.UUID | None
    species: dict[str, Any] | None
    overrides: dict[str, Any] | None
    last_reading_at: datetime | None = None
