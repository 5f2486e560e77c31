"""Hands the lower domains what the ones above them do on their events (see the package layers
in docs/cloud.md): the registry learns what telemetry, alerts and images do when a node or
plant moves or goes. Called by ``cloud.app.create_app`` and by the worker; idempotent."""

from __future__ import annotations

from cloud.alerts import service as alerts
from cloud.images import service as images
from cloud.registry import hooks
from cloud.telemetry import service as telemetry


def wire() -> None:
    """Connect the registry's hooks."""
    hooks.connect(
        hooks.RegistryHooks(
            node_assigned=images.on_node_assigned,
            plant_deleted=images.on_plant_deleted,
            node_deleted=(telemetry.delete_node_readings, alerts.delete_node_state),
        )
    )
