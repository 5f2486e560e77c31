"""hub.backup and ``plantvita hub backup`` against real SQLite databases in WAL mode."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.backup import BackupError, backup_database, backup_name, prune_backups
from plantvita.cli import app


def create_database(path: Path, rows: int = 2000) -> None:
    """A hub-like database: readings plus a ledger row that must always equal the reading count."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE readings (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
        db.execute("CREATE INDEX readings_payload ON readings (payload)")
        db.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY CHECK (id = 1), total INTEGER)")
        db.execute("INSERT INTO ledger VALUES (1, 0)")
        for seq in range(1, rows + 1):
            db.execute("INSERT INTO readings VALUES (?, randomblob(200))", (seq,))
        db.execute("UPDATE ledger SET total = ?", (rows,))
    db.close()


def write_one(db: sqlite3.Connection) -> None:
    """One hub transaction: a reading and the ledger move together or not at all."""
    with db:
        db.execute("INSERT INTO readings (payload) VALUES (randomblob(200))")
        db.execute("UPDATE ledger SET total = total + 1")


def counts(path: Path) -> tuple[int, int, int]:
    """(reading rows, ledger total, highest seq) of a database file."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT count(*), max(seq) FROM readings").fetchone()
        total = db.execute("SELECT total FROM ledger").fetchone()[0]
        return rows[0], total, rows[1]
    finally:
        db.close()


def test_copy_is_consistent_while_another_connection_writes(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite3"
    create_database(database)
    stop = threading.Event()
    started = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        db = sqlite3.connect(database, timeout=30)
        try:
            for written in range(1_000_000):
                if stop.is_set():
                    break
                write_one(db)
                if written == 50:
                    started.set()
        except BaseException as exc:
            errors.append(exc)
            started.set()
        finally:
            db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(30)
        results = [backup_database(database, tmp_path / "backups", keep=7) for _ in range(3)]
    finally:
        stop.set()
        thread.join(30)
    assert not errors
    for result in results:
        rows, total, top = counts(result.path)
        # A torn copy would show a ledger that disagrees with the rows, or a gap in the sequence.
        assert rows == total == top
        assert rows > 2000
    copy = sqlite3.connect(results[-1].path)
    try:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        copy.close()
    assert not list((tmp_path / "backups").glob(".*"))


def test_uncommitted_writes_are_not_in_the_copy(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite3"
    create_database(database, rows=100)
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO readings (payload) VALUES (x'00')")
        writer.execute("UPDATE ledger SET total = total + 1")
        # The writer holds its write lock: the backup must neither wait for it nor see its rows.
        during = backup_database(database, tmp_path / "b1")
        writer.execute("COMMIT")
    finally:
        writer.close()
    after = backup_database(database, tmp_path / "b2")
    assert counts(during.path) == (100, 100, 100)
    assert counts(after.path) == (101, 101, 101)


def test_rotation_keeps_the_newest_daily_copies(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite3"
    create_database(database, rows=10)
    backups = tmp_path / "backups"
    backups.mkdir()
    unrelated = backups / "notes.txt"
    unrelated.write_text("keep me")
    other_db = backups / "other-2020-01-01.sqlite3"
    other_db.write_bytes(b"")
    first = dt.date(2026, 3, 1)
    for offset in range(10):
        result = backup_database(database, backups, keep=3, today=first + dt.timedelta(days=offset))
    kept = sorted(p.name for p in backups.glob("hub-*.sqlite3"))
    assert kept == [backup_name(database, first + dt.timedelta(days=d)) for d in (7, 8, 9)]
    assert result.pruned == [backups / backup_name(database, first + dt.timedelta(days=6))]
    assert unrelated.read_text() == "keep me"
    assert other_db.exists()


def test_same_day_run_replaces_that_days_copy(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite3"
    create_database(database, rows=10)
    day = dt.date(2026, 5, 4)
    backup_database(database, tmp_path / "b", today=day)
    with sqlite3.connect(database) as db:
        write_one(db)
    db.close()
    result = backup_database(database, tmp_path / "b", today=day)
    assert list((tmp_path / "b").iterdir()) == [result.path]
    assert counts(result.path) == (11, 11, 11)


def test_corrupt_database_keeps_previous_copies(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite3"
    create_database(database, rows=3000)
    backups = tmp_path / "backups"
    good = backup_database(database, backups, today=dt.date(2026, 1, 1))
    page_size = 4096
    with database.open("r+b") as raw:
        # Scribble over pages in the middle of the file (B-tree pages of the table and its index).
        raw.seek(page_size * 40)
        raw.write(b"\xff" * page_size * 4)
    with pytest.raises(BackupError):
        backup_database(database, backups, today=dt.date(2026, 1, 2))
    assert sorted(backups.iterdir()) == [good.path]
    assert counts(good.path) == (3000, 3000, 3000)


def test_missing_database_is_an_error_not_an_empty_backup(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="not found"):
        backup_database(tmp_path / "absent.sqlite3", tmp_path / "backups")
    assert not (tmp_path / "absent.sqlite3").exists()
    with pytest.raises(ValueError, match="keep"):
        prune_backups(tmp_path, "hub", 0)


def test_cli_backs_up_the_data_dir(tmp_path: Path) -> None:
    create_database(tmp_path / "hub.sqlite3", rows=5)
    runner = CliRunner()
    env = {"PLANTVITA_HUB_DATA_DIR": str(tmp_path), "PLANTVITA_HUB_BACKUP_KEEP": "2"}
    result = runner.invoke(app, ["hub", "backup"], env=env)
    assert result.exit_code == 0, result.output
    (copy,) = (tmp_path / "backups").iterdir()
    assert counts(copy) == (5, 5, 5)
    failed = runner.invoke(app, ["hub", "backup", "--database", str(tmp_path / "nope.sqlite3")])
    assert failed.exit_code == 1
    assert "database not found" in failed.output
