"""``plantvita hub backup`` with photos, ``hub restore``, ``hub export``, and bad settings that
stop the process with one line naming the variable (real hub store, real SQLite, real photos)."""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli import hub_app
from hub.hub_store import HubStore
from hub.settings import HubSettings
from hub.store.types import utcnow
from tests.hub.factories import create_readings
from tests.hub.images.test_images import create_jpeg

pytestmark = pytest.mark.pi

CHECKOUT = Path(__file__).resolve().parents[2]
MAC = "AA:BB:CC:DD:EE:51"
KEY = "00112233445566778899aabbccddeeff"


def store_of(client: httpx.AsyncClient) -> HubStore:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


async def seed(client: httpx.AsyncClient) -> str:
    """A node, a plant, a day of readings, an alert and a photo."""
    assert (await client.post("/api/v1/nodes", json={"mac": MAC, "bindkey": KEY})).is_success
    plant = (await client.post("/api/v1/plants", json={"name": "Basil", "node_mac": MAC})).json()
    start = utcnow() - timedelta(days=1)
    await store_of(client).store_readings(create_readings(MAC, 1440, start=start))
    from hub.alerts import service as alerts

    await store_of(client).write(
        lambda s: alerts.open_alert(
            s,
            alerts.AlertKind.STALE,
            "Basil: no data",
            utcnow(),
            node_mac=MAC,
            plant_id=plant["id"],
        )
    )
    photo = await client.post(
        "/api/v1/images",
        files={"file": ("p.jpg", create_jpeg((40, 160, 50)), "image/jpeg")},
        data={"plant_id": plant["id"]},
    )
    assert photo.status_code == 201, photo.text
    return str(plant["id"])


async def test_export_backup_and_restore_round_trip(
    admin_client: httpx.AsyncClient, hub_settings: HubSettings, tmp_path: Path
) -> None:
    await seed(admin_client)
    data_dir = hub_settings.data_dir
    runner = CliRunner()

    exported = runner.invoke(
        hub_app, ["export", "--data-dir", str(data_dir), "--out", str(tmp_path / "csv")]
    )
    assert exported.exit_code == 0, exported.output
    with (tmp_path / "csv" / "readings.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1440
    assert rows[0]["plant"] == "Basil"
    assert rows[0]["node_mac"] == MAC
    assert float(rows[0]["moisture"]) == 30.0
    with (tmp_path / "csv" / "alerts.csv").open() as handle:
        assert [r["kind"] for r in csv.DictReader(handle)] == ["stale"]
    with (tmp_path / "csv" / "image_metrics.csv").open() as handle:
        (image,) = list(csv.DictReader(handle))
    assert image["plant"] == "Basil"
    assert 0 < float(image["canopy_cover"]) <= 1
    # A window without data writes headers only.
    old = runner.invoke(
        hub_app,
        [
            "export",
            "--data-dir",
            str(data_dir),
            "--out",
            str(tmp_path / "old"),
            "--since",
            "2020-01-01",
            "--until",
            "2020-02-01",
        ],
    )
    assert old.exit_code == 0, old.output
    assert "readings.csv: 0 rows" in old.output

    backed = runner.invoke(hub_app, ["backup", "--data-dir", str(data_dir)])
    assert backed.exit_code == 0, backed.output
    assert "photos: 2 new, 2 in" in backed.output  # the original and its thumbnail
    again = runner.invoke(hub_app, ["backup", "--data-dir", str(data_dir)])
    assert "photos: 0 new, 2 in" in again.output  # content-addressed: copied once

    # Disaster: the card loses the database and the photos.
    await admin_client.aclose()
    photos = sorted(p.name for p in (data_dir / "images").rglob("*") if p.is_file())
    for path in (data_dir / "images").rglob("*"):
        if path.is_file():
            path.unlink()
    target = tmp_path / "restored"
    restored = runner.invoke(
        hub_app, ["restore", str(data_dir / "backups"), "--data-dir", str(target)]
    )
    assert restored.exit_code == 0, restored.output
    assert "photos restored: 2" in restored.output
    assert sorted(p.name for p in (target / "images").rglob("*") if p.is_file()) == photos
    from hub.hub_store import open_store

    settings = hub_settings.model_copy(update={"data_dir": target})
    async with open_store(settings) as store, store.read() as session:
        from sqlalchemy import text

        count = (await session.execute(text("select count(*) from readings"))).scalar_one()
        assert count == 1440
    # Restoring over an existing database keeps the one it replaces.
    over = runner.invoke(hub_app, ["restore", str(data_dir / "backups"), "--data-dir", str(target)])
    assert over.exit_code == 0, over.output
    assert "the database it replaced:" in over.output
    assert list(target.glob("hub.sqlite3.before-restore-*"))


async def test_exported_alerts_read_as_the_ui_shows_them(
    admin_client: httpx.AsyncClient, hub_settings: HubSettings, tmp_path: Path
) -> None:
    plant_id = await seed(admin_client)
    from hub.alerts import service as alerts
    from shared.metrics import Metric

    await store_of(admin_client).write(
        lambda s: alerts.open_alert(
            s,
            alerts.AlertKind.HIGH,
            "",
            utcnow(),
            node_mac=MAC,
            plant_id=plant_id,
            metric=Metric.TEMPERATURE,
            value=31.0,
            bound=30.0,
            subject="Basil",
        )
    )
    renamed = await admin_client.patch(f"/api/v1/plants/{plant_id}", json={"name": "Sweet basil"})
    assert renamed.status_code == 200, renamed.text
    unit = await admin_client.patch("/api/v1/web/settings", json={"temperature_unit": "F"})
    assert unit.status_code == 200, unit.text
    out = tmp_path / "csv"
    exported = CliRunner().invoke(
        hub_app, ["export", "--data-dir", str(hub_settings.data_dir), "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    with (out / "alerts.csv").open() as handle:
        rows = {r["kind"]: r for r in csv.DictReader(handle)}
    # The plant's current name and the gardener's unit, not the text stored at opening.
    assert rows["high"]["plant"] == "Sweet basil"
    assert rows["high"]["message"] == "Sweet basil: temperature 87.8 °F above 86.0 °F"
    assert rows["stale"]["message"] == "Basil: no data"  # no value kept: the stored text


def test_restore_refuses_a_damaged_copy(tmp_path: Path) -> None:
    bad = tmp_path / "hub-2026-01-01.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    result = CliRunner().invoke(hub_app, ["restore", str(bad), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert "not a hub database" in result.output or "damaged" in result.output
    assert not (tmp_path / "d" / "hub.sqlite3").exists()


def _serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from hub.cli import hub_app; hub_app()", "serve"],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(CHECKOUT),  # this checkout, not whichever one is installed
            "PLANTVITA_HUB_DATA_DIR": str(tmp_path / "d"),
            **env,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PLANTVITA_HUB_PORT": "99999"}, "PLANTVITA_HUB_PORT"),
        ({"PLANTVITA_HUB_PORT": "eighty"}, "PLANTVITA_HUB_PORT"),
        ({"PLANTVITA_HUB_ENVIRONMENT": "production"}, "PLANTVITA_HUB_SESSION_SECRET"),
        ({"PLANTVITA_HUB_DATA_DIR": "/proc/no-such-dir"}, "PLANTVITA_HUB_DATA_DIR"),
        ({"PLANTVITA_HUB_DATA_DIR": "/etc/hostname"}, "is a file, not a directory"),
    ],
)
def test_a_bad_setting_stops_with_one_line_naming_it(
    env: dict[str, str], names: str, tmp_path: Path
) -> None:
    result = _serve(env, tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert names in lines[0]
    assert "Traceback" not in result.stderr


def test_a_port_in_use_stops_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _serve(
            {"PLANTVITA_HUB_HOST": "127.0.0.1", "PLANTVITA_HUB_PORT": str(port)}, tmp_path
        )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        f"error: PLANTVITA_HUB_PORT: cannot listen on 127.0.0.1:{port}"
    )
    assert len(result.stderr.strip().splitlines()) == 1
