"""Cloud settings: ``PLANTVITA_CLOUD_`` environment variables, validated at start-up."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import AliasChoices, BeforeValidator, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from cloud.db.partitions import (
    DEFAULT_HOURLY_RETENTION_DAYS,
    DEFAULT_PARTITIONS_AHEAD,
    DEFAULT_RAW_RETENTION_DAYS,
    RetentionPolicy,
)
from cloud.ratelimit import RateRule
from cloud.settings.images import ImageSettings
from cloud.settings.notifications import NotificationSettings

DEFAULT_JWT_SECRET: Final = "development-only-jwt-secret-change-me-in-production"  # noqa: S105 - the refused default


def _comma_list(value: Any) -> Any:
    """``a, b`` from the environment as ``["a", "b"]`` (a list passes through)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# A list setting written ``a,b,c`` in the environment.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]
# A rate limit written ``COUNT/SECONDS`` in the environment.
RateSetting = Annotated[RateRule, NoDecode]


class Environment(StrEnum):
    """Where the service runs; anything but development demands real secrets."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class InsecureSettingsError(RuntimeError):
    """A secret is missing or left at its default outside development."""


class CloudSettings(ImageSettings, NotificationSettings):
    """Every knob of the cloud service. ``DATABASE_URL`` is accepted without the prefix too."""

    model_config = SettingsConfigDict(
        env_prefix="PLANTVITA_CLOUD_", env_file=None, extra="ignore", populate_by_name=True
    )

    environment: Environment = Environment.DEVELOPMENT

    # Database: a server URL, or None to start embedded PostgreSQL in ``pgdata_dir``.
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "PLANTVITA_CLOUD_DATABASE_URL", "DATABASE_URL", "database_url"
        ),
    )
    # The job worker's and the migrations' connection: PostgreSQL itself or a session-mode pool
    # (the worker LISTENs and holds session state). Unset: ``database_url``.
    database_direct_url: str | None = None
    # ``database_url`` is PgBouncer (or another pooler) in transaction mode: no startup
    # options, no server-side prepared statements, read-only reads per transaction. Needs
    # ``database_direct_url``. See docs/operations.md ("Connection pooling").
    db_transaction_pooler: bool = False
    # A streaming replica (read-only) for history, latest readings and CSV exports; unset: all
    # reads on the primary. Reads fall back to the primary while its replay lag is above
    # ``replica_max_lag_s`` (checked every ``replica_lag_check_s``) or it does not answer.
    database_replica_url: str | None = None
    replica_max_lag_s: float = Field(default=5.0, gt=0, le=3600)
    replica_lag_check_s: float = Field(default=1.0, gt=0, le=60)
    pgdata_dir: Path = Path("var/cloud/pgdata")
    embedded_auto_migrate: bool = True  # embedded mode only: bring the database to head at start-up
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    # Connections kept open for single-statement reads in autocommit (latest readings, token
    # checks): a few serve thousands of reads a second. Counted in the connection budget.
    db_read_pool_size: int = Field(default=4, ge=1, le=100)
    # Group commit of reading batches (``cloud.ingest.group``): at most this many ingest
    # transactions per process at a time (their connections come from the pool above), each
    # applying up to ``ingest_group_max_batches`` batches that queued meanwhile; a group that
    # starts while another runs, with batches arriving often, first waits
    # ``ingest_group_linger_ms`` for more (0: never).
    ingest_group_transactions: int = Field(default=2, ge=1, le=100)
    ingest_group_max_batches: int = Field(default=16, ge=1, le=256)
    ingest_group_linger_ms: float = Field(default=25.0, ge=0, le=1000)

    # Identity.
    jwt_secret: str = DEFAULT_JWT_SECRET
    jwt_algorithm: str = "HS256"
    access_token_ttl_s: int = Field(default=900, ge=30)
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=60)
    # Read endpoints memoise each user's token floor (last password change) this long per
    # process; 0 asks the database on every request. See docs/operations.md.
    token_floor_cache_s: float = Field(default=2.0, ge=0, le=60)
    # Argon2id cost (argon2-cffi's RFC 9106 "low memory" defaults); tests lower it for speed.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=64)
    login_max_failures: int = Field(default=5, ge=1)  # per account and address: then 429
    # Guessing spread over many addresses: past this many failures of one account in the
    # window (all addresses together), each further attempt from an address without an active
    # login of the account waits a delay doubling per failure, up to the maximum. Slows an
    # attacker to one guess a minute without ever locking the owner's signed-in devices out.
    login_account_slowdown_after: int = Field(default=10, ge=1)
    login_account_max_delay_s: int = Field(default=60, ge=1)
    login_failure_window_s: int = Field(default=900, ge=1)
    # Rate limits (COUNT/SECONDS, fixed windows counted in PostgreSQL): 429 + Retry-After +
    # RateLimit-* headers; the device-token poll answers RFC 8628 slow_down instead.
    rate_limits_enabled: bool = True
    rate_limit_register: RateSetting = RateRule(limit=10, window_s=3600)  # per address
    rate_limit_refresh: RateSetting = RateRule(limit=60, window_s=60)  # per address
    rate_limit_password_change: RateSetting = RateRule(limit=10, window_s=900)  # per user
    rate_limit_device_code: RateSetting = RateRule(limit=20, window_s=3600)  # per address
    rate_limit_device_token: RateSetting = RateRule(limit=120, window_s=60)  # per address
    rate_limit_device_approve: RateSetting = RateRule(limit=10, window_s=900)  # per user
    device_code_ttl_s: int = Field(default=900, ge=30)
    device_poll_interval_s: int = Field(default=5, ge=0)
    # Where a hub's user approves its code; unset: the cloud app's page, ``public_base_url``
    # + ``/app/link`` (``verification_uri_complete`` adds ``?user_code=``).
    verification_uri: str | None = None

    # Telemetry.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # How far ahead of this clock a reading may be (never more than shared.sync.MAX_AHEAD).
    future_tolerance_s: int = Field(default=300, ge=0, le=86_400)
    history_max_points: int = Field(default=1000, ge=10, le=100_000)
    # Retention (docs/scaling.md): raw readings, then hourly rollups, are dropped a monthly
    # partition at a time once older than these; daily rollups are kept forever. Readings
    # older than the raw window are refused at ingest (their rollups would count twice).
    readings_raw_retention_days: int = Field(default=DEFAULT_RAW_RETENTION_DAYS, ge=31)
    readings_hourly_retention_days: int = Field(default=DEFAULT_HOURLY_RETENTION_DAYS, ge=31)
    readings_partitions_ahead: int = Field(default=DEFAULT_PARTITIONS_AHEAD, ge=1, le=24)
    # A pushed batch's id and ack are kept this long: a batch re-sent within it gets the same
    # ack; one re-sent later is ingested again, harmlessly (rows are keyed by node and time).
    ingest_batch_dedup_days: int = Field(default=30, ge=1)
    resolved_alert_retention_days: int = Field(default=365, ge=1)

    # Alerts.
    alert_min_duration_s: int = Field(default=900, ge=0)
    stale_after_intervals: int = Field(default=3, ge=1)
    stale_check_interval_s: float = Field(default=60.0, gt=0)
    stale_check_enabled: bool = True
    low_battery_pct: float = Field(default=15.0, ge=0, le=100)
    # A hub silent this long shows as offline in the app (and raises "hub offline").
    hub_offline_after_s: int = Field(default=900, ge=60)

    # Outbound calls to user-chosen URLs (webhooks) reach public addresses only; these CIDRs
    # are exempt (an operator's receiver on a private network). Default: none.
    egress_allowed_networks: CommaList = Field(default_factory=list)

    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDRs);
    # the client address is the rightmost one no trusted proxy added. Default: none, so a
    # caller cannot pick the address rate limits count against. Cloud Run: 169.254.0.0/16.
    trusted_proxies: CommaList = Field(default_factory=list)

    # Browser apps on these origins (``https://app.example.com``, or ``*``) may call the API
    # (CORS). Default: none, so only same-origin pages and non-browser clients can.
    cors_allowed_origins: CommaList = Field(default_factory=list)

    # Logging.
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("egress_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # a ValueError names the bad entry
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            if item == "*":
                # Every peer a proxy: the client-written leftmost address would be believed.
                raise ValueError("'*' would trust addresses the caller writes; name the proxies")
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for item in value:
            scheme, _, rest = item.partition("://")
            if item != "*" and (scheme not in ("http", "https") or not rest or "/" in rest):
                raise ValueError(f"not an origin (scheme://host[:port]): {item!r}")
        return value

    def device_verification_uri(self) -> str:
        """The approval page a linking hub shows its user."""
        return self.verification_uri or f"{self.public_base_url.rstrip('/')}/app/link"

    def development_secrets(self) -> list[str]:
        """The settings still at their public development defaults (empty in production)."""
        found = []
        if self.jwt_secret == DEFAULT_JWT_SECRET:
            found.append("PLANTVITA_CLOUD_JWT_SECRET")
        if self.storage_secret_problem():
            found.append("PLANTVITA_CLOUD_STORAGE_SIGNING_KEY")
        return found

    def direct_database_url(self, url: str) -> str:
        """The job worker's and migrations' URL, given the resolved ``database_url``."""
        return self.database_direct_url or url

    @model_validator(mode="after")
    def _pooler_needs_direct_url(self) -> CloudSettings:
        if self.db_transaction_pooler and self.database_direct_url is None:
            raise ValueError(
                "PLANTVITA_CLOUD_DB_TRANSACTION_POOLER needs PLANTVITA_CLOUD_DATABASE_DIRECT_URL: "
                "the job worker LISTENs and migrations hold session state, which a "
                "transaction-mode pool cannot give them (point it at PostgreSQL itself or a "
                "session-mode pool)"
            )
        return self

    @model_validator(mode="after")
    def _retention_order(self) -> CloudSettings:
        if self.readings_hourly_retention_days < self.readings_raw_retention_days:
            raise ValueError("readings_hourly_retention_days must be at least the raw window")
        if self.ingest_batch_dedup_days > self.readings_raw_retention_days:
            raise ValueError("ingest_batch_dedup_days must not exceed the raw window")
        return self

    def retention_policy(self) -> RetentionPolicy:
        """The partition maintenance's windows."""
        return RetentionPolicy(
            raw_days=self.readings_raw_retention_days,
            hourly_days=self.readings_hourly_retention_days,
            ahead_months=self.readings_partitions_ahead,
        )

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> CloudSettings:
        if self.environment is not Environment.DEVELOPMENT:
            if not self.jwt_secret or self.jwt_secret == DEFAULT_JWT_SECRET:
                raise InsecureSettingsError(
                    "PLANTVITA_CLOUD_JWT_SECRET is missing or left at its development default; "
                    f"set a long random secret to run with environment={self.environment.value}"
                )
            if len(self.jwt_secret) < 32:
                raise InsecureSettingsError(
                    "PLANTVITA_CLOUD_JWT_SECRET must be at least 32 characters outside development"
                )
            if problem := self.storage_secret_problem():
                raise InsecureSettingsError(problem)
        return self
