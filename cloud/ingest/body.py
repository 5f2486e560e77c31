"""Reading a sync request body: size cap (413), optional gzip, orjson."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from cloud.errors import CloudError, PayloadTooLargeError


class UnsupportedEncodingError(CloudError):
    """A Content-Encoding other than gzip or identity."""

    status_code = 415
    code = "unsupported_media_type"


class MalformedBodyError(CloudError):
    """The body is not valid (gzip-compressed) JSON."""

    status_code = 400
    code = "malformed_body"


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The (inflated) body bytes; compressed and inflated sizes are both capped at ``max_bytes``."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise UnsupportedEncodingError(f"Content-Encoding {encoding!r} is not supported; use gzip")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError(f"body larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(f"body larger than {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, max_bytes + 1)
        except zlib.error as exc:
            raise MalformedBodyError("body is not valid gzip") from exc
        if len(raw) > max_bytes or inflater.unconsumed_tail:
            raise PayloadTooLargeError(f"decompressed body larger than {max_bytes} bytes")
        if not inflater.eof:
            raise MalformedBodyError("gzip body is truncated")
    return raw


def parse_json(raw: bytes) -> Any:
    """orjson, with a 400 for anything that is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBodyError("body is not valid JSON") from exc


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """The decoded JSON body (see ``read_body`` for the caps)."""
    return parse_json(await read_body(request, max_bytes))
