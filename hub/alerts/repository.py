"""Alert queries: open alerts and the alert engine's state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.alerts.models import Alert, AlertState


async def open_alerts(session: AsyncSession) -> Sequence[Alert]:
    """Every alert not resolved yet."""
    return (
        (await session.execute(select(Alert).where(col(Alert.resolved_at).is_(None))))
        .scalars()
        .all()
    )


async def states_of(session: AsyncSession, node_id: int) -> dict[str, AlertState]:
    """The engine's state of one node, by metric."""
    rows = await session.execute(select(AlertState).where(col(AlertState.node_id) == node_id))
    return {row.metric: row for row in rows.scalars().all()}


async def save_state(session: AsyncSession, state: AlertState, **values: Any) -> None:
    """Store the engine's state of one node and metric."""
    for name, value in values.items():
        setattr(state, name, value)
    session.add(state)
