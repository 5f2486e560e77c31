"""Refuse an image upload over the size limit while it arrives, not after it was spooled.

FastAPI parses a multipart form completely (to a temporary file) before the route runs, so the
route's own check came after the whole body was on disk: a multi-gigabyte upload from the LAN
filled the Pi's temp space before its 413. This ASGI middleware answers 413 from the declared
``Content-Length``, and cuts a chunked body off as soon as it passes the cap.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import ErrorBody, ErrorDetail

# Room for the multipart boundaries and the small form fields around the photo.
FORM_OVERHEAD_BYTES: Final = 64 * 1024


class UploadSizeLimit:
    """413 for a POST to ``path`` whose body exceeds ``max_bytes`` plus the form overhead."""

    def __init__(self, app: ASGIApp, path: str, max_bytes: int) -> None:
        self.app = app
        self.path = path
        self.max_bytes = max_bytes
        self.cap = max_bytes + FORM_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything through except an upload over the cap."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.cap:
            await self._refuse(send)
            return
        received = 0
        exceeded = False
        started = False

        async def capped_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.cap:
                    exceeded = True  # stop reading: the parser sees a client that went away
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                if not started:
                    started = True
                    await self._refuse(send)
                return  # whatever the app answers to the cut-off body is replaced by the 413
            started = True
            await send(message)

        await self.app(scope, capped_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = ErrorBody(
            error=ErrorDetail(
                code="image_too_large",
                message=f"upload exceeds {self.max_bytes} bytes",
                details={"limit": self.max_bytes},
            )
        ).model_dump_json()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
