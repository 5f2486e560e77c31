"""``plantvita hub …`` commands: serve, set-password, link, sync-now, export, restore."""

from __future__ import annotations

import asyncio
import getpass
import os
import time

import typer

from hub.settings import HubSettings


def settings_or_exit() -> HubSettings:
    """The hub's settings, or exit 2 with one line naming the variable to fix."""
    from hub.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _check_port(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            typer.echo(
                f"error: PLANTVITA_HUB_PORT: cannot listen on {host}:{port}: {exc.strerror or exc}",
                err=True,
            )
            raise typer.Exit(2) from None


def serve(
    emulate: int = typer.Option(
        0, "--emulate", min=0, max=500, help="Listen to N emulated nodes instead of the adapter."
    ),
    speed: float = typer.Option(60.0, help="With --emulate: garden seconds per real second."),
) -> None:
    """Run the hub's API, scheduler, sync engine and BLE gateway."""
    settings = settings_or_exit()
    _check_port(settings.host, settings.port)
    import uvicorn

    from hub.app import create_app
    from hub.gateways import emulated_gateway_factory, production_gateway
    from hub.net import uvicorn_options

    _database_usable(settings)
    factory = emulated_gateway_factory(emulate, speed=speed) if emulate else production_gateway
    app = create_app(settings, gateway_factory=factory)
    uvicorn.run(app, **uvicorn_options(settings))


def _database_usable(settings: HubSettings) -> None:
    """Migrate before the server starts: a damaged database stops the hub with one line (what is
    wrong, how to restore from the backups), not a traceback from inside the server's start-up,
    and an empty file is never turned into a brand-new hub."""
    from hub.store.integrity import DatabaseDamaged
    from hub.store.migrations import migrate

    try:
        migrate(settings.database_path)
    except DatabaseDamaged as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def set_password(
    password: str | None = typer.Option(
        None, help="the new password (prompted when omitted; or PLANTVITA_HUB_ADMIN_PASSWORD)"
    ),
) -> None:
    """Set the local admin password that protects changes made through the API."""
    from hub.auth import service
    from hub.hub_store import open_store

    value = password or os.environ.get("PLANTVITA_HUB_ADMIN_PASSWORD")
    if not value:
        value = getpass.getpass("New admin password: ")
        if getpass.getpass("Again: ") != value:
            raise typer.BadParameter("the passwords differ")

    async def run() -> None:
        async with open_store(settings_or_exit()) as store:
            await service.set_password(store, value)

    try:
        asyncio.run(run())
    except Exception as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("admin password set")


def link(cloud_url: str | None = typer.Option(None, help="the cloud's base URL")) -> None:
    """Link this hub to a cloud account: shows a code to approve, then waits for approval."""
    import httpx

    from hub.hub_store import open_store
    from hub.sync.client import CloudClient
    from hub.sync.link import LinkManager

    async def run() -> None:
        settings = settings_or_exit()
        async with open_store(settings) as store, httpx.AsyncClient(timeout=30) as http:
            manager = LinkManager(store, lambda url, token: CloudClient(http, url, token))
            pending = await manager.start(cloud_url)
            typer.echo(f"Go to {pending.verification_uri} and enter the code: {pending.user_code}")
            if pending.verification_uri_complete:
                typer.echo(f"(or open {pending.verification_uri_complete})")
            while time.time() < pending.expires_at:
                await asyncio.sleep(pending.interval)
                if await manager.poll():
                    typer.echo("linked")
                    return
            raise typer.Exit(1)

    asyncio.run(run())


def sync_now(
    password: str | None = typer.Option(None, envvar="PLANTVITA_HUB_ADMIN_PASSWORD"),
) -> None:
    """Sync now: through the running hub's API when it is up, else in this process."""
    import httpx

    settings = settings_or_exit()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    try:
        response = httpx.post(
            f"http://{host}:{settings.port}/api/v1/sync/now",
            auth=("admin", password or ""),
            timeout=3600,
        )
    except httpx.ConnectError:
        response = None
    if response is not None:
        typer.echo(response.text)
        raise typer.Exit(0 if response.is_success else 1)

    async def run() -> None:
        from hub.hub_store import open_store
        from hub.sync.client import CloudClient
        from hub.sync.service import SyncEngine

        async with open_store(settings) as store, httpx.AsyncClient(timeout=60) as http:
            engine = SyncEngine(store, settings, lambda url, token: CloudClient(http, url, token))
            report = await engine.run(force=True)
            typer.echo(f"sent={report.sent} rejected={report.rejected} error={report.error}")
            if report.error or report.skipped:
                typer.echo(report.skipped or "", err=True)
                raise typer.Exit(1)

    asyncio.run(run())
