"""The ``plantvita`` command: the ``hub`` and ``cloud`` command groups and ``demo``.

Heavy imports stay inside the commands so a Raspberry Pi with only ``plant-vita[hub]``
(or a cloud image with only ``[cloud]``) can run its own group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloud.cli import cloud_app

app = typer.Typer(
    help="Plant-Vita: BLE plant nodes, a Raspberry Pi hub and a cloud service.",
    no_args_is_help=True,
)
hub_app = typer.Typer(
    help="The Raspberry Pi hub: BLE gateway, local store, web UI, sync.", no_args_is_help=True
)
app.add_typer(hub_app, name="hub")
app.add_typer(cloud_app, name="cloud")


@app.command()
def demo() -> None:
    """Run every tier on embedded defaults on this machine until Ctrl-C."""
    from hub.demo import run_demo

    raise typer.Exit(run_demo())


def main() -> None:
    """Console-script entry point."""
    app()


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
