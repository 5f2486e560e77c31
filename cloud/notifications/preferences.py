"""Which events reach a gardener on which channel: one row per choice, the channel's default
without one. Channels' ``recipients_sql`` embed ``wanted_sql`` so jobs are only queued for
owners who want them."""

from __future__ import annotations

from typing import Final

ALERT_OPENED: Final = "alert.opened"
ALERT_RESOLVED: Final = "alert.resolved"
DIAGNOSIS_READY: Final = "diagnosis.ready"
HUB_OFFLINE: Final = "hub.offline"
# The daily e-mail digest: an e-mail-only choice (channel "email", this event), off by default.
DAILY_DIGEST: Final = "digest.daily"
# Every event a gardener can choose, in the order the app lists them, with its label.
EVENTS: Final = {
    ALERT_OPENED: "An alert opens",
    ALERT_RESOLVED: "An alert is resolved",
    DIAGNOSIS_READY: "A diagnosis is ready",
    HUB_OFFLINE: "A hub goes offline",
}


def wanted_sql(channel: str, default: bool) -> str:
    """SQL: does ``e.owner_id`` want ``e.event`` on ``channel`` (``default`` without a row)."""
    return (
        "COALESCE((SELECT p.enabled FROM notification_preferences AS p "
        f"WHERE p.owner_id = e.owner_id AND p.channel = '{channel}' AND p.event = e.event), "
        f"{'true' if default else 'false'})"
    )
