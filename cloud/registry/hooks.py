"""What the domains that keep data per node or plant do when the registry moves or deletes one,
inside the registry's transaction.

The registry sits below telemetry, alerts and images (they read its nodes and plants), so it
does not import them: ``cloud.wiring.wire`` hands it their functions once, when the app or the
worker is built. Calling a hook before that is a programming error and says so, rather than
silently leaving a deleted node's readings behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

# (session, owner, node, plant, since): the node now measures the plant; ``since`` is when it
# last stopped measuring one (None: never did).
NodeAssigned = Callable[
    [AsyncSession, uuid.UUID, uuid.UUID, uuid.UUID, datetime | None], Awaitable[object]
]
PlantDeleted = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[None]]  # owner, plant
NodeDeleted = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]  # node


@dataclass(frozen=True)
class RegistryHooks:
    """Called after the assignment is recorded, before the plant row goes, before the node row
    goes (each ``node_deleted`` in order)."""

    node_assigned: NodeAssigned
    plant_deleted: PlantDeleted
    node_deleted: Sequence[NodeDeleted]


_connected: list[RegistryHooks] = []


def connect(hooks: RegistryHooks) -> None:
    """Install the hooks (again: replaces them)."""
    _connected[:] = [hooks]


def hooks() -> RegistryHooks:
    """The installed hooks."""
    if not _connected:
        raise RuntimeError("registry hooks are not connected: call cloud.wiring.wire() first")
    return _connected[0]
