"""A Raspberry Pi installs only ``plant-vita[hub]``: in a clean venv, without the cloud's
dependencies, ``plantvita hub --help`` works and the hub starts until ``/readyz`` answers.

Slow (a fresh venv and every hub wheel: a few minutes), so it has its own marker and make
target (``make test-install``, run by CI after ``make test``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.install, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "shared", "hub", "cloud", "plantvita")
# Top-level modules of the [cloud] extra: none may be importable from a [hub] install.
CLOUD_ONLY = ("psycopg", "psycopg_pool", "procrastinate", "alembic", "pwdlib", "jwt")
READY_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def hub_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with ``plant-vita[hub]`` installed from a copy of the sources (not editable)."""
    root = tmp_path_factory.mktemp("hub-install")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, src / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{src}[hub]"],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return venv


def test_hub_extra_leaves_the_cloud_dependencies_out(hub_venv: Path) -> None:
    python = str(hub_venv / "bin" / "python")
    probe = (
        "import importlib.util, sys; "
        "print([m for m in sys.argv[1:] if importlib.util.find_spec(m)])"
    )
    found = subprocess.run(
        [python, "-c", probe, *CLOUD_ONLY], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"
    # The hub's app and commands import nothing of the cloud package.
    loaded = subprocess.run(
        [
            python,
            "-c",
            "import sys, hub.app, hub.cli, hub.commands; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cloud'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_plantvita_hub_help(hub_venv: Path) -> None:
    result = subprocess.run(
        [str(hub_venv / "bin" / "plantvita"), "hub", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stderr
    for command in ("serve", "link", "sync-now", "backup"):
        assert command in result.stdout


def test_the_hub_starts_without_the_cloud(hub_venv: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PLANTVITA_HUB_HOST": "127.0.0.1",
        "PLANTVITA_HUB_PORT": str(port),
        "PLANTVITA_HUB_DATA_DIR": str(tmp_path / "hub"),
    }
    log = (tmp_path / "serve.log").open("w")
    hub = subprocess.Popen(
        [str(hub_venv / "bin" / "plantvita"), "hub", "serve", "--emulate", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and hub.poll() is None and not _ready(port):
            time.sleep(0.5)
        output = (tmp_path / "serve.log").read_text()
        assert hub.poll() is None, f"the hub exited: {output[-3000:]}"
        assert _ready(port), f"/readyz did not answer 200: {output[-3000:]}"
    finally:
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
        log.close()
    # uvicorn re-raises the SIGTERM after its graceful shutdown.
    output = (tmp_path / "serve.log").read_text()
    assert hub.returncode in (0, -signal.SIGTERM), output[-3000:]
    assert "hub_stopped" in output
