"""Node and plant lists come a page at a time, with an RFC 8288 Link to the next page."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.cloud.factories import UserAuth, create_node, create_plant, create_user

_NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def _walk(client: httpx.AsyncClient, user: UserAuth, path: str) -> list[list[dict[str, Any]]]:
    """Every page of a list, following Link headers; the pages in order."""
    pages: list[list[dict[str, Any]]] = []
    url: str | None = path
    while url is not None:
        response = await client.get(url, headers=user.headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        url = None
        if link is not None:
            match = _NEXT.match(link)
            assert match is not None, link
            url = match["url"]
        assert len(pages) < 10, "the pages never ended"
    return pages


async def test_plants_page_by_name_without_gaps_or_repeats(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    names = ["Basil", "Aloe", "Basil", "Chili", "Basil"]  # equal names: ordered by id too
    ids = {(await create_plant(client, user, name))["id"] for name in names}
    stranger = await create_user(client)
    await create_plant(client, stranger, "Aloe")

    pages = await _walk(client, user, "/api/v1/plants?limit=2")

    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [plant for page in pages for plant in page]
    assert {plant["id"] for plant in listed} == ids
    keys = [(plant["name"], plant["id"]) for plant in listed]
    assert keys == sorted(keys)
    # One page when everything fits: no Link header at all.
    whole = await client.get("/api/v1/plants", headers=user.headers)
    assert "link" not in whole.headers
    assert [plant["id"] for plant in whole.json()] == [plant["id"] for plant in listed]


async def test_nodes_page_by_mac(client: httpx.AsyncClient) -> None:
    user = await create_user(client)
    macs = sorted([(await create_node(client, user))["mac"] for _ in range(3)])
    pages = await _walk(client, user, "/api/v1/nodes?limit=2")
    assert [[node["mac"] for node in page] for page in pages] == [macs[:2], macs[2:]]


async def test_bad_cursors_and_limits_are_422_in_the_error_body(
    client: httpx.AsyncClient,
) -> None:
    user = await create_user(client)
    for path in ("/api/v1/plants", "/api/v1/nodes"):
        for cursor in ("not-base64!!", "WyJhIiwiYiIsImMiXQ", "bm90IGpzb24"):
            response = await client.get(path, params={"cursor": cursor}, headers=user.headers)
            assert response.status_code == 422, (path, cursor)
            assert response.json()["error"]["code"] == "invalid_cursor"
        too_small = await client.get(path, params={"limit": 0}, headers=user.headers)
        assert (too_small.status_code, too_small.json()["error"]["code"]) == (
            422,
            "validation_error",
        )
    # A plant cursor names a plant id; a malformed id is refused the same way.
    forged = await client.get(
        "/api/v1/plants", params={"cursor": "WyJhIiwibm90LWEtdXVpZCJd"}, headers=user.headers
    )
    assert forged.json()["error"]["code"] == "invalid_cursor"
