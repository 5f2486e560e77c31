"""MQTT fixtures: a real mosquitto and a real MQTT client that sees what Home Assistant sees."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from tests.hub.mqtt.broker import Mosquitto

WAIT_S = 60.0  # a generous ceiling for a condition, not a speed target


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A plain mosquitto on a free loopback port."""
    directory = tmp_path / "broker"
    directory.mkdir()
    server = Mosquitto(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Watcher:
    """A client subscribed to everything: the newest payload of every topic (retained or
    live), like Home Assistant's view of the broker."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: dict[str, bytes] = {}
        self.changed = asyncio.Event()

    async def run(self) -> None:
        """Collect messages until cancelled."""
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if payload:
                self.messages[message.topic.value] = payload
            else:
                self.messages.pop(message.topic.value, None)
            self.changed.set()

    def json(self, topic: str) -> Any:
        """The newest payload of ``topic`` as JSON (None when absent)."""
        payload = self.messages.get(topic)
        return None if payload is None else orjson.loads(payload)

    def configs(self) -> dict[str, dict[str, Any]]:
        """Every discovery config seen, by topic."""
        return {
            topic: orjson.loads(payload)
            for topic, payload in self.messages.items()
            if topic.startswith("homeassistant/") and topic.endswith("/config")
        }

    async def until(self, condition: Callable[[], Any], what: str) -> Any:
        """Wait until ``condition()`` is truthy (and raises no AssertionError) and return it."""
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(KeyError, TypeError, IndexError, AssertionError):
                result = condition()
                if result:
                    return result
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await self.changed.wait()
        raise AssertionError(f"never happened: {what}")


@contextlib.asynccontextmanager
async def watching(port: int, **client_options: Any) -> AsyncIterator[Watcher]:
    """A ``Watcher`` connected to the broker on ``port``, subscribed to ``#``."""
    async with aiomqtt.Client("127.0.0.1", port, **client_options) as client:
        await client.subscribe("#", qos=1)
        watcher = Watcher(client)
        task = asyncio.get_running_loop().create_task(watcher.run())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
