"""Walk a cloud list route page by page, the way docs/cloud.md tells app developers to."""

from __future__ import annotations

import re
from typing import Any

import httpx

NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def walk(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    max_pages: int = 20,
) -> list[list[dict[str, Any]]]:
    """Every page of a list in order, following ``Link: <…>; rel="next"`` until it is absent."""
    pages: list[list[dict[str, Any]]] = []
    url: str | None = path
    while url is not None:
        response = await client.get(url, headers=headers, params=params if not pages else None)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, list), body
        pages.append(body)
        link = response.headers.get("link")
        url = None
        if link is not None:
            match = NEXT.match(link)
            assert match is not None, link
            url = match["url"]
        assert len(pages) <= max_pages, "the pages never ended"
    return pages
