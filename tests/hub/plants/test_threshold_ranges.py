"""The hub refuses plant ranges whose minimum is not below the maximum, with the rule the cloud
uses (``shared.metrics.threshold_conflicts``): alone (422, the request's validation) or merged
into the species' ranges (400, like an edit of a linked plant)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from hub.hub_store import HubStore

pytestmark = pytest.mark.pi


async def test_inverted_or_non_numeric_ranges_are_refused(admin_client: httpx.AsyncClient) -> None:
    # Refused by the request's validation (422): inverted alone, or not JSON numbers.
    for overrides in (
        {"moisture_min": 70, "moisture_max": 20},
        {"dli_min": 12.0, "dli_max": 12.0},
        {"temperature_max": True},
        {"humidity_min": "40"},
    ):
        refused = await admin_client.post(
            "/api/v1/plants", json={"name": "Basil", "overrides": overrides}
        )
        assert refused.status_code == 422, (overrides, refused.text)
    ok = await admin_client.post(
        "/api/v1/plants", json={"name": "Basil", "overrides": {"moisture_min": 20}}
    )
    assert ok.status_code == 201


async def test_overrides_are_checked_merged_into_the_species(
    admin_client: httpx.AsyncClient,
) -> None:
    store: HubStore = admin_client.app.state.store  # type: ignore[attr-defined]

    async def seed(session: object) -> None:  # beside the catalogue the hub ships with
        await session.execute(  # type: ignore[attr-defined]
            text(
                "insert into species (id, common_name, scientific_name, thresholds) "
                "values (9001, 'Test fern', 'Nephrolepis testii', :t)"
            ),
            {"t": '{"moisture_min": 40, "moisture_max": 70}'},
        )

    await store.write(seed)
    created = await admin_client.post("/api/v1/plants", json={"name": "Fern", "species_id": 9001})
    assert created.status_code == 201, created.text
    plant_id = created.json()["id"]
    inverted = await admin_client.patch(
        f"/api/v1/plants/{plant_id}", json={"overrides": {"moisture_max": 30}}
    )
    assert inverted.status_code == 400
    assert "moisture: the minimum (40) must be below the maximum (30)" in inverted.text
    fine = await admin_client.patch(
        f"/api/v1/plants/{plant_id}", json={"overrides": {"moisture_max": 60}}
    )
    assert fine.status_code == 200, fine.text
