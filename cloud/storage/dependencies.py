"""FastAPI dependency handing out the object store the app's lifespan built."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from cloud.storage.ports import ObjectStore


async def get_object_store(request: Request) -> ObjectStore:
    """The app's object store (``app.state.object_store``, set in the lifespan)."""
    return cast(ObjectStore, request.app.state.object_store)


ObjectStoreDep = Annotated[ObjectStore, Depends(get_object_store)]
