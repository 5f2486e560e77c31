"""Data validity on the sync API and the registry: ordered threshold ranges (one shared rule),
JSON numbers only (``true`` is not 1), reading and alert times inside [2020-01-01, now + 1 day],
and a batch id re-sent with other contents answered 409 and counted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from shared.metrics import threshold_conflicts
from shared.sync import SYNC_ALERTS_PATH, ReadingIn, Thresholds
from tests.cloud.factories import HubAuth, create_hub, create_node, create_plant, create_user
from tests.cloud.telemetry.test_ingest import push

NOW = datetime.now(UTC).replace(microsecond=0)


def at(delta: timedelta, mac: str, **values: Any) -> dict[str, Any]:
    return {
        "node_mac": mac,
        "measured_at": (NOW + delta).isoformat(),
        **(values or {"moisture": 40}),
    }


@pytest.fixture
async def hub_with_node(client: httpx.AsyncClient) -> tuple[HubAuth, dict[str, Any]]:
    user = await create_user(client)
    hub = await create_hub(client, user)
    return hub, await create_node(client, user, hub=hub)


# --- thresholds ------------------------------------------------------------------------------


def test_the_shared_rule_refuses_a_minimum_not_below_its_maximum() -> None:
    assert threshold_conflicts({"moisture_min": 30, "moisture_max": 60}) == []
    assert threshold_conflicts({"moisture_min": 30}) == []
    (problem,) = threshold_conflicts({"dli_min": 12.0, "dli_max": 6.0})
    assert problem == "dli: the minimum (12) must be below the maximum (6)"
    with pytest.raises(ValidationError, match="temperature: the minimum"):
        Thresholds.model_validate({"temperature_min": 30, "temperature_max": 10})
    for value in (True, "12"):
        with pytest.raises(ValidationError, match="valid number"):
            Thresholds.model_validate({"moisture_min": value})


async def test_plant_ranges_are_refused_when_inverted_alone_or_merged(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    inverted = await client.post(
        "/api/v1/plants",
        json={"name": "Fern", "overrides": {"moisture_min": 70, "moisture_max": 20}},
        headers=user.headers,
    )
    assert inverted.status_code == 422
    not_a_number = await client.post(
        "/api/v1/plants",
        json={"name": "Fern", "overrides": {"moisture_min": True}},
        headers=user.headers,
    )
    assert not_a_number.status_code == 422
    # Species 1 (Pothos) keeps moisture at most 50: a minimum of 60 on its own is inverted.
    plant = await create_plant(client, user, "Pothos", species_id=1)
    merged = await client.patch(
        f"/api/v1/plants/{plant['id']}",
        json={"overrides": {"moisture_min": 60}},
        headers=user.headers,
    )
    assert merged.status_code == 422
    assert "moisture: the minimum (60)" in merged.json()["error"]["message"]


# --- readings --------------------------------------------------------------------------------


def test_booleans_and_strings_are_not_readings() -> None:
    base = {"node_mac": "02:00:00:00:00:01", "measured_at": NOW.isoformat()}
    assert ReadingIn.model_validate({**base, "moisture": 12}).value  # ints are numbers
    for value in (True, False, "12"):
        with pytest.raises(ValidationError, match="valid number"):
            ReadingIn.model_validate({**base, "moisture": value})


async def test_booleans_and_out_of_window_times_are_rejected_per_item(
    client: httpx.AsyncClient, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node
    mac = node["mac"]
    items = [
        at(-timedelta(hours=1), mac),
        at(-timedelta(hours=2), mac, moisture=True),
        at(-timedelta(hours=3), mac, temperature=False, moisture=30),
        {"node_mac": mac, "measured_at": "2019-12-31T23:59:59Z", "moisture": 40},
        {"node_mac": mac, "measured_at": "1970-01-01T00:10:00Z", "moisture": 40},
        at(timedelta(days=2), mac),
        at(-timedelta(hours=4), mac),
    ]
    ack = (await push(client, hub, items)).json()
    reasons = {item["index"]: item["reason"] for item in ack["rejected"]}
    assert reasons == {1: "invalid", 2: "invalid", 3: "too_old", 4: "too_old", 5: "future"}
    assert ack["accepted"] == 2
    assert "2020-01-01" in next(r["message"] for r in ack["rejected"] if r["index"] == 3)


# --- batch ids -------------------------------------------------------------------------------


async def test_a_batch_id_resent_with_other_contents_is_a_counted_conflict(
    client: httpx.AsyncClient, app: FastAPI, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node
    batch_id = uuid.uuid4()
    first = [at(-timedelta(minutes=m), node["mac"]) for m in range(1, 4)]
    assert (await push(client, hub, first, batch_id)).json()["accepted"] == 3
    # The same contents (spelled differently: 40 vs 40.0) are a replay.
    again = [{**item, "moisture": 40.0} for item in first]
    replay = await push(client, hub, again, batch_id)
    assert replay.status_code == 200
    assert replay.json()["replayed"] is True
    # Other contents under the same id: not silently acked with the first batch's answer.
    other = [at(-timedelta(minutes=m), node["mac"]) for m in range(10, 14)]
    conflict = await push(client, hub, other, batch_id)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    counted = app.state.metrics.batch_id_conflicts.labels("readings")._value.get()
    assert counted == 1
    # The readings of the conflicting batch were not stored.
    fresh = await push(client, hub, other)
    assert fresh.json()["accepted"] == 4


async def test_alert_batches_check_contents_and_refuse_far_future_alerts(
    client: httpx.AsyncClient, app: FastAPI, hub_with_node: tuple[HubAuth, dict[str, Any]]
) -> None:
    hub, node = hub_with_node

    def alert(opened: datetime, message: str = "soil is dry") -> dict[str, Any]:
        return {
            "local_id": str(uuid.uuid4()),
            "node_mac": node["mac"],
            "kind": "low",
            "metric": "moisture",
            "message": message,
            "opened_at": opened.isoformat(),
        }

    batch = {
        "batch_id": str(uuid.uuid4()),
        "alerts": [alert(NOW - timedelta(hours=1)), alert(NOW + timedelta(days=400))],
    }
    ack = (await client.post(SYNC_ALERTS_PATH, json=batch, headers=hub.headers)).json()
    assert ack["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in ack["rejected"]] == [(1, "future")]
    assert (await client.post(SYNC_ALERTS_PATH, json=batch, headers=hub.headers)).json()[
        "replayed"
    ] is True
    changed = {**batch, "alerts": [alert(NOW - timedelta(hours=2), "something else")]}
    conflict = await client.post(SYNC_ALERTS_PATH, json=changed, headers=hub.headers)
    assert conflict.status_code == 409
    assert app.state.metrics.batch_id_conflicts.labels("alerts")._value.get() == 1
