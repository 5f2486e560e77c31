"""The hub's SQL lives in repositories: services and routers call repository functions.

Allowed besides a domain's ``repository`` module: ``hub.store`` (the engine, migrations, the
key-value settings, integrity checks) and the two file-level tools that work on a copy or a
read-only handle of the SQLite file (``hub.backup``, ``hub.export``).
"""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parents[3] / "hub"
ALLOWED = {"hub.backup", "hub.export"}
QUERY_BUILDERS = {"text", "select", "insert", "update", "delete", "col"}


def _module_name(path: Path) -> str:
    return ".".join(("hub", *path.relative_to(HUB).with_suffix("").parts))


def _exempt(module: str) -> bool:
    return module.endswith(".repository") or module.startswith("hub.store.") or module in ALLOWED


def query_sites(source: str) -> list[str]:
    """What in this source runs SQL: query-builder imports, ``sqlite3``, ``.execute`` calls."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy", "sqlmodel"):
            found += [
                f"l. {node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name in QUERY_BUILDERS
            ]
        elif isinstance(node, ast.Import):
            if any(alias.name == "sqlite3" for alias in node.names):
                found.append(f"l. {node.lineno}: import sqlite3")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "exec", "executemany")
        ):
            found.append(f"l. {node.lineno}: .{node.func.attr}(...)")
    return found


def violations() -> dict[str, list[str]]:
    """Each hub module outside the repositories and the store that runs SQL, with where."""
    broken: dict[str, list[str]] = {}
    for path in sorted(HUB.rglob("*.py")):
        module = _module_name(path)
        if module.endswith(".__init__"):
            module = module.removesuffix(".__init__")
        if _exempt(module):
            continue
        sites = query_sites(path.read_text(encoding="utf-8"))
        if sites:
            broken[module] = sites
    return broken


def test_no_hub_module_outside_the_repositories_runs_sql() -> None:
    assert violations() == {}


def test_the_check_finds_a_query_in_a_service() -> None:
    service = (
        "from sqlmodel import select\n"
        "async def plants(session):\n"
        "    return (await session.execute(select(Plant))).scalars().all()\n"
    )
    assert query_sites(service) == [
        "l. 1: from sqlmodel import select",
        "l. 3: .execute(...)",
    ]
    assert query_sites("import sqlite3\n") == ["l. 1: import sqlite3"]
    assert query_sites("async def get(session):\n    return await session.get(Plant, 1)\n") == []
    assert _exempt("hub.plants.repository")
    assert not _exempt("hub.plants.service")
