"""docs/scaling.md's Citus plan holds for the schema as migrated: every table is placed, and each
placement's rules (what Citus requires of a distributed or a reference table) are kept, so the
plan stays true as the schema changes."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

import cloud.models  # noqa: F401 - every table on the metadata
from cloud.db.base import metadata
from cloud.db.engine import libpq_url

SCALING = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
PLACEMENTS = {"distributed", "reference", "local"}
_ROW = re.compile(r"^\| `([a-z_*]+)` \| (distributed|reference|local) \| (?:`([a-z_]+)`|—) \|")


def plan() -> dict[str, tuple[str, str | None]]:
    """table (or ``prefix_*``) → (placement, distribution column), from docs/scaling.md."""
    rows: dict[str, tuple[str, str | None]] = {}
    for line in SCALING.read_text().splitlines():
        if match := _ROW.match(line):
            rows[match[1]] = (match[2], match[3])
    return rows


def placement(table: str, rows: dict[str, tuple[str, str | None]]) -> tuple[str, str | None]:
    if table in rows:
        return rows[table]
    for name, placed in rows.items():
        if name.endswith("*") and table.startswith(name[:-1]):
            return placed
    raise KeyError(table)


@pytest.fixture
def schema(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(libpq_url(database_url))


def _tables(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    rows = conn.execute(
        """SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"""
    ).fetchall()
    return sorted(str(row[0]) for row in rows)


def test_the_plan_places_every_table_and_only_real_ones(
    schema: psycopg.Connection[tuple[object, ...]],
) -> None:
    rows = plan()
    assert {"readings", "readings_hourly", "readings_daily"} <= set(rows)
    tables = _tables(schema)
    unplaced = []
    for table in tables:
        try:
            placement(table, rows)
        except KeyError:
            unplaced.append(table)
    assert unplaced == [], "docs/scaling.md must place these tables in the Citus plan"
    stale = [name for name in rows if not name.endswith("*") and name not in tables]
    assert stale == [], "docs/scaling.md places tables that do not exist"


def test_distributed_tables_keep_the_rules_citus_needs(
    schema: psycopg.Connection[tuple[object, ...]],
) -> None:
    rows = plan()
    tables = _tables(schema)
    kinds = {table: placement(table, rows) for table in tables}
    distributed = {t: column for t, (kind, column) in kinds.items() if kind == "distributed"}
    reference = {t for t, (kind, _) in kinds.items() if kind == "reference"}
    types = set()
    for table, column in distributed.items():
        assert column is not None, f"{table}: a distributed table needs its column"
        row = schema.execute(
            """SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
               WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped""",
            (table, column),
        ).fetchone()
        assert row is not None, f"{table} has no column {column}"
        assert row[1], f"{table}.{column} must be NOT NULL to distribute by it"
        types.add(row[0])
        # Every unique index (primary keys and unique constraints too) includes the column:
        # a shard can only enforce uniqueness among its own rows.
        uniques = schema.execute(
            """SELECT i.indexrelid::regclass::text, array_agg(a.attname::text)
               FROM pg_index AS i
               JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
               WHERE i.indrelid = to_regclass(%s) AND i.indisunique
               GROUP BY 1""",
            (table,),
        ).fetchall()
        assert uniques, f"{table}: no primary key"
        for index, columns in uniques:
            assert column in columns, f"{index} of {table} leaves out {column}"
    # Co-located: one distribution column type, so shards of one node's rows meet.
    assert len(types) == 1, types
    # Foreign keys: none between a distributed table and one that is not co-located (Citus
    # cannot check them across shards); reference tables only reference reference tables.
    fks = schema.execute(
        """SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
           WHERE contype = 'f' AND connamespace = 'public'::regnamespace
             AND conparentid = 0"""
    ).fetchall()
    for source, target in fks:
        if source in distributed or target in distributed:
            assert source in distributed, (source, target)
            assert target in distributed, (source, target)
        if source in reference:
            assert target in reference, f"reference table {source} references {target}"


def test_the_metadata_agrees_with_the_plan() -> None:
    """The models (what new migrations are written from) keep the distributed keys too."""
    rows = plan()
    for table in metadata.sorted_tables:
        kind, column = placement(table.name, rows)
        if kind != "distributed":
            continue
        assert column in table.primary_key.columns, table.name
        for constraint in table.constraints:
            names = {c.name for c in getattr(constraint, "columns", ())}
            if type(constraint).__name__ == "UniqueConstraint":
                assert column in names, (table.name, constraint.name)
        for index in table.indexes:
            if index.unique:
                assert column in {c.name for c in index.columns}, (table.name, index.name)
