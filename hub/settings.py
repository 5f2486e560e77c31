"""Hub configuration: one ``HubSettings`` read from ``PLANTVITA_HUB_*`` variables (and ``.env``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.sync import MAX_BATCH_BYTES, MAX_BATCH_ITEMS


class Environment(StrEnum):
    """Where the hub runs; outside development missing secrets stop start-up."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class HubSettings(BaseSettings):
    """Every knob of the hub process. The BLE gateway reads the ``ble_*`` fields."""

    model_config = SettingsConfigDict(env_prefix="PLANTVITA_HUB_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./var/hub")
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65_535)
    hub_name: str = Field(default="Plant-Vita hub", min_length=1, max_length=64)
    # LAN server bounds (hub/net.py): a connection must complete its request headers this soon
    # after it opens (or after its previous response); at most this many connections are kept,
    # the oldest idle one making room for a new one.
    http_header_timeout_s: float = Field(default=5.0, gt=0, le=120)
    http_max_connections: int = Field(default=512, ge=16, le=16_384)

    # Cloud link and sync.
    cloud_url: str | None = None
    sync_interval_s: float = Field(default=300.0, gt=0)
    sync_batch_items: int = Field(default=MAX_BATCH_ITEMS, ge=1, le=MAX_BATCH_ITEMS)
    sync_batch_bytes: int = Field(default=MAX_BATCH_BYTES // 2, ge=1024, le=MAX_BATCH_BYTES)
    sync_concurrency: int = Field(default=2, ge=1, le=8)  # batches in flight at once
    sync_timeout_s: float = Field(default=60.0, gt=0)
    sync_backoff_base_s: float = Field(default=2.0, gt=0)
    sync_backoff_max_s: float = Field(default=900.0, gt=0)
    image_upload_bytes_per_s: int | None = Field(default=256 * 1024, ge=1024)  # None: no cap
    image_upload_chunk_bytes: int = Field(default=64 * 1024, ge=1024)

    # Local store.
    disk_budget_mb: float = Field(default=2048.0, gt=0)
    # Free space kept on the data directory's filesystem: below it the budget prunes synced data
    # as if over budget; below a quarter of it the hub reports its disk full (/readyz, UI, alert).
    disk_reserve_mb: float = Field(default=64.0, ge=0)
    write_batch_max: int = Field(default=512, ge=1)  # writer ops folded into one transaction
    sqlite_synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL|EXTRA)$")

    # Images.
    image_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    thumbnail_max_side: int = Field(default=320, ge=32, le=2048)

    # Local alerts.
    low_battery_percent: float = Field(default=15.0, ge=0, le=100)
    alert_min_duration_s: float = Field(default=900.0, ge=0)
    alert_interval_s: float = Field(default=60.0, gt=0)

    # Local admin session cookie signing key; generated and stored in data_dir when unset.
    session_secret: str | None = None
    session_max_age_s: int = Field(default=7 * 86_400, ge=60)
    # Wrong admin passwords per client address before it must wait (brute force on the LAN).
    login_max_failures: int = Field(default=10, ge=1)
    login_failure_window_s: float = Field(default=300.0, gt=0)

    # BLE gateway (read by hub.ble).
    ble_enabled: bool = True
    ble_adapter: str | None = None  # e.g. "hci0"; None: the system default
    ble_passive_scan: bool = True
    ble_watchdog_s: float = Field(default=120.0, gt=0)  # restart scanning after this long silent
    ble_connect_timeout_s: float = Field(default=20.0, gt=0)
    ble_session_timeout_s: float = Field(default=120.0, gt=0)
    ble_seen_ttl_s: float = Field(default=600.0, gt=0)  # how long an unpaired device stays listed
    ble_status_interval_s: float = Field(default=30.0, gt=0)

    # Home Assistant through MQTT discovery (hub/mqtt): off while no broker host is set. The
    # Settings page can set the broker too; what it saves there wins over these.
    mqtt_host: str | None = Field(default=None, max_length=253)
    mqtt_port: int = Field(default=1883, ge=1, le=65_535)
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None  # PEM CA of a broker with a private certificate
    mqtt_username: str | None = Field(default=None, max_length=256)
    mqtt_password: SecretStr | None = None
    mqtt_discovery_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_\-/]+$")
    mqtt_base_topic: str = Field(default="plantvita", pattern=r"^[A-Za-z0-9_\-/]+$")
    mqtt_keepalive_s: int = Field(default=60, ge=5, le=3600)
    mqtt_backoff_max_s: float = Field(default=60.0, gt=0)
    mqtt_poll_s: float = Field(default=2.0, gt=0, le=60)  # how often the store is checked for news

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> HubSettings:
        if self.environment is Environment.PRODUCTION and not self.session_secret:
            raise ValueError(
                "PLANTVITA_HUB_SESSION_SECRET must be set in production "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return self

    @property
    def database_path(self) -> Path:
        """The SQLite file."""
        return self.data_dir / "hub.sqlite3"

    @property
    def images_dir(self) -> Path:
        """Where image files live, by content hash."""
        return self.data_dir / "images"

    @property
    def disk_reserve_bytes(self) -> int:
        """Free space to keep on the data directory's filesystem."""
        return int(self.disk_reserve_mb * 1024 * 1024)

    @property
    def disk_budget_bytes(self) -> int:
        """The budget for the database plus image files."""
        return int(self.disk_budget_mb * 1024 * 1024)


class SettingsError(Exception):
    """A setting the hub cannot start with; the message is one line naming the variable."""


def load_settings(**overrides: object) -> HubSettings:
    """The hub's settings from the environment, or ``SettingsError`` with one line that names
    the variable to fix (``PLANTVITA_HUB_PORT: …``), and a data directory the hub can write."""
    from pydantic import ValidationError

    try:
        settings = HubSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if not field:  # a check across fields names its variable itself
            raise SettingsError(message) from None
        raise SettingsError(f"PLANTVITA_HUB_{field.upper()}: {message}") from None
    _check_data_dir(settings.data_dir)
    return settings


def _check_data_dir(path: Path) -> None:
    import os

    if path.exists() and not path.is_dir():
        raise SettingsError(f"PLANTVITA_HUB_DATA_DIR: {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"PLANTVITA_HUB_DATA_DIR: cannot create {path}: {exc.strerror or exc}"
        ) from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise SettingsError(f"PLANTVITA_HUB_DATA_DIR: {path} is not a writable directory")
