"""Queries on nodes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.nodes.models import Node


async def paired(session: AsyncSession) -> Sequence[Node]:
    """Every paired node."""
    result = await session.execute(
        select(Node).where(col(Node.paired).is_(True)).order_by(Node.mac)
    )
    return result.scalars().all()


async def all_nodes(session: AsyncSession) -> Sequence[Node]:
    """Every node the hub knows, paired or not."""
    result = await session.execute(select(Node).order_by(Node.mac))
    return result.scalars().all()


async def by_mac(session: AsyncSession, mac: str) -> Node | None:
    """The node with this (normalised) MAC."""
    result = await session.execute(select(Node).where(Node.mac == mac))
    return result.scalars().first()


async def ids_by_mac(
    session: AsyncSession, macs: Iterable[str], *, paired_only: bool = True
) -> dict[str, int]:
    """MAC -> row id for the given MACs (paired nodes only unless told otherwise)."""
    wanted = list(set(macs))
    if not wanted:
        return {}
    stmt = select(Node.mac, Node.id).where(col(Node.mac).in_(wanted))
    if paired_only:
        stmt = stmt.where(col(Node.paired).is_(True))
    result = await session.execute(stmt)
    return {mac: int(node_id) for mac, node_id in result.all() if node_id is not None}


async def epochs_by_mac(
    session: AsyncSession, macs: Iterable[str]
) -> dict[str, tuple[int, int, int]]:
    """MAC -> (row id, current sequence epoch, first epoch of its bindkey) of paired nodes."""
    wanted = list(set(macs))
    if not wanted:
        return {}
    stmt = select(Node.mac, Node.id, Node.seq_epoch, Node.key_epoch).where(
        col(Node.mac).in_(wanted), col(Node.paired).is_(True)
    )
    result = await session.execute(stmt)
    return {
        mac: (int(node_id), int(epoch), int(key_epoch))
        for mac, node_id, epoch, key_epoch in result.all()
        if node_id is not None
    }
