"""A damaged hub database stops the hub with one line naming the problem and the restore (issue 17).

Truncated files, garbage headers and garbage pages ended in a raw traceback; a 0-byte database
silently became a brand-new, empty hub.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.store.integrity import DatabaseDamaged
from hub.store.migrations import migrate

pytestmark = pytest.mark.pi


def _good_database(path: Path) -> None:
    migrate(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, like a restored copy
    conn.execute("CREATE TABLE filler (x BLOB)")
    conn.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(2000),) for _ in range(200)])
    conn.commit()
    conn.close()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage_header(path: Path) -> None:
    _good_database(path)
    data = bytearray(path.read_bytes())
    data[:100] = os.urandom(100)
    path.write_bytes(bytes(data))


def _truncated(path: Path) -> None:
    _good_database(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _garbage_pages(path: Path) -> None:
    _good_database(path)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page : 4 * page] = os.urandom(3 * page)  # the schema's first tables
    path.write_bytes(bytes(data))


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (_empty, "empty (0 bytes)"),
    "garbage header": (_garbage_header, "SQLite header"),
    "truncated": (_truncated, "truncated"),
    "garbage pages": (_garbage_pages, "malformed"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_migrate_refuses_a_damaged_file_and_leaves_it_as_it_was(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "hub.sqlite3"
    damage, words = DAMAGE[kind]
    damage(path)
    before = path.read_bytes()
    with pytest.raises(DatabaseDamaged) as refused:
        migrate(path)
    message = str(refused.value)
    assert words in message
    assert str(tmp_path / "backups") in message
    assert "\n" not in message
    assert path.read_bytes() == before, "the damaged file must not be rewritten"


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_serve_stops_with_one_line_and_the_restore_procedure(tmp_path: Path, kind: str) -> None:
    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    path = data_dir / "hub.sqlite3"
    DAMAGE[kind][0](path)
    plantvita = shutil.which("plantvita", path=str(Path(sys.executable).parent))
    assert plantvita is not None
    done = subprocess.run(
        [plantvita, "hub", "serve"],
        env={
            **os.environ,
            "PLANTVITA_HUB_DATA_DIR": str(data_dir),
            "PLANTVITA_HUB_BLE_ENABLED": "false",
            "PLANTVITA_HUB_PORT": "1",  # never reached
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: the hub database {path} is damaged")
    assert "Restore the newest good copy from" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    if kind == "empty":
        assert path.stat().st_size == 0, "an empty file must never become a new hub"
