"""Signed-URL endpoints of the local object store: PUT to upload, GET to download.

Only mounted behaviour for ``LocalObjectStore``; with GCS the URLs point at Google and these
routes answer 404. Every request must carry a valid, unexpired signature for its method and key;
an upload is read with a hard cap and stored only when complete.
"""

from __future__ import annotations

import hashlib
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from cloud.errors import error_response
from cloud.storage.dependencies import ObjectStoreDep
from cloud.storage.local import (
    LOCAL_OBJECTS_PATH,
    LocalObjectStore,
    SignatureError,
    SignatureExpired,
)
from cloud.storage.ports import InvalidObjectKey, ObjectNotFound

router = APIRouter(tags=["storage"], include_in_schema=False)

_NOT_FOUND: Final = ("object_not_found", "no such object")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return error_response(status, code, message)


def _local(store: object) -> LocalObjectStore | None:
    return store if isinstance(store, LocalObjectStore) else None


@router.put(LOCAL_OBJECTS_PATH + "/{key:path}", response_model=None)
async def upload_object(key: str, request: Request, store: ObjectStoreDep) -> Response:
    """Store the request body under ``key`` if the URL's signature allows it."""
    local = _local(store)
    if local is None:
        return _error(404, *_NOT_FOUND)
    try:
        grant = local.verify("PUT", key, dict(request.query_params))
    except InvalidObjectKey:
        return _error(400, "invalid_key", "invalid object key")
    except SignatureExpired as exc:
        return _error(403, "signature_expired", str(exc))
    except SignatureError as exc:
        return _error(403, "signature_invalid", str(exc))
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != grant.content_type:
        return _error(400, "content_type_mismatch", f"Content-Type must be {grant.content_type}")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > grant.max_bytes):
        return _error(413, "too_large", f"uploads are limited to {grant.max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > grant.max_bytes:  # a chunked body may lie about nothing: cap as we read
            return _error(413, "too_large", f"uploads are limited to {grant.max_bytes} bytes")
    if not body:
        return _error(400, "empty_body", "the upload is empty")
    # Create-only, like a GCS URL signed with if-generation-match 0: a still-valid URL must not
    # replace an object the cloud already verified. The same bytes again (a retry) are fine.
    try:
        existing = await local.head(key)
    except ObjectNotFound:
        existing = None
    if existing is not None and existing.sha256 != hashlib.sha256(body).hexdigest():
        return _error(409, "object_exists", "this object is already stored; ask for a new slot")
    await local.put(key, bytes(body), grant.content_type)
    return Response(status_code=200)


@router.get(LOCAL_OBJECTS_PATH + "/{key:path}", response_model=None)
async def download_object(key: str, request: Request, store: ObjectStoreDep) -> Response:
    """Stream the object if the URL's signature allows it."""
    local = _local(store)
    if local is None:
        return _error(404, *_NOT_FOUND)
    try:
        local.verify("GET", key, dict(request.query_params))
        info = await local.head(key)
        path = local.path_of(key)
    except InvalidObjectKey:
        return _error(400, "invalid_key", "invalid object key")
    except SignatureExpired as exc:
        return _error(403, "signature_expired", str(exc))
    except SignatureError as exc:
        return _error(403, "signature_invalid", str(exc))
    except ObjectNotFound:
        return _error(404, *_NOT_FOUND)
    return FileResponse(
        path,
        media_type=info.content_type or "application/octet-stream",
        headers={"Cache-Control": "private, max-age=300"},
    )
