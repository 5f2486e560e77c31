"""``plantvita cloud …`` commands."""

from __future__ import annotations

import typer

cloud_app = typer.Typer(
    help="The cloud service: REST API, database migrations, diagnosis workers.",
    no_args_is_help=True,
)
