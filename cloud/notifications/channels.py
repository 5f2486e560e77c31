"""Every notification channel, in one list: queueing and the worker both derive from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from cloud.notifications.email import EmailChannel
from cloud.notifications.ports import Channel, ChannelResources
from cloud.notifications.push import PushChannel
from cloud.notifications.webhook import WebhookChannel

CHANNEL_TYPES: Final[tuple[type[Channel], ...]] = (WebhookChannel, PushChannel, EmailChannel)


def build_channels(resources: ChannelResources) -> Mapping[str, Channel]:
    """One instance of each channel, by name."""
    return {kind.name: kind(resources) for kind in CHANNEL_TYPES}
