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
    from hub.ble.cli_emulate import run_emulate

    raise typer.Exit(run_emulate(nodes, speed, duration, data_dir, passive))


@hub_app.command()
def backup(
    data_dir: Annotated[
        Path,
        typer.Option(envvar="PLANTVITA_HUB_DATA_DIR", help="The hub's data directory."),
    ] = Path("var/hub"),
    database: Annotated[
        Path | None,
        typer.Option(help="SQLite file to back up [default: DATA_DIR/hub.sqlite3]."),
    ] = None,
    dest: Annotated[
        Path | None,
        typer.Option(
            envvar="PLANTVITA_HUB_BACKUP_DIR", help="Backup directory [default: DATA_DIR/backups]."
        ),
    ] = None,
    keep: Annotated[
        int,
        typer.Option(envvar="PLANTVITA_HUB_BACKUP_KEEP", min=1, help="Daily copies to keep."),
    ] = 7,
) -> None:
    """Copy the hub database consistently (online), verify it, and rotate the daily copies."""
    from hub.backup import BackupError, backup_database

    source = database or data_dir / "hub.sqlite3"
    try:
        result = backup_database(source, dest or data_dir / "backups", keep=keep)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"backup written: {result.path} ({result.size_bytes} bytes)")
    for path in result.pruned:
        typer.echo(f"old backup removed: {path}")
