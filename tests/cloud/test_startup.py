"""Start-up: settings validation, the migration check, embedded mode, the CLI."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from typer.testing import CliRunner

from cloud.app import create_app
from cloud.db.embedded import EmbeddedPostgres
from cloud.db.migrations import DatabaseNotMigratedError, alembic_config, head_revisions
from cloud.settings import DEFAULT_JWT_SECRET, CloudSettings, InsecureSettingsError
from plantvita.cli import app as cli
from tests.cloud.conftest import asgi_client, create_database, drop_database

FAST = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "log_level": "WARNING"}


def test_production_refuses_missing_default_or_short_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANTVITA_CLOUD_ENVIRONMENT", "production")
    with pytest.raises(InsecureSettingsError, match="JWT_SECRET"):
        CloudSettings()
    with pytest.raises(InsecureSettingsError, match="JWT_SECRET"):
        CloudSettings(jwt_secret=DEFAULT_JWT_SECRET)
    with pytest.raises(InsecureSettingsError, match="32 characters"):
        CloudSettings(jwt_secret="short")
    production = CloudSettings(jwt_secret="x" * 40, storage_signing_key="y" * 40)
    assert production.environment.value == "production"
    monkeypatch.setenv("PLANTVITA_CLOUD_ENVIRONMENT", "development")
    assert CloudSettings().jwt_secret == DEFAULT_JWT_SECRET


def test_plain_database_url_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANTVITA_CLOUD_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.example/plantvita")
    assert CloudSettings().database_url == "postgresql://db.example/plantvita"


def test_cli_refuses_to_run_with_default_secret_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLANTVITA_CLOUD_ENVIRONMENT", "production")
    result = CliRunner().invoke(cli, ["cloud", "run"])
    assert result.exit_code == 2
    assert "JWT_SECRET" in result.output


def test_cli_refuses_several_workers_on_embedded_postgres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PLANTVITA_CLOUD_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["cloud", "run", "--workers", "2"])
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.output


async def test_unmigrated_database_stops_start_up_with_what_to_run(
    pg_server: EmbeddedPostgres,
) -> None:
    name = create_database(pg_server, None)
    try:
        app = create_app(CloudSettings(database_url=pg_server.uri(name), **FAST))
        with pytest.raises(DatabaseNotMigratedError, match="plantvita cloud migrate"):
            async with LifespanManager(app):
                pass
        # The CLI applies the migrations to that server; then the app starts.
        result = CliRunner().invoke(
            cli, ["cloud", "migrate"], env={"PLANTVITA_CLOUD_DATABASE_URL": pg_server.uri(name)}
        )
        assert result.exit_code == 0, result.output
        assert "at head" in result.output
        async with LifespanManager(app) as manager, asgi_client(manager.app) as client:
            assert (await client.get("/readyz")).status_code == 200
    finally:
        drop_database(pg_server, name)


async def test_database_behind_head_is_refused(pg_server: EmbeddedPostgres) -> None:
    from alembic import command

    name = create_database(pg_server, None)
    try:
        command.upgrade(alembic_config(pg_server.uri(name)), "0001")
        app = create_app(CloudSettings(database_url=pg_server.uri(name), **FAST))
        with pytest.raises(DatabaseNotMigratedError, match="0001") as raised:
            async with LifespanManager(app):
                pass
        assert sorted(head_revisions())[0] in str(raised.value)
    finally:
        drop_database(pg_server, name)


async def test_embedded_mode_starts_postgres_in_the_data_dir_and_migrates() -> None:
    root = Path(tempfile.mkdtemp(prefix="plantvita-embedded-"))
    pgdata = root / "pgdata"
    try:
        app = create_app(CloudSettings(database_url=None, pgdata_dir=pgdata, **FAST))
        async with (
            LifespanManager(app, startup_timeout=60) as manager,
            asgi_client(manager.app) as client,
        ):
            assert (pgdata / "PG_VERSION").exists()
            assert (await client.get("/readyz")).json()["database"] == "ok"
            species = await client.get("/api/v1/species", params={"limit": 1})
            assert species.json()["total"] >= 60
        assert not (pgdata / "postmaster.pid").exists()  # the lifespan stopped its server
    finally:
        shutil.rmtree(root, ignore_errors=True)
