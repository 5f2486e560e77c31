"""Start-up: settings validation, the migration check, embedded mode, the CLI."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloud.app import create_app
from cloud.db.embedded import EmbeddedPostgres
from cloud.db.migrations import DatabaseNotMigratedError, alembic_config, head_revisions
from cloud.settings import DEFAULT_JWT_SECRET, CloudSettings, InsecureSettingsError
from plantvita.cli import app as cli
from tests.cloud.conftest import asgi_client, create_database, drop_database
from tests.lifespan import LifespanManager

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
            LifespanManager(app) as manager,
            asgi_client(manager.app) as client,
        ):
            assert (pgdata / "PG_VERSION").exists()
            assert (await client.get("/readyz")).json()["database"] == "ok"
            species = await client.get("/api/v1/species", params={"limit": 60})
            assert len(species.json()) == 60  # the seeded catalogue (more on the next page)
            assert 'rel="next"' in species.headers["link"]
        assert not (pgdata / "postmaster.pid").exists()  # the lifespan stopped its server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "cloud.example.org"])
def test_cli_refuses_a_public_address_with_development_secrets(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    for name in ("ENVIRONMENT", "JWT_SECRET", "STORAGE_SIGNING_KEY", "STORAGE_BACKEND"):
        monkeypatch.delenv(f"PLANTVITA_CLOUD_{name}", raising=False)
    monkeypatch.delenv("UVICORN_HOST", raising=False)
    result = CliRunner().invoke(cli, ["cloud", "run", "--host", host])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output  # one clear line, no traceback
    assert f"refusing to listen on {host}" in lines[0]
    assert "PLANTVITA_CLOUD_JWT_SECRET" in lines[0]
    # The same through the environment the image uses.
    monkeypatch.setenv("UVICORN_HOST", host)
    assert CliRunner().invoke(cli, ["cloud", "run"]).exit_code == 2


def test_cli_names_only_the_secret_still_at_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANTVITA_CLOUD_ENVIRONMENT", raising=False)
    monkeypatch.setenv("PLANTVITA_CLOUD_JWT_SECRET", "z" * 40)
    monkeypatch.delenv("PLANTVITA_CLOUD_STORAGE_SIGNING_KEY", raising=False)
    monkeypatch.setenv("PLANTVITA_CLOUD_STORAGE_BACKEND", "local")
    result = CliRunner().invoke(cli, ["cloud", "run", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "PLANTVITA_CLOUD_STORAGE_SIGNING_KEY" in result.output
    assert "JWT_SECRET" not in result.output


def test_loopback_addresses_are_recognised() -> None:
    from cloud.cli import is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.org"]))


def test_development_secrets_are_announced_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_app(CloudSettings(log_level="WARNING", log_json=True))
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    (warning,) = [event for event in events if event["event"] == "development_secrets_in_use"]
    assert warning["level"] == "warning"
    assert "PLANTVITA_CLOUD_JWT_SECRET" in warning["settings"]
    # Real secrets: no warning.
    create_app(CloudSettings(jwt_secret="q" * 40, storage_signing_key="r" * 40, log_json=True))
    assert "development_secrets_in_use" not in capsys.readouterr().out
