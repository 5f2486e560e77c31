"""The ``plantvita`` command as a gardener types it: ``python -m plantvita`` and readable help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from plantvita.cli import app

CHECKOUT = Path(__file__).resolve().parents[2]


def test_python_dash_m_plantvita_is_the_plantvita_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "plantvita", "hub", "--help"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: plantvita hub" in result.stdout
    assert "backup" in result.stdout


def test_backup_help_shows_its_defaults() -> None:
    # Square brackets are rich markup: "[default: …]" in a help text vanished from the screen.
    result = CliRunner().invoke(app, ["hub", "backup", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "DATA_DIR/hub.sqlite3" in result.output
    assert "DATA_DIR/backups" in result.output
