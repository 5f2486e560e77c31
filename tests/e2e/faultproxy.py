"""A TCP proxy between the hub and the cloud that a test can cut, restore and arm with faults.

It runs in its own thread and event loop, so it keeps forwarding while the test's loop is
busy and survives from one test to the next. Bytes go through unchanged; the proxy only
watches the hub's side closely enough to see where each HTTP/1.1 request starts and ends, so
it can act on a request once the cloud has all of it (paths are ``fnmatch`` patterns):

- ``lose_responses(path, n)``: the next ``n`` requests to ``path`` reach the cloud, but their
  responses never reach the hub (the connection is cut instead): the lost ack.
- ``on_request(path, callback)``: call ``callback`` once the next request to ``path`` has
  been forwarded whole (the tests kill a process there: mid-batch, mid-sync).
- ``capture(path)``: keep the bytes of the next request to ``path`` (to deliver it again).
- ``cut()`` / ``restore()``: the link goes down (every open connection aborted, new ones
  refused) and comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CapturedRequest:
    """One whole HTTP request as the hub sent it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Rule:
    path: str
    action: str  # "lose" | "call" | "capture"
    remaining: int
    callback: Callable[[], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)


class _RequestWatcher:
    """Finds request boundaries in the hub-to-cloud byte stream (Content-Length or chunked)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: tuple[str, str, dict[str, str]] | None = None
        self._need: int | None = None  # body bytes still to come (None: chunked)

    def feed(self, data: bytes) -> list[CapturedRequest]:
        self._buffer += data
        done: list[CapturedRequest] = []
        while True:
            if self._head is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return done
                lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
                del self._buffer[: end + 4]
                method, path, *_ = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                self._head = (method, path, headers)
                chunked = "chunked" in headers.get("transfer-encoding", "").lower()
                self._need = None if chunked else int(headers.get("content-length", "0"))
            method, path, headers = self._head
            if self._need is None:
                end = self._buffer.find(b"\r\n0\r\n\r\n")
                if end < 0 and not self._buffer.startswith(b"0\r\n\r\n"):
                    return done
                size = 5 if end < 0 else end + 7
            else:
                if len(self._buffer) < self._need:
                    return done
                size = self._need
            body = bytes(self._buffer[:size])
            del self._buffer[:size]
            self._head = None
            done.append(CapturedRequest(method, path.split("?")[0], headers, body))


class FaultProxy:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:upstream_port``; see the module docstring."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.port = port
        self.upstream_port = upstream_port
        self.captured: list[CapturedRequest] = []
        self.requests: dict[str, int] = {}  # path -> whole requests forwarded
        self.responses_lost = 0
        self.connections_cut = 0
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    # --- lifecycle (called from the test's thread) --------------------------------------

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=10)

    def start(self) -> FaultProxy:
        """Start the thread and listen."""
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        """Stop listening, abort every connection, stop the thread."""
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """The link goes down: open connections are aborted, new ones refused."""
        self._call(self._cut())

    def restore(self) -> None:
        """The link comes back."""
        self._call(self._listen())

    @property
    def is_up(self) -> bool:
        """Listening right now."""
        return self._server is not None

    # --- faults -------------------------------------------------------------------------

    def lose_responses(self, path: str, count: int = 1) -> threading.Event:
        """The next ``count`` requests to ``path`` reach the cloud; their responses are lost."""
        return self._arm(_Rule(path, "lose", count))

    def on_request(self, path: str, callback: Callable[[], None]) -> threading.Event:
        """Run ``callback`` (in the proxy's thread) once the next request to ``path`` is
        forwarded whole; its response is then lost too (the caller is killing someone)."""
        return self._arm(_Rule(path, "call", 1, callback))

    def capture(self, path: str) -> threading.Event:
        """Keep the bytes of the next request to ``path`` in ``captured``."""
        return self._arm(_Rule(path, "capture", 1))

    def _arm(self, rule: _Rule) -> threading.Event:
        with self._lock:
            self._rules.append(rule)
        return rule.done

    def disarm(self) -> None:
        """Forget every rule not yet fired."""
        with self._lock:
            self._rules.clear()

    def _match(self, request: CapturedRequest) -> list[_Rule]:
        with self._lock:
            self.requests[request.path] = self.requests.get(request.path, 0) + 1
            fired = []
            for rule in list(self._rules):
                if fnmatch.fnmatchcase(request.path, rule.path) and rule.remaining > 0:
                    rule.remaining -= 1
                    fired.append(rule)
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                        rule.done.set()
            return fired

    # --- the proxy itself (in the proxy's loop) -------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
            self.connections_cut += 1
        self._open.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _shutdown(self) -> None:
        await self._cut()
        # Connection handlers still pumping finish here, not as tasks destroyed with the loop.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, hub_reader: asyncio.StreamReader, hub: asyncio.StreamWriter) -> None:
        try:
            cloud_reader, cloud = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            hub.transport.abort()  # the cloud is down: the hub sees the connection drop
            return
        self._open.update((hub, cloud))
        doomed = asyncio.Event()  # a response on this connection must not reach the hub
        answered = asyncio.Event()  # the cloud answered (or closed): nothing more to wait for

        def abort_both() -> None:
            for writer in (hub, cloud):
                writer.transport.abort()
                self._open.discard(writer)

        async def upstream() -> None:
            watcher = _RequestWatcher()
            with contextlib.suppress(OSError):  # a killed hub may reset rather than close
                while data := await hub_reader.read(65536):
                    cloud.write(data)
                    await cloud.drain()
                    for request in watcher.feed(data):
                        for rule in self._match(request):
                            if rule.action == "capture":
                                self.captured.append(request)
                            elif rule.action == "lose":
                                doomed.set()
                            elif rule.callback is not None:
                                doomed.set()
                                rule.callback()
            if doomed.is_set():
                # The request left the hub whole: the cloud gets to read it before it sees the
                # hub go (uvicorn drops a request whose client left before its body was read).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), 30)
            with contextlib.suppress(OSError):
                cloud.write_eof()

        async def downstream() -> None:
            try:
                while data := await cloud_reader.read(65536):
                    if doomed.is_set():
                        self.responses_lost += 1
                        abort_both()
                        return
                    hub.write(data)
                    await hub.drain()
                with contextlib.suppress(OSError):
                    hub.write_eof()
            except OSError:
                abort_both()  # the cloud died (reset): the hub must not wait out its timeout
                raise
            finally:
                answered.set()  # answered, or the cloud went away

        try:
            # Either side failing (a process killed, the link cut) ends the connection.
            await asyncio.gather(upstream(), downstream(), return_exceptions=True)
        finally:
            abort_both()
