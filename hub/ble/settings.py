"""The gateway's knobs, taken from ``HubSettings.ble_*`` (or set directly in tests)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """How the gateway scans, connects and batches. Times are real seconds."""

    sessions_enabled: bool = True  # False: listen only, never connect (benchmarks, a spare hub)
    adapter: str | None = None  # BlueZ adapter, e.g. "hci1"; None: the system default
    passive_scan: bool = True  # passive sees no scan response: sessions then follow the schedule
    watchdog_s: float = 120.0  # restart scanning after this long without any advert
    connect_timeout_s: float = 20.0  # one connection attempt, bounded
    connect_attempts: int = 2  # bleak-retry-connector attempts per session
    session_timeout_s: float = 120.0  # a whole GATT session, bounded
    op_timeout_s: float = 15.0  # one Control Point request until its indication
    max_connections: int = 2  # concurrent GATT sessions
    session_interval_s: float = 6 * 3600.0  # a paired Plant-Vita node gets a session this often
    session_retry_s: float = 60.0  # after a failed session, wait before trying that node again
    seen_ttl_s: float = 600.0  # an unpaired device stays listed this long after its last advert
    status_interval_s: float = (
        30.0  # node status (last seen, RSSI, battery, drops) pushed this often
    )
    flush_interval_s: float = 0.25  # decoded readings are committed in batches this often
    flush_max_batch: int = 1000  # or as soon as this many wait; also the largest transaction
    scan_backoff_s: float = 1.0  # first retry delay after an adapter error, doubling
    scan_backoff_max_s: float = 60.0  # adapter errors: retry scanning with backoff up to this
    image_attempts: int = 3  # CRC failures refetch an image from scratch at most this often
    counter_check_interval_s: float = 300.0  # replay-looking adverts: ask the node this rarely
    drop_log_interval_s: float = 60.0  # dropped adverts are logged once per node per interval
    # A MiFlora is polled over GATT once a day (battery, firmware), and this often while its
    # adverts leave out a value the poll reads (older firmware advertises only some).
    xiaomi_battery_poll_s: float = 86_400.0
    xiaomi_poll_interval_s: float = 3600.0

    @classmethod
    def from_hub_settings(cls, settings: Any, **overrides: Any) -> GatewaySettings:
        """Read the ``ble_*`` fields of ``HubSettings`` (missing ones keep their defaults)."""
        mapping = {
            "adapter": "ble_adapter",
            "passive_scan": "ble_passive_scan",
            "watchdog_s": "ble_watchdog_s",
            "connect_timeout_s": "ble_connect_timeout_s",
            "session_timeout_s": "ble_session_timeout_s",
            "seen_ttl_s": "ble_seen_ttl_s",
            "status_interval_s": "ble_status_interval_s",
            "max_connections": "ble_max_connections",
            "session_interval_s": "ble_session_interval_s",
        }
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, attribute in mapping.items():
            if hasattr(settings, attribute):
                values[name] = getattr(settings, attribute)
        values.update({k: v for k, v in overrides.items() if k in known})
        return cls(**values)
