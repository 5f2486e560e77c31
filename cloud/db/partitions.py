"""Monthly range partitions of the raw readings and the hourly rollups: creation ahead,
retention a partition at a time, compaction of closed months, and the online conversion of
an unpartitioned database.

Every statement here is DDL run on a connection of its own in autocommit (``DETACH …
CONCURRENTLY`` and ``REINDEX … CONCURRENTLY`` refuse a transaction block), under a short
``lock_timeout``: a lock that cannot be had at once is given up and tried at the next run
instead of queueing every reader and writer of the table behind it.

Online conversion (``finish_conversion``): migration 0310 leaves a database that already held
readings with the partitioned tables beside the old ones (``readings_next``,
``readings_hourly_next``) and statement triggers on the old ones that mirror every insert,
update and delete into them. The copy here walks each old table in primary-key order, a batch
per transaction (rows locked ``FOR KEY SHARE`` while copied, so a concurrent delete cannot be
undone by the copy; inserts go on unhindered), then swaps the tables in one short transaction.
Ingest keeps writing the whole time; the mirror and ``ON CONFLICT`` make the copy idempotent,
so an interrupted conversion is simply run again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import psycopg
import structlog
from psycopg import sql

_log = structlog.get_logger("cloud.db.partitions")

DEFAULT_RAW_RETENTION_DAYS: Final = 400
DEFAULT_HOURLY_RETENTION_DAYS: Final = 5 * 366
DEFAULT_PARTITIONS_AHEAD: Final = 2
SHADOW_SUFFIX: Final = "_next"
LOCK_TIMEOUT: Final = "3s"
COPY_BATCH: Final = 20_000
# Marks a closed month whose indexes were rebuilt (``compact_closed``).
COMPACTED: Final = "plantvita: compacted"


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    """A table partitioned by month on ``column``; its partitions fill their pages up to
    ``fillfactor`` percent on insert."""

    name: str
    column: str
    fillfactor: int = 100


# Every batch updates each node's row of the current hour: room left on its page keeps the
# update HOT (no new primary-key entry, and a same-page update logs only the changed bytes).
HOURLY_FILLFACTOR: Final = 70


def month_start(day: date | datetime) -> date:
    """The first day of the month of ``day``."""
    return date(day.year, day.month, 1)


def next_month(month: date) -> date:
    """The first day of the month after ``month``."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months(first: date, last: date) -> Iterator[date]:
    """Every month from ``first``'s to ``last``'s, both included."""
    month = month_start(first)
    while month <= last:
        yield month
        month = next_month(month)


def partition_name(table: str, month: date) -> str:
    """``readings_202612``: the partition of ``table`` holding ``month``."""
    return f"{table}_{month.year:04d}{month.month:02d}"


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET timezone = 'UTC'")
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
    return conn


# Held for a whole maintenance run, on its session (released when the connection closes):
# two runs creating the same month's partition at once would collide in the catalogue.
MAINTENANCE_LOCK_KEY = "plantvita:partition-maintenance"


def _take_maintenance_lock(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (MAINTENANCE_LOCK_KEY,)
    ).fetchone()
    return bool(row and row[0])


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def _is_partitioned(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", (name,)
    ).fetchone()
    return bool(row and row[0])


def existing_months(conn: psycopg.Connection[Any], parent: str) -> list[date]:
    """The months ``parent`` has a partition for, oldest first (by the partitions' names)."""
    rows = conn.execute(
        """SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
           WHERE i.inhparent = to_regclass(%s)""",
        (parent,),
    ).fetchall()
    pattern = re.compile(r"_(\d{4})(\d{2})$")
    found = [pattern.search(row[0]) for row in rows]
    return sorted(date(int(m[1]), int(m[2]), 1) for m in found if m)


def create_partition(
    conn: psycopg.Connection[Any], parent: str, month: date, *, name_table: str | None = None
) -> bool:
    """Add ``parent``'s partition for ``month`` unless it is there; True when created.

    Created on its own and then attached: ``ATTACH PARTITION`` locks the parent only against
    other DDL (SHARE UPDATE EXCLUSIVE), where ``CREATE TABLE … PARTITION OF`` would block
    every read and insert for the moment it takes. The empty table's check is instant.
    """
    name = partition_name(name_table or parent, month)
    if _exists(conn, name):
        return False
    start, end = _utc(month), _utc(next_month(month))
    fillfactor = next((t.fillfactor for t in tables() if t.name == (name_table or parent)), 100)
    with conn.transaction():
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                "WITH (autovacuum_vacuum_insert_scale_factor = 0.05, fillfactor = {})"
            ).format(sql.Identifier(name), sql.Identifier(parent), sql.Literal(fillfactor))
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(parent), sql.Identifier(name), sql.Literal(start), sql.Literal(end)
            )
        )
    return True


def ensure_partitions(
    conn: psycopg.Connection[Any],
    parent: str,
    first: date,
    last: date,
    *,
    name_table: str | None = None,
) -> list[str]:
    """Create ``parent``'s missing partitions for every month from ``first`` to ``last``."""
    created = []
    for month in months(first, last):
        if create_partition(conn, parent, month, name_table=name_table):
            created.append(partition_name(name_table or parent, month))
    return created


def drop_expired(conn: psycopg.Connection[Any], parent: str, cutoff: datetime) -> list[str]:
    """Detach and drop every partition of ``parent`` holding only rows before ``cutoff``.

    A whole partition at a time: no DELETE, no scan, no dead rows left for vacuum. ``DETACH
    … CONCURRENTLY`` lets reads and inserts into the other partitions go on meanwhile.
    """
    dropped = []
    for month in existing_months(conn, parent):
        if _utc(next_month(month)) > cutoff:
            break
        name = partition_name(parent, month)
        conn.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {} CONCURRENTLY").format(
                sql.Identifier(parent), sql.Identifier(name)
            )
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        dropped.append(name)
    return dropped


def compact_closed(conn: psycopg.Connection[Any], parent: str, now: datetime) -> list[str]:
    """Rebuild the indexes of months that ended more than a day ago, once each, and again
    when a month has grown by more than a tenth since (rows copied in by the online
    conversion, a bulk load, many late backfills).

    In arrival order every node's key range grows at its own end, so its index pages split
    in half and stay half full; a closed month's rebuilt index is packed (90 %), which takes
    the primary key from about 85 to about 48 bytes per reading. ``REINDEX CONCURRENTLY``
    keeps the month readable and writable (late backfills) while it runs. The table's size
    at the rebuild is kept in its comment (``plantvita: compacted <bytes>``).
    """
    compacted = []
    for month in existing_months(conn, parent):
        if _utc(next_month(month)) > now - timedelta(days=1):
            break
        name = partition_name(parent, month)
        row = conn.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class'), pg_relation_size(%s)",
            (name, name),
        ).fetchone()
        comment, size = (row[0], int(row[1])) if row else (None, 0)
        if comment and comment.startswith(COMPACTED):
            recorded = int(comment.removeprefix(COMPACTED).strip() or 0)
            if size <= recorded * 1.1 + 8192:
                continue
        conn.execute(sql.SQL("REINDEX TABLE CONCURRENTLY {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(
                sql.Identifier(name), sql.Literal(f"{COMPACTED} {size}")
            )
        )
        compacted.append(name)
    return compacted


# --- the tables --------------------------------------------------------------------------------

# u32 sequence numbers are stored in a signed int4 (two's complement: 2**31 and up read
# negative); ``SEQ_READ`` gives the number back.
SEQ_STORE: Final = "seq::bigint::bit(32)::integer"
SEQ_READ: Final = "(seq::bigint & 4294967295)"


def tables() -> tuple[PartitionedTable, ...]:
    """The partitioned tables, raw readings first."""
    return (
        PartitionedTable("readings", "measured_at"),
        PartitionedTable("readings_hourly", "bucket", HOURLY_FILLFACTOR),
    )


def table_columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """The columns of ``table`` in their order."""
    rows = conn.execute(
        """SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s)
           AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
        (table,),
    ).fetchall()
    return [row[0] for row in rows]


def primary_key(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """The columns of ``table``'s primary key, in index order."""
    rows = conn.execute(
        """SELECT a.attname FROM pg_constraint AS c
           CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
           JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
           WHERE c.conrelid = to_regclass(%s) AND c.contype = 'p' ORDER BY k.position""",
        (table,),
    ).fetchall()
    return [row[0] for row in rows]


def copy_expression(column: str) -> str:
    """How a column of a partitioned table is computed from the old table's row."""
    return SEQ_STORE if column == "seq" else column


# --- maintenance -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each resolution is kept, and how far ahead partitions are made."""

    raw_days: int = DEFAULT_RAW_RETENTION_DAYS
    hourly_days: int = DEFAULT_HOURLY_RETENTION_DAYS
    ahead_months: int = DEFAULT_PARTITIONS_AHEAD

    def cutoff(self, table: str, now: datetime) -> datetime:
        """The oldest time ``table`` keeps at ``now``."""
        days = self.raw_days if table == "readings" else self.hourly_days
        return now - timedelta(days=days)


@dataclass(slots=True)
class MaintenanceReport:
    """What one maintenance run did."""

    created: list[str]
    dropped: list[str]
    compacted: list[str]
    skipped: list[str]  # steps given up on a lock timeout (done at the next run)


def maintain(url: str, policy: RetentionPolicy, now: datetime | None = None) -> MaintenanceReport:
    """Create the partitions the retention window and the months ahead need, drop the expired
    ones and compact closed months. Safe to run at any time and from several workers: one run
    at a time holds the maintenance lock, and a run that finds it taken does nothing."""
    now = now or datetime.now(UTC)
    report = MaintenanceReport([], [], [], [])
    with _connect(url) as conn:
        if not _take_maintenance_lock(conn):
            report.skipped.append("all: another maintenance run is in progress")
            _log.info("partition_maintenance_busy")
            return report
        for table in tables():
            if not _is_partitioned(conn, table.name):
                report.skipped.append(f"{table.name}: not partitioned yet (conversion running)")
                continue
            last = month_start(now + timedelta(days=31 * policy.ahead_months))
            cutoff = policy.cutoff(table.name, now)
            for step, into in (
                ("create", report.created),
                ("drop", report.dropped),
                ("compact", report.compacted),
            ):
                try:
                    if step == "create":
                        into += ensure_partitions(conn, table.name, month_start(cutoff), last)
                    elif step == "drop":
                        into += drop_expired(conn, table.name, cutoff)
                    else:
                        into += compact_closed(conn, table.name, now)
                except psycopg.errors.LockNotAvailable:
                    report.skipped.append(f"{table.name}: {step} (lock timeout)")
    _log.info(
        "partition_maintenance",
        created=report.created,
        dropped=report.dropped,
        compacted=report.compacted,
        skipped=report.skipped,
    )
    return report


# --- online conversion -------------------------------------------------------------------------


def conversion_pending(url: str) -> bool:
    """Whether migration 0310 left partitioned tables to fill (``finish_conversion``)."""
    with _connect(url) as conn:
        return any(_exists(conn, t.name + SHADOW_SUFFIX) for t in tables())


@dataclass(slots=True)
class ConversionReport:
    """Rows copied per table, batches, and how long the final swap held its locks."""

    copied: dict[str, int]
    batches: int
    swap_ms: float


def _copy_batch(
    conn: psycopg.Connection[Any],
    table: PartitionedTable,
    after: tuple[Any, ...] | None,
    floor: datetime,
    batch: int,
    columns: list[str],
    key_columns: list[str],
) -> tuple[tuple[Any, ...] | None, int]:
    """Copy the next ``batch`` old rows after key ``after``; the last key copied and how many
    rows went in (rows before ``floor``, the oldest partition, are left behind)."""
    key = sql.SQL(", ").join(sql.Identifier(c) for c in key_columns)
    seek = (
        sql.SQL("WHERE ({}) > ({})").format(
            key, sql.SQL(", ").join(sql.Placeholder() for _ in key_columns)
        )
        if after is not None
        else sql.SQL("")
    )
    with conn.transaction():
        rows = conn.execute(
            sql.SQL("SELECT {} FROM {} {} ORDER BY {} OFFSET %s LIMIT 1").format(
                key, sql.Identifier(table.name), seek, key
            ),
            (*(after or ()), batch - 1),
        ).fetchone()
        upper = (
            sql.SQL("AND ({}) <= ({})").format(
                key, sql.SQL(", ").join(sql.Placeholder() for _ in key_columns)
            )
            if rows is not None
            else sql.SQL("")
        )
        where = seek if after is not None else sql.SQL("WHERE true")
        names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
        exprs = sql.SQL(", ").join(sql.SQL(copy_expression(name)) for name in columns)
        cur = conn.execute(
            sql.SQL(
                "INSERT INTO {} ({}) SELECT {} FROM (SELECT * FROM {} {} {} AND {} >= %s "
                "FOR KEY SHARE) AS old ON CONFLICT DO NOTHING"
            ).format(
                sql.Identifier(table.name + SHADOW_SUFFIX),
                names,
                exprs,
                sql.Identifier(table.name),
                where,
                upper,
                sql.Identifier(table.column),
            ),
            (*(after or ()), *(rows or ()), floor),
        )
        return rows, cur.rowcount


def finish_conversion(
    url: str,
    policy: RetentionPolicy | None = None,
    *,
    batch: int = COPY_BATCH,
    pause_s: float = 0.0,
) -> ConversionReport:
    """Copy the old tables into the partitioned ones batch by batch while ingest goes on,
    then swap them. Rows older than the retention window are not copied (retention would
    drop them anyway; their rollups stay). Nothing to do on a converted database."""
    policy = policy or RetentionPolicy()
    now = datetime.now(UTC)
    report = ConversionReport({}, 0, 0.0)
    with _connect(url) as conn:
        pending = [t for t in tables() if _exists(conn, t.name + SHADOW_SUFFIX)]
        if not pending:
            return report
        conn.execute("SET lock_timeout = 0")  # the copy waits its turn; it never holds long
        for table in pending:
            shadow = table.name + SHADOW_SUFFIX
            first = month_start(policy.cutoff(table.name, now))
            ensure_partitions(
                conn,
                shadow,
                first,
                month_start(now + timedelta(days=31 * policy.ahead_months)),
                name_table=table.name,
            )
            floor = _utc(existing_months(conn, shadow)[0])
            columns = table_columns(conn, shadow)
            key_columns = primary_key(conn, shadow)
            after: tuple[Any, ...] | None = None
            copied = 0
            while True:
                last, count = _copy_batch(conn, table, after, floor, batch, columns, key_columns)
                copied += count
                report.batches += 1
                if last is None:
                    break
                after = last
                if pause_s:
                    time.sleep(pause_s)
            report.copied[table.name] = copied
            _log.info("partition_copy_done", table=table.name, copied=copied)
        started = time.perf_counter()
        with conn.transaction():
            for table in pending:  # always in this order: readings, then the hourly rollup
                conn.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                        sql.Identifier(table.name)
                    )
                )
            for table in pending:
                _swap(conn, table)
        report.swap_ms = (time.perf_counter() - started) * 1000
    _log.info("partition_conversion_done", copied=report.copied, swap_ms=report.swap_ms)
    return report


def _swap(conn: psycopg.Connection[Any], table: PartitionedTable) -> None:
    """Replace the old table by its partitioned copy (inside the caller's transaction)."""
    name, shadow = table.name, table.name + SHADOW_SUFFIX
    for event in ("insert", "update", "delete"):
        conn.execute(
            sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                sql.Identifier(f"{name}_mirror_{event}"), sql.Identifier(name)
            )
        )
        conn.execute(
            sql.SQL("DROP FUNCTION IF EXISTS {}()").format(sql.Identifier(f"{name}_mirror_{event}"))
        )
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(shadow), sql.Identifier(name))
    )
    for old, new in ((f"pk_{shadow}", f"pk_{name}"), (f"ix_{shadow}_brin", f"ix_{name}_brin")):
        if _exists(conn, old):
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(old), sql.Identifier(new)
                )
            )
