"""Every cloud list route pages the same way: ``limit`` + ``cursor`` in, a bare JSON array out
and ``Link: <…>; rel="next"`` while there is more (cloud/pagination.py, docs/cloud.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from shared.sync import SYNC_ALERTS_PATH, SYNC_READINGS_PATH
from tests.cloud.factories import create_hub, create_node, create_plant, create_user
from tests.cloud.paging import walk

# Array answers that are not collections: the fixed metric registry, and a plant's latest
# reading (zero or one item).
NOT_PAGED = {"/api/v1/metrics", "/api/v1/plants/{plant_id}/readings/latest"}


def list_operations(app: FastAPI) -> list[str]:
    """Paths of every GET whose 200 answer is a JSON array."""
    found = []
    for path, item in app.openapi()["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        content = operation["responses"].get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        if schema.get("type") == "array":
            found.append(path)
    return found


def test_every_list_route_takes_limit_and_cursor_and_documents_link(app: FastAPI) -> None:
    paths = list_operations(app)
    assert len(paths) >= 10, paths
    document = app.openapi()
    wrong = []
    for path in paths:
        if path in NOT_PAGED:
            continue
        operation = document["paths"][path]["get"]
        names = {param["name"] for param in operation.get("parameters", [])}
        headers = operation["responses"]["200"].get("headers", {})
        if not {"limit", "cursor"} <= names or "Link" not in headers or "offset" in names:
            wrong.append(path)
    assert not wrong, f"list routes off the one pagination shape: {wrong}"


async def test_list_routes_refuse_parameters_they_do_not_take(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await create_user(client)
    for path in list_operations(app):
        if path in NOT_PAGED:
            continue
        url = path.replace("{plant_id}", str(uuid.uuid4())).replace("{node_id}", str(uuid.uuid4()))
        response = await client.get(url, params={"offset": 2}, headers=user.headers)
        assert response.status_code == 422, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "unknown_parameter", (path, error)
        assert error["details"]["unknown"] == ["offset"]
        assert "limit" in error["details"]["accepted"]


async def test_plants_page_by_name_without_gaps_or_repeats(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    names = ["Basil", "Aloe", "Basil", "Chili", "Basil"]  # equal names: ordered by id too
    ids = {(await create_plant(client, user, name))["id"] for name in names}
    stranger = await create_user(client)
    await create_plant(client, stranger, "Aloe")

    pages = await walk(client, "/api/v1/plants?limit=2", user.headers)

    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [plant for page in pages for plant in page]
    assert {plant["id"] for plant in listed} == ids
    keys = [(plant["name"], plant["id"]) for plant in listed]
    assert keys == sorted(keys)
    # One page when everything fits: no Link header at all.
    whole = await client.get("/api/v1/plants", headers=user.headers)
    assert "link" not in whole.headers
    assert [plant["id"] for plant in whole.json()] == [plant["id"] for plant in listed]


async def test_rows_added_between_pages_cause_no_repeat(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    for name in ("B", "D", "F"):
        await create_plant(client, user, name)
    first = await client.get("/api/v1/plants", params={"limit": 2}, headers=user.headers)
    await create_plant(client, user, "A")  # sorts before the cursor: never shown on page 2
    await create_plant(client, user, "E")  # after it: shown
    second = await client.get(first.links["next"]["url"], headers=user.headers)
    assert [p["name"] for p in first.json()] == ["B", "D"]
    assert [p["name"] for p in second.json()] == ["E", "F"]


async def test_nodes_page_by_mac(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    macs = sorted([(await create_node(client, user))["mac"] for _ in range(3)])
    pages = await walk(client, "/api/v1/nodes?limit=2", user.headers)
    assert [[node["mac"] for node in page] for page in pages] == [macs[:2], macs[2:]]


async def test_hubs_page_linked_first_newest_first(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hubs = [await create_hub(client, user, name=f"hub {i}") for i in range(3)]
    unlinked = await client.delete(f"/api/v1/hubs/{hubs[2].id}", headers=user.headers)
    assert unlinked.status_code == 204
    pages = await walk(client, "/api/v1/hubs", user.headers, {"limit": 1})
    assert [[hub["name"] for hub in page] for page in pages] == [["hub 1"], ["hub 0"], ["hub 2"]]


async def test_alerts_page_newest_first_and_keep_their_filters(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    node = await create_node(client, user, hub=hub)
    now = datetime.now(UTC).replace(microsecond=0)
    alerts: list[dict[str, Any]] = [
        {
            "local_id": str(uuid.uuid4()),
            "node_mac": node["mac"],
            "kind": "low",
            "metric": metric,
            "message": f"alert {i}",
            "opened_at": (now - timedelta(minutes=i)).isoformat(),
        }
        for i, metric in enumerate(["moisture", "temperature", "moisture", "moisture"])
    ]
    pushed = await client.post(
        SYNC_ALERTS_PATH,
        json={"batch_id": str(uuid.uuid4()), "alerts": alerts},
        headers=hub.headers,
    )
    assert pushed.status_code == 200, pushed.text
    pages = await walk(client, "/api/v1/alerts", user.headers, {"limit": 2})
    assert [[a["message"] for a in page] for page in pages] == [
        ["alert 0", "alert 1"],
        ["alert 2", "alert 3"],
    ]
    # The next link carries the filter along with the cursor.
    filtered = await walk(client, "/api/v1/alerts", user.headers, {"limit": 2, "status": "open"})
    assert sum(len(page) for page in filtered) == 4
    by_node = await walk(
        client, "/api/v1/alerts", user.headers, {"limit": 3, "node_id": node["id"]}
    )
    assert [len(page) for page in by_node] == [3, 1]


async def test_species_search_pages_keep_the_query(client: httpx.AsyncClient) -> None:
    everything = await walk(client, "/api/v1/species", params={"limit": 20})
    names = [s["common_name"] for page in everything for s in page]
    assert len(names) == len(set(names)) >= 60
    assert [len(page) for page in everything][:-1] == [20] * (len(everything) - 1)
    assert names == sorted(names)
    vegetables = await walk(client, "/api/v1/species", params={"limit": 5, "category": "vegetable"})
    assert len(vegetables) > 1
    assert {s["category"] for page in vegetables for s in page} == {"vegetable"}


async def test_latest_readings_page_by_plant_name(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    now = datetime.now(UTC)
    readings = []
    for name in ("Chili", "Aloe", "Basil"):
        node = await create_node(client, user, hub=hub)
        await create_plant(client, user, name, node=node)
        readings.append({"node_mac": node["mac"], "measured_at": now.isoformat(), "moisture": 40.0})
    await create_plant(client, user, "Dill")  # no node, no reading: not listed
    pushed = await client.post(
        SYNC_READINGS_PATH,
        json={"batch_id": str(uuid.uuid4()), "readings": readings},
        headers=hub.headers,
    )
    assert pushed.json()["accepted"] == 3
    plants = {
        p["id"]: p["name"]
        for p in (await client.get("/api/v1/plants", headers=user.headers)).json()
    }
    pages = await walk(client, "/api/v1/readings/latest", user.headers, {"limit": 2})
    assert [[plants[r["plant_id"]] for r in page] for page in pages] == [
        ["Aloe", "Basil"],
        ["Chili"],
    ]


async def test_bad_cursors_and_limits_are_422_in_the_error_body(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    paths = ("/api/v1/plants", "/api/v1/nodes", "/api/v1/hubs", "/api/v1/alerts", "/api/v1/species")
    for path in paths:
        for cursor in ("not-base64!!", "WyJhIiwiYiIsImMiLCJkIl0", "bm90IGpzb24", "W10"):
            response = await client.get(path, params={"cursor": cursor}, headers=user.headers)
            assert response.status_code == 422, (path, cursor)
            assert response.json()["error"]["code"] == "invalid_cursor"
        too_small = await client.get(path, params={"limit": 0}, headers=user.headers)
        assert (too_small.status_code, too_small.json()["error"]["code"]) == (
            422,
            "validation_error",
        )
    # A plant cursor names a plant id; a malformed id is refused the same way, and a cursor
    # of another list (a node's MAC) does not fit the plant list.
    forged = await client.get(
        "/api/v1/plants", params={"cursor": "WyJhIiwibm90LWEtdXVpZCJd"}, headers=user.headers
    )
    assert forged.json()["error"]["code"] == "invalid_cursor"
    for _ in range(2):
        await create_node(client, user)
    node_page = await client.get("/api/v1/nodes", params={"limit": 1}, headers=user.headers)
    node_cursor = node_page.links["next"]["url"].split("cursor=")[1]
    crossed = await client.get(
        "/api/v1/plants", params={"cursor": node_cursor}, headers=user.headers
    )
    assert crossed.json()["error"]["code"] == "invalid_cursor"
