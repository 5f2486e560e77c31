"""Image queries (and the registry lookups the upload flow needs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from cloud.diagnosis.models import Image, ImageStatus
from cloud.pagination import Keyset, Page, PageRequest, SortKey, page_of
from cloud.registry.models import Node, NodeAssignment, Plant


async def node_by_mac(session: AsyncSession, owner_id: uuid.UUID, mac: str) -> Node | None:
    """The owner's node with this MAC (normal form)."""
    return await session.scalar(
        select(Node).where(col(Node.mac) == mac, col(Node.owner_id) == owner_id)
    )


async def plant_for_owner(
    session: AsyncSession, owner_id: uuid.UUID, plant_id: uuid.UUID
) -> Plant | None:
    """The owner's plant with this id."""
    return await session.scalar(
        select(Plant).where(col(Plant.id) == plant_id, col(Plant.owner_id) == owner_id)
    )


async def node_for_owner(
    session: AsyncSession, owner_id: uuid.UUID, node_id: uuid.UUID
) -> Node | None:
    """The owner's node with this id."""
    return await session.scalar(
        select(Node).where(col(Node.id) == node_id, col(Node.owner_id) == owner_id)
    )


async def plant_at(
    session: AsyncSession, node_id: uuid.UUID, captured_at: datetime
) -> uuid.UUID | None:
    """The plant a photo the node took at ``captured_at`` belongs to (None: not known yet).

    That is the plant of the node's first assignment still running at that time, so a photo
    from the gap before an assignment belongs to it, and a late upload from an earlier
    assignment stays with that assignment's plant.
    """
    return await session.scalar(
        select(col(NodeAssignment.plant_id))
        .where(
            col(NodeAssignment.node_id) == node_id,
            or_(
                col(NodeAssignment.unassigned_at).is_(None),
                col(NodeAssignment.unassigned_at) > captured_at,
            ),
        )
        .order_by(col(NodeAssignment.assigned_at), col(NodeAssignment.id))
        .limit(1)
    )


async def attribute_unassigned(
    session: AsyncSession,
    owner_id: uuid.UUID,
    node_id: uuid.UUID,
    plant_id: uuid.UUID,
    since: datetime | None,
) -> list[tuple[uuid.UUID, datetime, str]]:
    """Give the node's plant-less photos taken since ``since`` to the plant.

    Returns (id, captured_at, status) of each photo attributed.
    """
    where = [
        col(Image.owner_id) == owner_id,
        col(Image.node_id) == node_id,
        col(Image.plant_id).is_(None),
    ]
    if since is not None:
        where.append(col(Image.captured_at) >= since)
    rows = await session.execute(
        update(Image)
        .where(*where)
        .values(plant_id=plant_id)
        .returning(col(Image.id), col(Image.captured_at), col(Image.status))
        .execution_options(synchronize_session=False)
    )
    return [(image_id, at, status) for image_id, at, status in rows.tuples()]


async def stray_object_keys(session: AsyncSession, plant_id: uuid.UUID, prefix: str) -> list[str]:
    """Keys of the plant's photos and thumbnails stored outside its folder (attributed later)."""
    rows = await session.execute(
        select(col(Image.object_key), col(Image.thumbnail_key)).where(
            col(Image.plant_id) == plant_id, ~col(Image.object_key).startswith(prefix)
        )
    )
    keys: list[str] = []
    for object_key, thumb in rows.tuples():
        keys.append(object_key)
        if thumb is not None and not thumb.startswith(prefix):
            keys.append(thumb)
    return keys


async def by_owner_sha(session: AsyncSession, owner_id: uuid.UUID, sha256: str) -> Image | None:
    """The owner's image with this content hash."""
    return await session.scalar(
        select(Image).where(col(Image.owner_id) == owner_id, col(Image.sha256) == sha256)
    )


async def insert_pending(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a pending image; False when the owner already has one with this hash."""
    statement = (
        insert(Image)
        .values(status=ImageStatus.PENDING.value, **values)
        .on_conflict_do_nothing(index_elements=["owner_id", "sha256"])
        .returning(col(Image.id))
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def for_owner(
    session: AsyncSession, owner_id: uuid.UUID, image_id: uuid.UUID, *, lock: bool = False
) -> Image | None:
    """The owner's image with this id (optionally locked for the completion step)."""
    statement = select(Image).where(col(Image.id) == image_id, col(Image.owner_id) == owner_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


# Newest first.
IMAGE_ORDER = Keyset(
    (SortKey(col(Image.captured_at), datetime, "desc"), SortKey(col(Image.id), uuid.UUID))
)


async def list_for_plant(
    session: AsyncSession, plant_id: uuid.UUID, page: PageRequest
) -> Page[Image]:
    """A page of a plant's completed images, newest first."""
    return await _page(session, col(Image.plant_id) == plant_id, page)


async def list_for_node(
    session: AsyncSession, node_id: uuid.UUID, page: PageRequest
) -> Page[Image]:
    """A page of the completed images a node took, newest first."""
    return await _page(session, col(Image.node_id) == node_id, page)


async def _page(
    session: AsyncSession, about: ColumnElement[bool], page: PageRequest
) -> Page[Image]:
    where = (about, col(Image.status) == ImageStatus.COMPLETE.value)
    rows = (await session.scalars(IMAGE_ORDER.page(select(Image).where(*where), page))).all()
    return page_of(rows, page, IMAGE_ORDER, lambda image: (image.captured_at, image.id))
