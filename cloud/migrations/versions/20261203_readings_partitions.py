"""readings_partitions: raw readings and hourly rollups range-partitioned by month; compact rows

Raw readings lose ``owner_id`` (a node's owner is on ``nodes``), store the u32 ``seq`` in an
int4 (two's complement) and order their columns for alignment: 8-byte time first, the uuid,
then 4- and 2-byte columns. Each partition has its primary key and a BRIN index on time.

An empty database gets the partitioned tables at once. One that holds readings gets them beside
the old ones (``*_next``) with statement triggers on the old tables mirroring every insert,
update and delete; ``cloud.db.partitions.finish_conversion`` (run by ``plantvita cloud
migrate`` right after this revision) copies the old rows in batches while ingest goes on, then
swaps the tables. Partitions are made from the month 400 days back (the default raw window) to
two months ahead; the maintenance job keeps that window moving.

Also: the indexes retention prunes by (``ingest_batches.created_at``, resolved alerts).

Revision ID: 0310
Revises: 0305
Create Date: 2026-12-03 17:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0310"
down_revision: str | Sequence[str] | None = "0305"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRST_DAYS_BACK = 400
_MONTHS_AHEAD = 2
_SEQ_STORE = "seq::bigint::bit(32)::integer"


def _columns(table: str) -> list[tuple[str, str, bool, str | None]]:
    """(name, type, not null, default) of each column of ``table``, in order."""
    rows = op.get_bind().execute(
        sa.text(
            """SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                      pg_get_expr(d.adbin, d.adrelid)
               FROM pg_attribute AS a
               LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped
               ORDER BY a.attnum"""
        ),
        {"t": table},
    )
    return [(r[0], r[1], bool(r[2]), r[3]) for r in rows]


def _primary_key(table: str) -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            """SELECT a.attname FROM pg_constraint AS c
               CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
               WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'p'
               ORDER BY k.position"""
        ),
        {"t": table},
    )
    return [r[0] for r in rows]


def _month(day: date) -> date:
    return date(day.year, day.month, 1)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _column_sql(name: str, type_: str, not_null: bool, default: str | None) -> str:
    return (
        f'"{name}" {type_}'
        + (" NOT NULL" if not_null else "")
        + (f" DEFAULT {default}" if default else "")
    )


def _reading_layout() -> list[tuple[str, str, bool, str | None]]:
    """The compact column order: timestamptz, uuid, int4 seq, the real metrics, smallints."""
    old = {c[0]: c for c in _columns("readings")}
    reals = [c for c in old.values() if c[1] == "real"]
    smallints = [c for c in old.values() if c[1] == "smallint"]
    others = set(old) - {c[0] for c in reals + smallints} - {"measured_at", "node_id", "seq"}
    if others - {"owner_id"}:
        raise RuntimeError(f"readings has columns this migration does not know: {others}")
    return [
        old["measured_at"],
        old["node_id"],
        ("seq", "integer", False, None),
        *reals,
        *smallints,
    ]


def _create_parent(
    table: str, shadow: str, layout: list[tuple[str, str, bool, str | None]], partition_column: str
) -> None:
    key = ", ".join(f'"{c}"' for c in _primary_key(table))
    columns = ",\n    ".join(_column_sql(*c) for c in layout)
    op.execute(
        f"""CREATE TABLE {shadow} (
    {columns},
    CONSTRAINT pk_{shadow} PRIMARY KEY ({key})
) PARTITION BY RANGE ({partition_column})"""
    )
    if table == "readings":
        # Time within a partition follows arrival order: a BRIN index of a few pages serves
        # time-range scans over all nodes (exports, analytics) without a B-tree's size.
        op.execute(
            f"CREATE INDEX ix_{shadow}_brin ON {shadow} USING brin ({partition_column}) "
            "WITH (pages_per_range = 32)"
        )
    today = datetime.now(UTC).date()
    month = _month(today - timedelta(days=_FIRST_DAYS_BACK))
    last = _month(today + timedelta(days=31 * _MONTHS_AHEAD))
    while month <= last:
        op.execute(
            f"CREATE TABLE {table}_{month.year:04d}{month.month:02d} PARTITION OF {shadow} "
            f"FOR VALUES FROM ('{month.isoformat()} 00:00+00') "
            f"TO ('{_next(month).isoformat()} 00:00+00')"
        )
        month = _next(month)


def _mirror(table: str, shadow: str, columns: list[str], mutable: bool) -> None:
    """Statement triggers on the old ``table`` repeating each change in ``shadow``."""
    key = _primary_key(table)
    names = ", ".join(f'"{c}"' for c in columns)
    exprs = ", ".join(_SEQ_STORE if c == "seq" else f'"{c}"' for c in columns)
    floor = (
        op.get_bind()
        .execute(
            sa.text(
                """SELECT min(substring(c.relname from '_([0-9]{6})$')) FROM pg_inherits AS i
               JOIN pg_class AS c ON c.oid = i.inhrelid
               WHERE i.inhparent = CAST(:t AS regclass)"""
            ),
            {"t": shadow},
        )
        .scalar_one()
    )
    since = f"{floor[:4]}-{floor[4:]}-01 00:00+00"
    partition_column = "measured_at" if table == "readings" else "bucket"
    if mutable:
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
        conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    else:
        conflict = "ON CONFLICT DO NOTHING"
    upsert = (
        f"INSERT INTO {shadow} ({names}) SELECT {exprs} FROM changed "
        f"WHERE {partition_column} >= '{since}' {conflict}"
    )
    match = " AND ".join(f's."{c}" = o."{c}"' for c in key)
    bodies = {
        "insert": ("NEW TABLE AS changed", upsert),
        "update": ("NEW TABLE AS changed", upsert),
        "delete": ("OLD TABLE AS o", f"DELETE FROM {shadow} AS s USING o WHERE {match}"),
    }
    for event, (referencing, body) in bodies.items():
        if event == "update" and not mutable:
            continue
        name = f"{table}_mirror_{event}"
        op.execute(
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {body};
    RETURN NULL;
END $$"""
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def _has_rows(table: str) -> bool:
    return bool(op.get_bind().execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar())


def _convert(
    table: str,
    layout: list[tuple[str, str, bool, str | None]],
    partition_column: str,
    *,
    mutable: bool,
) -> None:
    shadow = f"{table}_next"
    _create_parent(table, shadow, layout, partition_column)
    if _has_rows(table):
        _mirror(table, shadow, [c[0] for c in layout], mutable)
        return
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {shadow} RENAME TO {table}")
    op.execute(f"ALTER INDEX pk_{shadow} RENAME TO pk_{table}")
    if table == "readings":
        op.execute(f"ALTER INDEX ix_{shadow}_brin RENAME TO ix_{table}_brin")


def upgrade() -> None:
    """Apply."""
    # Readings written by this code carry no owner: the old table must take them meanwhile.
    op.alter_column("readings", "owner_id", nullable=True)
    _convert("readings", _reading_layout(), "measured_at", mutable=False)
    _convert("readings_hourly", _columns("readings_hourly"), "bucket", mutable=True)
    op.create_index(
        op.f("ix_ingest_batches_created_at"), "ingest_batches", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_alerts_resolved_at"),
        "alerts",
        ["resolved_at"],
        unique=False,
        postgresql_where=sa.text("status = 'resolved'"),
    )


def downgrade() -> None:
    """Revert: back to unpartitioned tables (rows copied back; owners from ``nodes``)."""
    op.drop_index(op.f("ix_alerts_resolved_at"), table_name="alerts")
    op.drop_index(op.f("ix_ingest_batches_created_at"), table_name="ingest_batches")
    for table in ("readings", "readings_hourly"):
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_mirror_{event} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_mirror_{event}()")
        op.execute(f"DROP TABLE IF EXISTS {table}_next")
    partitioned = (
        op.get_bind()
        .execute(
            sa.text("SELECT relkind = 'p' FROM pg_class WHERE oid = CAST('readings' AS regclass)")
        )
        .scalar_one()
    )
    if not partitioned:
        op.alter_column("readings", "owner_id", nullable=False)
        return
    metrics = [c[0] for c in _columns("readings") if c[1] == "real"]
    smallints = [c[0] for c in _columns("readings") if c[1] == "smallint"]
    key = ", ".join(_primary_key("readings"))
    op.execute("ALTER TABLE readings RENAME TO readings_partitioned")
    op.execute("ALTER INDEX pk_readings RENAME TO pk_readings_partitioned")
    defs = ", ".join(
        [
            "node_id uuid NOT NULL",
            "measured_at timestamptz NOT NULL",
            "owner_id uuid NOT NULL",
            "seq bigint",
        ]
        + [f"{m} real" for m in metrics]
        + [f"{s} smallint NOT NULL DEFAULT 0" for s in smallints]
    )
    op.execute(f"CREATE TABLE readings ({defs}, CONSTRAINT pk_readings PRIMARY KEY ({key}))")
    copied = ", ".join(["node_id", "measured_at", *metrics, *smallints])
    op.execute(
        f"INSERT INTO readings (owner_id, seq, {copied}) SELECT n.owner_id, "
        f"r.seq::bigint & 4294967295, {', '.join('r.' + c for c in copied.split(', '))} "
        "FROM readings_partitioned AS r JOIN nodes AS n ON n.id = r.node_id"
    )
    op.execute("DROP TABLE readings_partitioned")
    op.execute("ALTER TABLE readings_hourly RENAME TO readings_hourly_partitioned")
    op.execute("ALTER INDEX pk_readings_hourly RENAME TO pk_readings_hourly_partitioned")
    hourly_key = ", ".join(_primary_key("readings_hourly_partitioned"))
    op.execute(
        "CREATE TABLE readings_hourly (LIKE readings_hourly_partitioned INCLUDING DEFAULTS, "
        f"CONSTRAINT pk_readings_hourly PRIMARY KEY ({hourly_key}))"
    )
    op.execute("INSERT INTO readings_hourly SELECT * FROM readings_hourly_partitioned")
    op.execute("DROP TABLE readings_hourly_partitioned")
