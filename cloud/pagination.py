"""The one pagination shape of every cloud list route (docs/cloud.md, "Pagination").

In: ``limit`` (1-500, default 100) and ``cursor`` (opaque, from the previous page). Out: a bare
JSON array and, while there is more, ``Link: <url>; rel="next"`` (RFC 8288) whose URL is the
same request with the next cursor. Pages are keyset (seek) pages over a unique sort key, so rows
added or removed between two requests cause no gap and no repeat.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query, Request, Response
from sqlalchemy import ColumnElement, Select, and_, false, literal, or_
from sqlalchemy.orm import Mapped

from cloud.errors import InvalidRequestError

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_CURSOR_CHARS = 400

# What a cursor part can be; each list route names the kinds of its sort key.
CursorKind = type[str] | type[int] | type[bool] | type[datetime] | type[uuid.UUID]


class InvalidCursorError(InvalidRequestError):
    """A cursor this API did not hand out (or one of another list)."""

    code = "invalid_cursor"


class UnknownParameterError(InvalidRequestError):
    """A query parameter the list route does not take (it would be silently ignored)."""

    code = "unknown_parameter"


@dataclass(frozen=True)
class SortKey:
    """One column of a list's order: ``kind`` is how its value travels in the cursor."""

    column: ColumnElement[Any] | Mapped[Any]
    kind: CursorKind
    direction: Literal["asc", "desc"] = "asc"


@dataclass(frozen=True)
class Keyset:
    """A list's total order (the last key must be unique) and how to seek past a row."""

    keys: tuple[SortKey, ...]

    def order_by(self) -> list[ColumnElement[Any]]:
        """The ORDER BY clause."""
        return [k.column.desc() if k.direction == "desc" else k.column.asc() for k in self.keys]

    def after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after ``values`` in this order (mixed directions allowed)."""
        # Bound as typed literals: a boolean key must compare with <, which True/False refuse.
        bound = [
            literal(v, getattr(k.column, "type", None))
            for v, k in zip(values, self.keys, strict=True)
        ]
        clauses: list[ColumnElement[bool]] = []
        for i, key in enumerate(self.keys):
            equal = [k.column == bound[j] for j, k in enumerate(self.keys[:i])]
            beyond = key.column < bound[i] if key.direction == "desc" else key.column > bound[i]
            clauses.append(and_(*equal, beyond))
        return or_(false(), *clauses)

    def page(self, statement: Select[Any], request: PageRequest) -> Select[Any]:
        """``statement`` ordered, seeked past the cursor, limited to one row more than asked."""
        if request.cursor is not None:
            statement = statement.where(self.after(self.decode(request.cursor)))
        return statement.order_by(*self.order_by()).limit(request.limit + 1)

    def decode(self, cursor: str) -> list[Any]:
        """The sort-key values a cursor carries; anything else is a 422 ``invalid_cursor``."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            parts = json.loads(raw)
        except (ValueError, TypeError):
            parts = None
        if not isinstance(parts, list) or len(parts) != len(self.keys):
            raise InvalidCursorError("cursor is not one this API handed out")
        try:
            return [_parse(part, key.kind) for part, key in zip(parts, self.keys, strict=True)]
        except (ValueError, TypeError):
            raise InvalidCursorError("cursor is not one this API handed out") from None

    def encode(self, values: Sequence[Any]) -> str:
        """The cursor of the page after the row with these sort-key values."""
        parts = [_dump(value) for value in values]
        raw = json.dumps(parts, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _dump(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _parse(part: Any, kind: CursorKind) -> Any:
    if kind is bool:
        if not isinstance(part, bool):
            raise TypeError("not a boolean")
        return part
    if kind is int:
        if isinstance(part, bool) or not isinstance(part, int):
            raise TypeError("not an integer")
        return part
    if not isinstance(part, str):
        raise TypeError("not a string")
    if kind is datetime:
        moment = datetime.fromisoformat(part)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    if kind is uuid.UUID:
        return uuid.UUID(part)
    return part


@dataclass(frozen=True)
class PageRequest:
    """``limit`` and ``cursor`` of a list request."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None

    def map(self, convert: Callable[[T], R]) -> Page[R]:
        """The same page with every item converted (rows to public schemas)."""
        return Page([convert(item) for item in self.items], self.next_cursor)


def page_of(
    rows: Sequence[T], request: PageRequest, keyset: Keyset, key: Callable[[T], Sequence[Any]]
) -> Page[T]:
    """The page from rows fetched by ``Keyset.page`` (one more than asked tells there is more)."""
    items = list(rows[: request.limit])
    more = len(rows) > request.limit
    return Page(items, keyset.encode(key(items[-1])) if more and items else None)


async def _page_request(
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"items per page (at most {MAX_LIMIT})")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_CHARS,
            description='opaque: from the previous page\'s `Link: <…>; rel="next"`',
        ),
    ] = None,
) -> PageRequest:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        known = {param.alias for param in _query_params(dependant)}
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise UnknownParameterError(
                f"unknown query parameter: {', '.join(unknown)}",
                details={"unknown": unknown, "accepted": sorted(known)},
            )
    return PageRequest(limit=limit, cursor=cursor)


def _query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_query_params(sub))
    return found


# The list parameters of a route: ``page: PageDep``.
PageDep = Annotated[PageRequest, Depends(_page_request)]


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Point the client at the next page: this request with the new cursor (path-relative, so it
    stays right behind any proxy)."""
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        target = url.path + (f"?{url.query}" if url.query else "")
        response.headers["Link"] = f'<{target}>; rel="next"'


def respond(request: Request, response: Response, page: Page[T]) -> list[T]:
    """The page's items as the body; its next cursor as the ``Link`` header."""
    link_next(request, response, page.next_cursor)
    return page.items


# OpenAPI of a list route's 200: the Link header.
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": 'a page of the list; `Link: <…>; rel="next"` when there is another',
        "headers": {
            "Link": {
                "description": 'RFC 8288 `<url>; rel="next"` while there is another page',
                "schema": {"type": "string"},
            }
        },
    }
}
