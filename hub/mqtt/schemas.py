"""The broker connection the gardener configures, and how the bridge stands."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.settings import HubSettings

# A host name or an IP address (v4, or v6 without brackets): no spaces, no scheme, no path.
HOST_PATTERN = r"^[A-Za-z0-9.\-:]+$"
TOPIC_PATTERN = r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$"

BridgeState = Literal["off", "connecting", "connected", "disconnected"]


class BrokerConfig(BaseModel):
    """Where and how the hub connects; ``host`` None: Home Assistant publishing is off."""

    model_config = ConfigDict(frozen=True)

    host: str | None = Field(default=None, max_length=253, pattern=HOST_PATTERN)
    port: int = Field(default=1883, ge=1, le=65_535)
    tls: bool = False
    ca_file: str | None = Field(default=None, max_length=1024)
    username: str | None = Field(default=None, max_length=256)
    password: SecretStr | None = None
    discovery_prefix: str = Field(default="homeassistant", max_length=100, pattern=TOPIC_PATTERN)
    base_topic: str = Field(default="plantvita", max_length=100, pattern=TOPIC_PATTERN)

    @classmethod
    def from_settings(cls, settings: HubSettings) -> BrokerConfig:
        """The broker from ``PLANTVITA_HUB_MQTT_*``."""
        return cls(
            host=settings.mqtt_host or None,
            port=settings.mqtt_port,
            tls=settings.mqtt_tls,
            ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            username=settings.mqtt_username or None,
            password=settings.mqtt_password,
            discovery_prefix=settings.mqtt_discovery_prefix,
            base_topic=settings.mqtt_base_topic,
        )

    @property
    def enabled(self) -> bool:
        """A broker is configured."""
        return self.host is not None

    @property
    def address(self) -> str | None:
        """``host:port`` for status texts."""
        return f"{self.host}:{self.port}" if self.host else None

    def stored(self) -> str:
        """The JSON kept in the hub's settings table (password included: the hub needs it)."""
        data = self.model_dump(mode="json")
        data["password"] = self.password.get_secret_value() if self.password else None
        return json.dumps(data)


class BrokerUpdate(BaseModel):
    """The broker as the Settings page sends it; ``host`` empty or null turns publishing off.
    ``password`` omitted (or null) keeps the saved one; an empty string clears it."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(default=None, max_length=253, pattern=r"^[A-Za-z0-9.\-:]*$")
    port: int = Field(default=1883, ge=1, le=65_535)
    tls: bool = False
    ca_file: str | None = Field(default=None, max_length=1024, pattern=r"^[^\x00]*$")
    username: str | None = Field(default=None, max_length=256, pattern=r"^[^\x00]*$")
    password: str | None = Field(default=None, max_length=256, pattern=r"^[^\x00]*$")
    discovery_prefix: str = Field(default="homeassistant", max_length=100, pattern=TOPIC_PATTERN)


class BridgeStatus(BaseModel):
    """How the hub's link to the broker stands."""

    state: BridgeState
    broker: str | None  # host:port
    connected_since: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failed_attempts: int  # since the last successful connection
    messages_published: int
    last_published_at: datetime | None


class MqttPublic(BaseModel):
    """The broker settings (never the password) and the bridge's status."""

    host: str | None
    port: int
    tls: bool
    ca_file: str | None
    username: str | None
    password_set: bool
    discovery_prefix: str
    base_topic: str
    hub_id: str | None  # the id in this hub's topics and unique ids
    status: BridgeStatus
