"""The registry's hooks: connected by ``cloud.wiring``, loud when not."""

from __future__ import annotations

import pytest

from cloud.alerts import service as alerts
from cloud.images import service as images
from cloud.registry import hooks
from cloud.telemetry import service as telemetry
from cloud.wiring import wire


def test_an_unconnected_hook_raises_rather_than_leaving_data_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hooks, "_connected", [])
    with pytest.raises(RuntimeError, match=r"cloud\.wiring\.wire"):
        hooks.hooks()


def test_wiring_hands_the_registry_the_domains_above_it_and_is_idempotent() -> None:
    wire()
    wire()
    connected = hooks.hooks()
    assert connected.node_assigned is images.on_node_assigned
    assert connected.plant_deleted is images.on_plant_deleted
    assert tuple(connected.node_deleted) == (
        telemetry.delete_node_readings,
        alerts.delete_node_state,
    )
