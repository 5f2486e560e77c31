"""``plantvita hub …`` commands (the ``plantvita`` command itself is ``plantvita.cli``).

Heavy imports stay inside the commands so ``--help`` and each command load only what they use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

hub_app = typer.Typer(
    help="The Raspberry Pi hub: BLE gateway, local store, web UI, sync.", no_args_is_help=True
)


def _register_hub_commands() -> None:
    from hub import commands

    hub_app.command()(commands.serve)
    hub_app.command("set-password")(commands.set_password)
    hub_app.command()(commands.link)
    hub_app.command("sync-now")(commands.sync_now)


_register_hub_commands()


@hub_app.command()
def emulate(
    nodes: int = typer.Option(5, "--nodes", "-n", min=1, max=500, help="Emulated nodes."),
    speed: float = typer.Option(60.0, help="Garden seconds per real second."),
    duration: float | None = typer.Option(None, help="Stop after this many real seconds."),
    data_dir: str | None = typer.Option(None, help="Hub data dir (default: a temp dir)."),
    passive: bool = typer.Option(False, help="Scan passively (no scan responses)."),
) -> None:
    """Run a garden of emulated nodes and a gateway storing them, printing the bindkeys."""
    from hub.cli_emulate import run_emulate

    raise typer.Exit(run_emulate(nodes, speed, duration, data_dir, passive))


@hub_app.command()
def backup(
    data_dir: Annotated[
        Path,
        typer.Option(envvar="PLANTVITA_HUB_DATA_DIR", help="The hub's data directory."),
    ] = Path("var/hub"),
    database: Annotated[
        Path | None,
        typer.Option(help="SQLite file to back up (default: DATA_DIR/hub.sqlite3)."),
    ] = None,
    dest: Annotated[
        Path | None,
        typer.Option(
            envvar="PLANTVITA_HUB_BACKUP_DIR", help="Backup directory (default: DATA_DIR/backups)."
        ),
    ] = None,
    keep: Annotated[
        int,
        typer.Option(envvar="PLANTVITA_HUB_BACKUP_KEEP", min=1, help="Daily copies to keep."),
    ] = 7,
) -> None:
    """Back up the hub's database and photos (the hub may keep running).

    Copies the database consistently (online), verifies it and rotates the daily copies.

    Brings the backup's photo mirror up to date: photos are named by content, copied once.
    """
    from hub.backup import BackupError, backup_database, backup_photos

    source = database or data_dir / "hub.sqlite3"
    target = dest or data_dir / "backups"
    try:
        result = backup_database(source, target, keep=keep)
        photos = backup_photos(data_dir / "images", target)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"backup written: {result.path} ({result.size_bytes} bytes)")
    typer.echo(f"photos: {photos.copied} new, {photos.total} in {target / 'images'}")
    for path in result.pruned:
        typer.echo(f"old backup removed: {path}")


@hub_app.command()
def restore(
    backup: Annotated[
        Path, typer.Argument(help="A daily copy (hub-YYYY-MM-DD.sqlite3) or a backup directory.")
    ],
    data_dir: Annotated[
        Path,
        typer.Option(envvar="PLANTVITA_HUB_DATA_DIR", help="The hub's data directory."),
    ] = Path("var/hub"),
) -> None:
    """Put a backup back (stop the hub first): the database, verified, and its photos.

    The database it replaces is kept beside it.
    """
    from hub.backup import BackupError
    from hub.backup import restore as restore_backup

    try:
        result = restore_backup(backup, data_dir)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restored: {result.database}")
    if result.previous is not None:
        typer.echo(f"the database it replaced: {result.previous}")
    typer.echo(f"photos restored: {result.photos_restored}")


@hub_app.command()
def export(
    out: Annotated[Path, typer.Option(help="Directory for the CSV files.")] = Path("export"),
    since: Annotated[
        str | None, typer.Option(help="Window start, ISO date or time (default: 30 days ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Window end (default: now).")] = None,
    data_dir: Annotated[
        Path,
        typer.Option(envvar="PLANTVITA_HUB_DATA_DIR", help="The hub's data directory."),
    ] = Path("var/hub"),
) -> None:
    """Export readings, alerts and image metrics of a window as CSV (the hub may keep running)."""
    from datetime import UTC, datetime, timedelta

    from rich.progress import Progress

    from hub.export import count_rows
    from hub.export import export as export_csv

    def when(text: str | None, default: datetime) -> datetime:
        if text is None:
            return default
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise typer.BadParameter(f"not an ISO date or time: {text!r}") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    end = when(until, datetime.now(UTC))
    start = when(since, end - timedelta(days=30))
    database = data_dir / "hub.sqlite3"
    try:
        total = count_rows(database, start, end)
    except (FileNotFoundError, OSError) as exc:
        typer.echo(f"export failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    with Progress(transient=True) as bar:
        task = bar.add_task("Exporting", total=total)
        result = export_csv(database, out, start, end, lambda n: bar.advance(task, n))
    for name, path in result.files.items():
        typer.echo(f"{path}: {result.rows[name]} rows")
