"""Consistent online backups of the hub's SQLite database, with daily rotation.

``plantvita hub backup`` (run nightly by ``plantvita-backup.timer``) calls :func:`backup_database`:
SQLite's online backup API copies a consistent snapshot while the hub keeps writing, the copy is
checked with ``PRAGMA integrity_check`` and only then atomically renamed into place, and the oldest
daily copies beyond ``keep`` are removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BackupError",
    "BackupResult",
    "PhotoBackup",
    "RestoreResult",
    "backup_database",
    "backup_name",
    "backup_photos",
    "newest_backup",
    "prune_backups",
    "restore",
]

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2})\.sqlite3$")


class BackupError(RuntimeError):
    """The backup could not be made, or the copy failed its integrity check (no file was kept)."""


@dataclass(frozen=True)
class BackupResult:
    """What one backup run produced."""

    path: Path
    size_bytes: int
    pruned: list[Path] = field(default_factory=list)


def backup_name(database: Path, day: dt.date) -> str:
    """File name of the daily copy of ``database`` for ``day``: ``<stem>-YYYY-MM-DD.sqlite3``."""
    return f"{database.stem}-{day.isoformat()}.sqlite3"


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    """Flush a file (or a directory entry) to stable storage: SD cards lose unflushed renames."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_snapshot(database: Path, target: Path) -> None:
    """Copy a consistent snapshot of ``database`` into the new file ``target`` and verify it."""
    # mode=rw: never create an empty database when the path is wrong.
    source = sqlite3.connect(f"{database.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    try:
        destination = sqlite3.connect(target)
        try:
            # One step (pages=-1) is one read transaction, so one snapshot; under WAL it does not
            # block the hub's writer, while a stepped copy restarts after every write.
            source.backup(destination, pages=-1)
            # The copy inherits WAL mode; a self-contained single file is easier to restore.
            destination.execute("PRAGMA journal_mode=DELETE")
            rows = destination.execute("PRAGMA integrity_check").fetchall()
            if rows != [("ok",)]:
                problems = "; ".join(str(row[0]) for row in rows[:5])
                raise BackupError(f"integrity check of the backup copy failed: {problems}")
        finally:
            destination.close()
    finally:
        source.close()


def prune_backups(backup_dir: Path, stem: str, keep: int) -> list[Path]:
    """Delete the oldest daily copies of ``stem`` in ``backup_dir`` beyond the newest ``keep``."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    dated: list[tuple[str, Path]] = []
    for path in backup_dir.glob(f"{stem}-*.sqlite3"):
        match = _DATE_SUFFIX.search(path.name)
        if match and path.name == f"{stem}-{match.group(1)}.sqlite3":
            dated.append((match.group(1), path))
    dated.sort(reverse=True)
    pruned = [path for _, path in dated[keep:]]
    for path in pruned:
        path.unlink(missing_ok=True)
    return pruned


def backup_database(
    database: Path,
    backup_dir: Path,
    *,
    keep: int = 7,
    today: dt.date | None = None,
) -> BackupResult:
    """Back up ``database`` into ``backup_dir`` as today's copy and keep the newest ``keep`` copies.

    A second run on the same day replaces that day's copy. Raises :class:`BackupError` when the
    database is missing or the copy is not intact; the previous copies are then left untouched.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    if not database.is_file():
        raise BackupError(f"database not found: {database}")
    day = today or dt.datetime.now(dt.UTC).date()
    backup_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    final = backup_dir / backup_name(database, day)
    temporary = backup_dir / f".{final.name}.{os.getpid()}.tmp"
    for stale in backup_dir.glob(f".{database.stem}-*.tmp"):
        # Left behind by a run that was killed mid-copy.
        stale.unlink(missing_ok=True)
    try:
        _copy_snapshot(database, temporary)
        _fsync_path(temporary)
        os.replace(temporary, final)
        _fsync_path(backup_dir, directory=True)
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"backup of {database} failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    pruned = prune_backups(backup_dir, database.stem, keep)
    return BackupResult(path=final, size_bytes=final.stat().st_size, pruned=pruned)


# --- photos and restore --------------------------------------------------------------------

PHOTOS_DIR = "images"  # inside the backup directory: one mirror shared by the daily copies


@dataclass(frozen=True)
class PhotoBackup:
    """Photos copied into the backup's mirror this run, and how many it holds."""

    copied: int
    total: int


def _mirror(source: Path, target: Path) -> tuple[int, int]:
    """Copy every file under ``source`` that ``target`` lacks (photos are content-addressed:
    a name never changes content, so same name and size is the same photo)."""
    import shutil

    copied = total = 0
    if not source.is_dir():
        return 0, 0
    for path in source.rglob("*"):
        if not path.is_file() or path.name.startswith(".tmp-"):
            continue
        total += 1
        dest = target / path.relative_to(source)
        if dest.is_file() and dest.stat().st_size == path.stat().st_size:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(path, partial)
        os.replace(partial, dest)
        copied += 1
    return copied, total


def backup_photos(images_dir: Path, backup_dir: Path) -> PhotoBackup:
    """Bring the backup's photo mirror up to date (kept photos stay for the older copies)."""
    try:
        copied, total = _mirror(images_dir, backup_dir / PHOTOS_DIR)
    except OSError as exc:
        raise BackupError(f"backup of the photos in {images_dir} failed: {exc}") from exc
    return PhotoBackup(copied=copied, total=total)


@dataclass(frozen=True)
class RestoreResult:
    """What a restore put in place."""

    database: Path
    previous: Path | None  # where the database it replaced was moved
    photos_restored: int


def newest_backup(backup_dir: Path, stem: str = "hub") -> Path:
    """The newest daily copy in ``backup_dir``."""
    dated = sorted(
        (m.group(1), p)
        for p in backup_dir.glob(f"{stem}-*.sqlite3")
        if (m := _DATE_SUFFIX.search(p.name))
    )
    if not dated:
        raise BackupError(f"no backup of {stem}.sqlite3 in {backup_dir}")
    return dated[-1][1]


def restore(backup: Path, data_dir: Path, *, database_name: str = "hub.sqlite3") -> RestoreResult:
    """Put a backup copy back as the hub's database (the hub must be stopped) and bring back
    the photos it may name from the backup's mirror. The database it replaces is kept beside
    it (``hub.sqlite3.before-restore-<time>``), never deleted."""
    if backup.is_dir():
        backup = newest_backup(backup, Path(database_name).stem)
    if not backup.is_file():
        raise BackupError(f"backup not found: {backup}")
    check = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if check.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            raise BackupError(f"{backup} is damaged (integrity check failed): pick another copy")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup} is not a hub database: {exc}") from exc
    finally:
        check.close()
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / database_name
    previous = None
    if target.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        previous = target.with_name(f"{target.name}.before-restore-{stamp}")
        _copy_snapshot(target, previous)  # consistent even with a WAL beside it
    temporary = target.with_name(f".{target.name}.restore.tmp")
    _copy_snapshot(backup, temporary)
    _fsync_path(temporary)
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(temporary, target)
    _fsync_path(data_dir, directory=True)
    restored, _ = _mirror(backup.parent / PHOTOS_DIR, data_dir / "images")
    return RestoreResult(database=target, previous=previous, photos_restored=restored)
