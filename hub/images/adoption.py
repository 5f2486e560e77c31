"""Photos a node took while no plant was assigned to it go to the plant that takes the node.

Apart from ``hub.images.service`` (which reads nodes through their service) so that the plants'
service and the sync mirror can call it without an import circle.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hub.images import repository


async def adopt_node_photos(session: AsyncSession, node_mac: str, plant_id: str) -> int:
    """A plant now watched by ``node_mac`` takes the node's photos that belong to no plant (a
    node paired before its plant came down from the cloud, say), so its gallery shows them as
    the cloud's does; photos of another plant stay where they are. How many it took."""
    return await repository.adopt_unassigned(session, node_mac, plant_id)
