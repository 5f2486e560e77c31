"""Alert queries: open alerts and the alert engine's state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.alerts.models import Alert, AlertState
from shared.sync import AlertKind


async def newest(session: AsyncSession, open_only: bool, limit: int) -> Sequence[Alert]:
    """Alerts, newest first (only those not resolved yet with ``open_only``)."""
    statement = select(Alert).order_by(col(Alert.opened_at).desc()).limit(limit)
    if open_only:
        statement = statement.where(col(Alert.resolved_at).is_(None))
    return (await session.execute(statement)).scalars().all()


async def get(session: AsyncSession, alert_id: str) -> Alert | None:
    """One alert, or None."""
    return await session.get(Alert, alert_id)


async def open_alerts(session: AsyncSession, kind: AlertKind | None = None) -> Sequence[Alert]:
    """Every alert not resolved yet (of one kind, when given)."""
    statement = select(Alert).where(col(Alert.resolved_at).is_(None))
    if kind is not None:
        statement = statement.where(col(Alert.kind) == kind.value)
    return (await session.execute(statement)).scalars().all()


async def states_of(session: AsyncSession, node_id: int) -> dict[str, AlertState]:
    """The engine's state of one node, by metric."""
    rows = await session.execute(select(AlertState).where(col(AlertState.node_id) == node_id))
    return {row.metric: row for row in rows.scalars().all()}


async def save_state(session: AsyncSession, state: AlertState, **values: Any) -> None:
    """Store the engine's state of one node and metric."""
    for name, value in values.items():
        setattr(state, name, value)
    session.add(state)
