"""docs/scaling.md's Citus plan holds for the schema as migrated: every table is placed, and each
placement's rules (what Citus requires of a distributed or a reference table) are kept, so the
plan stays true as the schema changes. The checks are functions returning what they found
wrong, and synthetic broken schemas show that each rule reports its violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import psycopg
import pytest
import sqlalchemy as sa

import cloud.models  # noqa: F401 - every table on the metadata
from cloud.db.base import metadata
from cloud.db.engine import libpq_url

SCALING = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
_ROW = re.compile(r"^\| `([a-z_*]+)` \| (distributed|reference|local) \| (?:`([a-z_]+)`|—) \|")

Plan = dict[str, tuple[str, str | None]]
Conn = psycopg.Connection[tuple[object, ...]]


def plan(text: str | None = None) -> Plan:
    """table (or ``prefix_*``) → (placement, distribution column), from docs/scaling.md."""
    rows: Plan = {}
    for line in (SCALING.read_text() if text is None else text).splitlines():
        if match := _ROW.match(line):
            rows[match[1]] = (match[2], match[3])
    return rows


def placement(table: str, rows: Plan) -> tuple[str, str | None]:
    if table in rows:
        return rows[table]
    for name, placed in rows.items():
        if name.endswith("*") and table.startswith(name[:-1]):
            return placed
    raise KeyError(table)


def _tables(conn: Conn, namespace: str) -> list[str]:
    rows = conn.execute(
        """SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition""",
        (namespace,),
    ).fetchall()
    return sorted(str(row[0]) for row in rows)


def placement_violations(conn: Conn, rows: Plan, namespace: str = "public") -> list[str]:
    """Tables the plan leaves out, and plan rows naming no table."""
    tables = _tables(conn, namespace)
    found = []
    for table in tables:
        try:
            placement(table, rows)
        except KeyError:
            found.append(f"{table}: not placed in the plan")
    found += [
        f"{name}: placed in the plan but no such table"
        for name in rows
        if not name.endswith("*") and name not in tables
    ]
    return found


def citus_violations(conn: Conn, rows: Plan, namespace: str = "public") -> list[str]:
    """What the schema in ``namespace`` breaks of the rules the plan ``rows`` need."""
    kinds = {}
    for table in _tables(conn, namespace):
        try:
            kinds[table] = placement(table, rows)
        except KeyError:
            continue  # placement_violations reports it
    distributed = {t: column for t, (kind, column) in kinds.items() if kind == "distributed"}
    reference = {t for t, (kind, _) in kinds.items() if kind == "reference"}
    found: list[str] = []
    types = set()
    for table, column in distributed.items():
        if column is None:
            found.append(f"{table}: a distributed table needs its distribution column")
            continue
        qualified = f'"{namespace}"."{table}"'
        row = conn.execute(
            """SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
               WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped""",
            (qualified, column),
        ).fetchone()
        if row is None:
            found.append(f"{table}: no column {column}")
            continue
        if not row[1]:
            found.append(f"{table}.{column} must be NOT NULL to distribute by it")
        types.add(str(row[0]))
        # Every unique index (primary keys and unique constraints too) includes the column:
        # a shard can only enforce uniqueness among its own rows.
        uniques = conn.execute(
            """SELECT ic.relname, array_agg(a.attname::text)
               FROM pg_index AS i
               JOIN pg_class AS ic ON ic.oid = i.indexrelid
               JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
               WHERE i.indrelid = to_regclass(%s) AND i.indisunique
               GROUP BY 1""",
            (qualified,),
        ).fetchall()
        if not uniques:
            found.append(f"{table}: no primary key")
        for index, columns in uniques:
            if column not in cast(list[str], columns):
                found.append(f"{index} of {table} leaves out {column}")
    # Co-located: one distribution column type, so shards of one node's rows meet.
    if len(types) > 1:
        found.append(f"distribution columns of different types: {sorted(types)}")
    # Foreign keys (Citus cannot check one across shards): a distributed table references
    # only a co-located distributed table, through the distribution column on both sides, or
    # a reference table (copied to every worker); nothing else references a distributed
    # table; reference tables reference only reference tables.
    fks = conn.execute(
        """SELECT c.conname, s.relname, t.relname,
                  ARRAY(SELECT attname::text FROM pg_attribute
                        WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)
                        ORDER BY array_position(c.conkey, attnum)),
                  ARRAY(SELECT attname::text FROM pg_attribute
                        WHERE attrelid = c.confrelid AND attnum = ANY(c.confkey)
                        ORDER BY array_position(c.confkey, attnum))
           FROM pg_constraint AS c
           JOIN pg_class AS s ON s.oid = c.conrelid
           JOIN pg_class AS t ON t.oid = c.confrelid
           WHERE c.contype = 'f' AND c.connamespace = to_regnamespace(%s) AND c.conparentid = 0""",
        (namespace,),
    ).fetchall()
    for name, source, target, keys, targets in fks:
        source, target = str(source), str(target)
        if source in distributed and target in distributed:
            pairs = list(zip(cast(list[str], keys), cast(list[str], targets), strict=True))
            if (distributed[source], distributed[target]) not in pairs:
                found.append(f"foreign key {name} of {source} leaves out the distribution column")
        elif source in distributed and target not in reference:
            found.append(f"foreign key {source} -> {target} leaves the distributed tables")
        elif target in distributed and source not in distributed:
            found.append(f"foreign key {source} -> {target} into a distributed table")
        if source in reference and target not in reference:
            found.append(f"reference table {source} references {target}")
    return found


def metadata_violations(tables: list[sa.Table], rows: Plan) -> list[str]:
    """The models (what new migrations are written from) keep the distributed keys too."""
    found = []
    for table in tables:
        kind, column = placement(table.name, rows)
        if kind != "distributed":
            continue
        if column not in {c.name for c in table.primary_key.columns}:
            found.append(f"{table.name}: primary key leaves out {column}")
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint) and column not in {
                c.name for c in constraint.columns
            }:
                found.append(f"{table.name}: unique {constraint.name} leaves out {column}")
        for index in table.indexes:
            if index.unique and column not in {c.name for c in index.columns}:
                found.append(f"{table.name}: unique index {index.name} leaves out {column}")
    return found


@pytest.fixture
def schema(database_url: str) -> Iterator[Conn]:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        yield conn


# ---- the real schema -------------------------------------------------------------------------


def test_the_plan_places_every_table_and_only_real_ones(schema: Conn) -> None:
    rows = plan()
    assert {"readings", "readings_hourly", "readings_daily"} <= set(rows)
    assert placement_violations(schema, rows) == []


def test_distributed_tables_keep_the_rules_citus_needs(schema: Conn) -> None:
    rows = plan()
    assert [t for t, (kind, _) in rows.items() if kind == "distributed"]
    assert citus_violations(schema, rows) == []


def test_the_metadata_agrees_with_the_plan() -> None:
    assert metadata_violations(list(metadata.sorted_tables), plan()) == []


# ---- synthetic schemas: each rule reports what breaks it -------------------------------------

SYNTHETIC_PLAN = """
| table | Citus | distribution column | why |
|---|---|---|---|
| `samples` | distributed | `node_id` | |
| `events` | distributed | `node_id` | |
| `kinds` | reference | — | |
| `owners` | local | — | |
"""
GOOD = """
CREATE TABLE probe.kinds (id int PRIMARY KEY);
CREATE TABLE probe.owners (id uuid PRIMARY KEY);
CREATE TABLE probe.samples (
    node_id uuid NOT NULL, at timestamptz NOT NULL, kind int REFERENCES probe.kinds,
    PRIMARY KEY (node_id, at));
CREATE TABLE probe.events (
    id bigint NOT NULL, node_id uuid NOT NULL, at timestamptz NOT NULL,
    PRIMARY KEY (node_id, id), UNIQUE (node_id, at),
    FOREIGN KEY (node_id, at) REFERENCES probe.samples (node_id, at));
"""


@pytest.fixture
def probe(schema: Conn) -> Conn:
    schema.execute("CREATE SCHEMA probe")
    for statement in GOOD.split(";"):
        if statement.strip():
            schema.execute(statement)
    return schema


def test_a_schema_that_keeps_the_rules_reports_nothing(probe: Conn) -> None:
    rows = plan(SYNTHETIC_PLAN)
    assert len(rows) == 4
    assert placement_violations(probe, rows, "probe") == []
    assert citus_violations(probe, rows, "probe") == []


@pytest.mark.parametrize(
    ("breakage", "violation"),
    [
        (
            "ALTER TABLE probe.events ADD CONSTRAINT events_id_key UNIQUE (id)",
            "events_id_key of events leaves out node_id",
        ),
        (
            "CREATE UNIQUE INDEX events_at ON probe.events (at)",
            "events_at of events leaves out node_id",
        ),
        (
            "ALTER TABLE probe.samples DROP CONSTRAINT samples_pkey CASCADE;"
            " ALTER TABLE probe.samples ALTER node_id DROP NOT NULL",
            "samples.node_id must be NOT NULL to distribute by it",
        ),
        (
            "ALTER TABLE probe.samples DROP CONSTRAINT samples_pkey CASCADE",
            "samples: no primary key",
        ),
        (
            "ALTER TABLE probe.events ADD owner_id uuid REFERENCES probe.owners",
            "foreign key events -> owners leaves the distributed tables",
        ),
        (
            "ALTER TABLE probe.owners ADD sample_node uuid, ADD sample_at timestamptz,"
            " ADD FOREIGN KEY (sample_node, sample_at) REFERENCES probe.samples (node_id, at)",
            "foreign key owners -> samples into a distributed table",
        ),
        (
            "ALTER TABLE probe.events ADD other uuid NOT NULL;"
            " ALTER TABLE probe.events DROP CONSTRAINT events_node_id_at_fkey;"
            " ALTER TABLE probe.events ADD CONSTRAINT events_other_fkey"
            " FOREIGN KEY (other, at) REFERENCES probe.samples (node_id, at)",
            "foreign key events_other_fkey of events leaves out the distribution column",
        ),
        (
            "ALTER TABLE probe.kinds ADD owner_id uuid REFERENCES probe.owners",
            "reference table kinds references owners",
        ),
        (
            "ALTER TABLE probe.events DROP CONSTRAINT events_node_id_at_fkey;"
            " ALTER TABLE probe.events ALTER node_id TYPE text",
            "distribution columns of different types: ['text', 'uuid']",
        ),
    ],
)
def test_each_broken_rule_is_reported(probe: Conn, breakage: str, violation: str) -> None:
    for statement in breakage.split(";"):
        probe.execute(statement)
    assert violation in citus_violations(probe, plan(SYNTHETIC_PLAN), "probe")


def test_an_unplaced_table_and_a_stale_plan_row_are_reported(probe: Conn) -> None:
    probe.execute("CREATE TABLE probe.unplanned (id int PRIMARY KEY)")
    probe.execute("DROP TABLE probe.owners")
    assert sorted(placement_violations(probe, plan(SYNTHETIC_PLAN), "probe")) == [
        "owners: placed in the plan but no such table",
        "unplanned: not placed in the plan",
    ]


def test_a_model_whose_unique_constraint_omits_the_distribution_column_is_reported() -> None:
    models = sa.MetaData()
    samples = sa.Table(
        "samples",
        models,
        sa.Column("node_id", sa.Uuid, primary_key=True),
        sa.Column("at", sa.DateTime, primary_key=True),
        sa.Column("seq", sa.Integer),
        sa.UniqueConstraint("seq", name="samples_seq_key"),
        sa.Index("samples_at", "at", unique=True),
    )
    events = sa.Table("events", models, sa.Column("id", sa.Integer, primary_key=True))
    assert metadata_violations([samples, events], plan(SYNTHETIC_PLAN)) == [
        "samples: unique samples_seq_key leaves out node_id",
        "samples: unique index samples_at leaves out node_id",
        "events: primary key leaves out node_id",
    ]
