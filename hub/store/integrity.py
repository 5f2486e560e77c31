"""Refuse a damaged hub database with one line that says what is wrong and how to restore it.

A truncated file, a garbage header or garbage pages ended in a raw traceback, and a 0-byte file
silently became a brand-new, empty hub (SQLite treats an empty file as a new database). The
hub now never starts fresh over a file that existed: the checks here run before any migration.
"""

from __future__ import annotations

import os
import sqlite3
import struct
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
_HEADER_BYTES = 100


class DatabaseDamaged(RuntimeError):
    """The hub's SQLite file exists but cannot be used; the message is one line for the log."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"the hub database {path} is damaged: {problem}. {restore_hint(path)}")


def backups_dir(database: Path) -> Path:
    """Where ``plantvita hub backup`` (and its timer) put the daily copies."""
    configured = os.environ.get("PLANTVITA_HUB_BACKUP_DIR")
    return Path(configured) if configured else database.parent / "backups"


def restore_hint(database: Path) -> str:
    """How to get the hub going again from its own backups."""
    return (
        f"Restore the newest good copy from {backups_dir(database)}: stop the hub, copy it over "
        f"{database}, delete {database.name}-wal and {database.name}-shm beside it, start the "
        "hub (deploy/raspberrypi/README.md, Restore)"
    )


def check_file(path: Path) -> None:
    """Cheap checks before SQLite opens the file: it exists with a header and all its pages.

    A missing file is fine (a new hub). Raises ``DatabaseDamaged`` otherwise.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        raise DatabaseDamaged(
            path, "the file is empty (0 bytes), so it holds none of the hub's data"
        )
    with path.open("rb") as handle:
        header = handle.read(_HEADER_BYTES)
    if not header.startswith(SQLITE_HEADER):
        raise DatabaseDamaged(
            path, "it does not start with an SQLite header (garbage or another file)"
        )
    if len(header) < _HEADER_BYTES:
        raise DatabaseDamaged(path, f"truncated to {size} bytes, shorter than its own header")
    (page_size,) = struct.unpack(">H", header[16:18])
    page_size = 65_536 if page_size == 1 else page_size
    (change_counter,) = struct.unpack(">I", header[24:28])
    (pages,) = struct.unpack(">I", header[28:32])
    (valid_for,) = struct.unpack(">I", header[92:96])
    if page_size < 512 or page_size & (page_size - 1):
        raise DatabaseDamaged(path, f"its header is corrupt (page size {page_size})")
    # The in-header page count is valid when written by the same change as the counter.
    if change_counter == valid_for and pages and size < pages * page_size:
        raise DatabaseDamaged(
            path, f"truncated: {size} bytes where its header records {pages * page_size}"
        )


def touch_tables(conn: sqlite3.Connection) -> None:
    """Read the schema and the first row of every table: garbage in the pages the hub reads
    first fails here, at start-up, as damage. (A full ``PRAGMA quick_check`` reads every page,
    too slow for each boot on an SD card; the nightly backup runs SQLite's integrity check.)"""
    tables = [
        str(row[0])
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not str(row[0]).startswith("sqlite_")
    ]
    for table in tables:
        quoted = table.replace('"', '""')
        conn.execute(f'SELECT * FROM "{quoted}" LIMIT 1').fetchall()  # noqa: S608 - schema names
