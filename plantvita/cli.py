"""The ``plantvita`` command: the ``hub`` and ``cloud`` command groups and ``demo``.

Each group imports its tier's modules only inside its commands, so a Raspberry Pi with only
``plant-vita[hub]`` (or a cloud image with only ``[cloud]``) can run its own group.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cloud.cli import cloud_app
from hub.cli import hub_app

app = typer.Typer(
    help="Plant-Vita: BLE plant nodes, a Raspberry Pi hub and a cloud service.",
    no_args_is_help=True,
)
app.add_typer(hub_app, name="hub")
app.add_typer(cloud_app, name="cloud")


@app.command()
def demo(
    nodes: int = typer.Option(8, min=1, max=64, help="Emulated nodes in the garden."),
    cloud_port: int = typer.Option(8000, help="The cloud API's port on 127.0.0.1."),
    hub_port: int = typer.Option(8080, help="The hub's port on 127.0.0.1."),
    data_dir: str = typer.Option("var/demo", help="Where the demo keeps its data."),
    keep: bool = typer.Option(False, help="Keep the data of the previous run."),
) -> None:
    """Run every tier on embedded defaults on this machine until Ctrl-C."""
    from plantvita.demo import run_demo

    raise typer.Exit(
        run_demo(
            data_dir=Path(data_dir),
            nodes=nodes,
            cloud_port=cloud_port,
            hub_port=hub_port,
            keep=keep,
        )
    )


def main() -> None:
    """Console-script entry point."""
    app()
