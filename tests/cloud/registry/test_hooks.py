"""The registry's hooks: connected by ``cloud.wiring``, loud when not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from cloud.alerts import service as alerts
from cloud.db.engine import libpq_url
from cloud.images import service as images
from cloud.registry import hooks
from cloud.telemetry import service as telemetry
from cloud.wiring import wire
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import create_hub, create_node, create_plant, create_user


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


def _rows_of(database_url: str, node_id: str) -> dict[str, int]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE node_id = %s",
                (node_id,),
            ).fetchone()[0]  # type: ignore[index]
            for table in ("readings", "readings_hourly", "alert_states")
        }


async def test_deleting_a_node_forgets_its_readings_rollups_and_alert_state(
    client: httpx.AsyncClient, database_url: str
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    await create_plant(client, user, "Fern", node=node, overrides={"moisture_min": 30})
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    items = [
        {
            "node_mac": node["mac"],
            "measured_at": (start + timedelta(minutes=m)).isoformat(),
            "moisture": 20.0,
        }
        for m in range(0, 30, 5)
    ]
    pushed = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": items},
        headers=hub.headers,
    )
    assert pushed.status_code == 200, pushed.text
    before = _rows_of(database_url, node["id"])
    assert before["readings"] == 6
    assert before["readings_hourly"] >= 1
    assert before["alert_states"] >= 1
    deleted = await client.delete(f"/api/v1/nodes/{node['id']}", headers=user.headers)
    assert deleted.status_code == 204, deleted.text
    assert _rows_of(database_url, node["id"]) == {
        "readings": 0,
        "readings_hourly": 0,
        "alert_states": 0,
    }
