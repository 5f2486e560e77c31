"""The bridge to the gardener's MQTT broker: Home Assistant discovery and states, two buttons.

MQTT is a view of the store, never a place data waits: the bridge reads the store, publishes
what changed (retained, so Home Assistant has it after its own restart), and after any
reconnect publishes everything again, so a broker that was down or lost its retained
messages loses nothing. Connection failures are retried with capped exponential backoff and
jitter; ``problem()`` says why the hub is not connected (``/readyz``, the Settings page).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Final

import aiomqtt
import structlog
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadRequest
from hub.mqtt import discovery, view
from hub.mqtt.discovery import OFFLINE, ONLINE, PRESS, Topics
from hub.mqtt.schemas import BridgeState, BridgeStatus, BrokerConfig, BrokerUpdate, MqttPublic
from hub.store import kv
from hub.store.database import Database
from hub.store.types import utcnow

log = structlog.get_logger(__name__)

BROKER_KEY: Final = "mqtt_broker"  # the broker the gardener set on the Settings page (JSON)
HUB_ID_KEY: Final = "mqtt_hub_id"  # this hub's id in topics and unique ids, made once
BACKOFF_BASE_S: Final = 1.0
CONNECT_TIMEOUT_S: Final = 10.0
GOODBYE_TIMEOUT_S: Final = 1.0  # "offline" before a clean disconnect, if the broker takes it
STOP_TIMEOUT_S: Final = 3.0


def _version() -> str:
    try:
        return metadata.version("plant-vita")
    except metadata.PackageNotFoundError:
        return "unknown"


class MqttBridge:
    """Publishes the garden to Home Assistant over MQTT while a broker is configured."""

    def __init__(
        self,
        store: Database,
        *,
        sync_now: Callable[[], Awaitable[object]],
        take_photo: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.settings = store.settings
        self.config = BrokerConfig.from_settings(self.settings)
        self.hub_id: str | None = None
        self.version = _version()
        self._sync_now = sync_now
        self._take_photo = take_photo
        self._task: asyncio.Task[None] | None = None
        self._commands: set[asyncio.Task[object]] = set()
        self._published: dict[str, bytes] = {}  # retained payload last sent, by topic
        self._configs: set[str] = set()  # discovery config topics the current view wants
        self._marker: str | None = None
        self._state: BridgeState = "off"
        self._connected_since: datetime | None = None
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._failures = 0
        self._messages = 0
        self._last_published_at: datetime | None = None

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Read this hub's id and the saved broker, then connect when one is configured."""
        self.hub_id = await self._hub_id()
        async with self.store.read() as session:
            saved = await kv.get(session, BROKER_KEY)
        if saved is not None:
            self.config = BrokerConfig.model_validate_json(saved)
        self._launch()

    async def stop(self) -> None:
        """Say "offline" (when connected) and disconnect; cancel button actions in flight."""
        task, self._task = self._task, None
        pending = {t for t in (task, *self._commands) if t is not None}
        for running in pending:
            running.cancel()
        if pending:
            # Bounded: a broker that never answers the goodbye must not hold up a shutdown.
            _done, stuck = await asyncio.wait(pending, timeout=STOP_TIMEOUT_S)
            if stuck:
                log.warning("mqtt_stop_slow", tasks=len(stuck))
        self._state = "off" if not self.config.enabled else "disconnected"
        self._connected_since = None

    async def reconfigure(self, update: BrokerUpdate) -> None:
        """Save the broker the gardener set and reconnect with it (empty host: off)."""
        config = broker_from_update(self.config, update)
        if config.ca_file and not await asyncio.to_thread(Path(config.ca_file).is_file):
            raise BadRequest(f"CA file {config.ca_file} does not exist on the hub")

        async def save(session: AsyncSession) -> None:
            await kv.put(session, BROKER_KEY, config.stored())

        await self.store.write(save)
        await self.stop()
        self.config = config
        self._failures = 0
        self._last_error = self._last_error_at = None
        self._launch()

    def _launch(self) -> None:
        if not self.config.enabled:
            self._state = "off"
            return
        self._state = "connecting"
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt-bridge")

    # --- what health and the UI show ------------------------------------------------------------

    def status(self) -> BridgeStatus:
        """How the link to the broker stands."""
        return BridgeStatus(
            state=self._state,
            broker=self.config.address,
            connected_since=self._connected_since,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            failed_attempts=self._failures,
            messages_published=self._messages,
            last_published_at=self._last_published_at,
        )

    def problem(self) -> str | None:
        """Why a configured broker is not connected, or None (connected, or not configured)."""
        if self._state in ("off", "connected"):
            return None
        reason = self._last_error or "connecting"
        return f"not connected to MQTT broker {self.config.address}: {reason}"

    def public(self) -> MqttPublic:
        """The settings (without the password) and the status."""
        config = self.config
        return MqttPublic(
            host=config.host,
            port=config.port,
            tls=config.tls,
            ca_file=config.ca_file,
            username=config.username,
            password_set=config.password is not None,
            discovery_prefix=config.discovery_prefix,
            base_topic=config.base_topic,
            hub_id=self.hub_id,
            status=self.status(),
        )

    # --- the connection -------------------------------------------------------------------------

    @property
    def topics(self) -> Topics:
        """This hub's topics under the configured prefixes."""
        assert self.hub_id is not None
        return Topics(
            self.config.discovery_prefix, f"{self.config.base_topic}/{self.hub_id}", self.hub_id
        )

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except aiomqtt.MqttError as exc:
                self._failed(str(exc) or type(exc).__name__)
            except Exception as exc:
                log.exception("mqtt_bridge_failed")
                self._failed(f"{type(exc).__name__}: {exc}")
            delay = min(
                self.settings.mqtt_backoff_max_s, BACKOFF_BASE_S * 2 ** min(self._failures - 1, 16)
            )
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def _failed(self, reason: str) -> None:
        was_connected = self._state == "connected"
        self._state = "disconnected"
        self._connected_since = None
        self._failures += 1
        self._last_error, self._last_error_at = reason, utcnow()
        log.warning(
            "mqtt_disconnected" if was_connected else "mqtt_connect_failed",
            broker=self.config.address,
            error=reason,
            attempt=self._failures,
        )

    def _client(self) -> aiomqtt.Client:
        config = self.config
        assert config.host is not None
        tls: ssl.SSLContext | None = None
        if config.tls:
            tls = ssl.create_default_context(cafile=config.ca_file or None)
        return aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
            identifier=f"plantvita-{self.hub_id}",
            will=aiomqtt.Will(self.topics.availability, OFFLINE, qos=1, retain=True),
            keepalive=self.settings.mqtt_keepalive_s,
            tls_context=tls,
            timeout=CONNECT_TIMEOUT_S,
        )

    async def _session(self) -> None:
        topics = self.topics
        self._state = "connecting"
        async with self._client() as client:
            self._state = "connected"
            self._connected_since = utcnow()
            self._failures = 0
            log.info("mqtt_connected", broker=self.config.address, hub_id=self.hub_id)
            try:
                await client.subscribe(topics.ha_status, qos=1)
                await client.subscribe(topics.sync_command, qos=1)
                await client.subscribe(topics.photo_filter, qos=1)
                await self._publish(client, topics.availability, ONLINE.encode())
                # The broker may have lost every retained message while it was away.
                self._published.clear()
                await self._refresh(client, force=True)
                # Retained configs of entities that no longer exist (unpaired nodes, deleted
                # plants) arrive now and are cleared.
                await client.subscribe(topics.config_filter, qos=1)
                await self._serve(client)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                        await client.publish(topics.availability, OFFLINE, qos=1, retain=True)
                raise

    async def _serve(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        messages = aiter(client.messages)
        next_check = loop.time() + self.settings.mqtt_poll_s
        while True:
            try:
                message = await asyncio.wait_for(
                    anext(messages), max(0.0, next_check - loop.time())
                )
            except TimeoutError:
                await self._refresh(client)
                next_check = loop.time() + self.settings.mqtt_poll_s
                continue
            await self._handle(client, message)

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topics = self.topics
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else b""
        if topic == topics.ha_status:
            if payload == ONLINE.encode():
                # Home Assistant restarted: it reads retained configs, but states go again too.
                self._published.clear()
                await self._refresh(client, force=True)
        elif topic == topics.sync_command:
            if payload == PRESS.encode():
                log.info("mqtt_sync_now")
                self._command(self._sync_now())
        elif message.topic.matches(topics.photo_filter):
            mac = topics.mac_of_photo_command(topic)
            if mac is not None and payload == PRESS.encode() and self._take_photo is not None:
                log.info("mqtt_take_photo", node=mac)
                self._command(self._take_photo(mac))
        elif message.topic.matches(topics.config_filter) and payload and topic not in self._configs:
            log.info("mqtt_config_cleared", topic=topic)
            await self._publish(client, topic, b"")

    def _command(self, action: Awaitable[object]) -> None:
        async def run() -> object:
            try:
                return await action
            except Exception:
                log.exception("mqtt_button_failed")
                return None

        task = asyncio.get_running_loop().create_task(run())
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _refresh(self, client: aiomqtt.Client, *, force: bool = False) -> None:
        """Publish what changed since the last publish (everything when ``force``)."""
        now = utcnow()
        async with self.store.read() as session:
            marker = await view.change_marker(session, now)
            if not force and marker == self._marker:
                return
            garden = await view.garden_view(session, self.settings, now)
        self._marker = garden.version
        wanted = list(
            discovery.messages(
                self.topics,
                garden,
                self.settings.hub_name,
                self.version,
                photos=self._take_photo is not None,
            )
        )
        configs = {topic for topic, _ in wanted if topic.endswith("/config")}
        gone = self._configs - configs
        self._configs = configs
        for topic in gone:
            await self._publish(client, topic, b"")
        for topic, payload in wanted:
            if self._published.get(topic) != payload:
                await self._publish(client, topic, payload)

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        await client.publish(topic, payload, qos=1, retain=True)
        if payload:
            self._published[topic] = payload
        else:
            self._published.pop(topic, None)
        self._messages += 1
        self._last_published_at = utcnow()

    async def _hub_id(self) -> str:
        async with self.store.read() as session:
            existing = await kv.get(session, HUB_ID_KEY)
        if existing is not None:
            return existing
        made = uuid.uuid4().hex[:12]

        async def save(session: AsyncSession) -> None:
            await kv.put(session, HUB_ID_KEY, made)

        await self.store.write(save)
        return made


def broker_from_update(current: BrokerConfig, update: BrokerUpdate) -> BrokerConfig:
    """The broker the gardener set: an omitted password keeps the saved one, "" clears it."""
    if update.password is None:
        password = current.password
    else:
        password = SecretStr(update.password) if update.password else None
    return BrokerConfig(
        host=(update.host or "").strip() or None,
        port=update.port,
        tls=update.tls,
        ca_file=(update.ca_file or "").strip() or None,
        username=(update.username or "").strip() or None,
        password=password,
        discovery_prefix=update.discovery_prefix,
        base_topic=current.base_topic,
    )
