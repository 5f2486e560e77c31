"""deploy/raspberrypi: install.sh in a throwaway root, systemd units checked by systemd-analyze.

What cannot run in a container (apt-get, useradd, systemctl, BlueZ) is skipped by ``--no-system``;
deploy/raspberrypi/README.md lists it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hub.settings import HubSettings
from tests.deploy.names import cli_command, command_envvars, settings_env_names

REPO = Path(__file__).resolve().parents[2]
PI = REPO / "deploy" / "raspberrypi"
INSTALL = PI / "install.sh"
UNITS = ["plantvita-hub.service", "plantvita-backup.service", "plantvita-backup.timer"]
HUB_BINARY = "/opt/plantvita/venv/bin/plantvita"


def tool(name: str) -> str:
    """Path of a required command-line tool; CI installs them (.ci/run), elsewhere a skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed")
    return path


def run_install(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run install.sh with the system steps off; return its output."""
    result = subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), "--no-system", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def snapshot(root: Path, exclude: str | None = None) -> dict[str, tuple[object, ...]]:
    """Every path below root with its type, mode and, for files, content hash and mtime."""
    tree: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if exclude and rel.startswith(exclude):
            continue
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            tree[rel] = ("file", stat.S_IMODE(info.st_mode), digest, info.st_mtime_ns)
        elif stat.S_ISLNK(info.st_mode):
            tree[rel] = ("link", os.readlink(path))
        else:
            tree[rel] = ("dir", stat.S_IMODE(info.st_mode))
    return tree


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def unit_settings(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values]}}; keys may repeat, as systemd allows."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"{path.name}: setting outside a section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize("script", ["install.sh", "plantvita-hub", "pi-check.sh"])
def test_scripts_pass_shellcheck(script: str) -> None:
    result = subprocess.run(
        [tool("shellcheck"), "--severity=style", str(PI / script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.fixture
def unit_root(tmp_path: Path) -> Path:
    """A root with the host's system units, our units and an executable at ExecStart's path."""
    root = tmp_path / "root"
    host_units = Path("/usr/lib/systemd/system")
    if not (host_units / "sysinit.target").exists():
        host_units = Path("/lib/systemd/system")
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True)
    binary = root / HUB_BINARY.lstrip("/")
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(PI / unit, root / "etc/systemd/system" / unit)
    return root


def test_units_pass_systemd_analyze_verify(unit_root: Path) -> None:
    result = subprocess.run(
        [
            tool("systemd-analyze"),
            "verify",
            f"--root={unit_root}",
            *(f"/etc/systemd/system/{unit}" for unit in UNITS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # verify exits 0 on unknown keys and only warns: any line about our units is a finding.
    ours = [line for line in result.stderr.splitlines() if "plantvita" in line]
    assert result.returncode == 0, result.stderr
    assert ours == []


def test_verify_catches_a_broken_unit(unit_root: Path) -> None:
    unit = unit_root / "etc/systemd/system/plantvita-hub.service"
    unit.write_text(unit.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"))
    (unit_root / HUB_BINARY.lstrip("/")).unlink()
    result = subprocess.run(
        [
            tool("systemd-analyze"),
            "verify",
            f"--root={unit_root}",
            f"/etc/systemd/system/{UNITS[0]}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "Unknown key 'NoNewPrivilege'" in result.stderr
    assert "is not executable" in result.stderr


@pytest.mark.parametrize("unit", ["plantvita-hub.service", "plantvita-backup.service"])
def test_units_exposure_is_low(unit_root: Path, unit: str) -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=yes", f"--root={unit_root}", unit],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    # systemd rates 0-10; below 2 is its "OK" band (an unhardened service scores 9.6).
    assert float(match.group(1)) < 2.0


def test_hub_unit_hardening_and_watchdog() -> None:
    hub = unit_settings(PI / "plantvita-hub.service")["Service"]
    assert hub["Type"] == ["notify"]
    assert hub["Restart"] == ["on-failure"]
    assert hub["WatchdogSec"] == ["60s"]
    assert hub["ExecStart"] == [f"{HUB_BINARY} hub serve"]
    assert hub["User"] == ["plantvita"]
    assert hub["SupplementaryGroups"] == ["bluetooth"]
    assert hub["ProtectSystem"] == ["strict"]
    assert hub["ReadWritePaths"] == ["/var/lib/plantvita"]
    assert hub["Environment"] == [
        "PLANTVITA_HUB_DATA_DIR=/var/lib/plantvita",
        "MALLOC_ARENA_MAX=2",
        "MALLOC_MMAP_THRESHOLD_=131072",
    ]
    assert hub["EnvironmentFile"] == ["/etc/plantvita/hub.env"]
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert hub[key] == ["yes"], key
    # BLE through BlueZ over D-Bus needs no capability.
    assert hub["CapabilityBoundingSet"] == [""]
    assert hub["AmbientCapabilities"] == [""]
    families = set(hub["RestrictAddressFamilies"][0].split())
    assert {"AF_UNIX", "AF_INET", "AF_INET6", "AF_BLUETOOTH"} <= families
    assert "AF_PACKET" not in families
    # Idle LAN sockets once used up the default 1,024 handles (tests/hub/test_idle_sockets.py).
    assert int(hub["LimitNOFILE"][0]) >= 8 * 512


def test_backup_timer_runs_the_backup_command_nightly() -> None:
    timer = unit_settings(PI / "plantvita-backup.timer")
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Timer"]["OnCalendar"][0].startswith("*-*-*")
    assert timer["Install"]["WantedBy"] == ["timers.target"]
    service = unit_settings(PI / "plantvita-backup.service")["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"] == [f"{HUB_BINARY} hub backup"]
    assert service["ReadWritePaths"] == ["/var/lib/plantvita"]


def test_install_twice_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    first = run_install(root, "--skip-venv")
    assert "wrote /etc/plantvita/hub.env" in first
    before = snapshot(root)
    second = run_install(root, "--skip-venv")
    assert snapshot(root) == before
    assert "installed" not in second
    assert "wrote" not in second
    assert before["etc/plantvita"] == ("dir", 0o750)
    assert before["var/lib/plantvita"] == ("dir", 0o750)
    assert before["etc/plantvita/hub.env"][1] == 0o640
    assert before["usr/local/bin/plantvita-hub"][1] == 0o755
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (PI / unit).read_bytes()


def read_env(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )
    return dict(pairs)


def test_secrets_are_generated_per_install(tmp_path: Path) -> None:
    secrets = []
    for name in ("a", "b"):
        root = tmp_path / name
        root.mkdir()
        run_install(root, "--skip-venv")
        env = read_env(root / "etc/plantvita/hub.env")
        assert "@GENERATED_SECRET@" not in (root / "etc/plantvita/hub.env").read_text()
        secret = env["PLANTVITA_HUB_SESSION_SECRET"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
        secrets.append(secret)
    assert secrets[0] != secrets[1]
    example = read_env(PI / "hub.env.example")
    assert set(env) == set(example)


def test_destdir_is_the_same_as_root(tmp_path: Path) -> None:
    root = tmp_path / "destdir"
    root.mkdir()
    result = subprocess.run(
        ["bash", str(INSTALL), "--no-system", "--skip-venv"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DESTDIR": str(root)},
    )
    assert result.returncode == 0, result.stderr
    assert (root / "etc/systemd/system/plantvita-hub.service").is_file()


def test_rerun_repairs_units_but_keeps_operator_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    run_install(root, "--skip-venv")
    env_file = root / "etc/plantvita/hub.env"
    edited = env_file.read_text().replace("PLANTVITA_HUB_PORT=8080\n", "")
    env_file.write_text(edited + "PLANTVITA_HUB_LOG_LEVEL=debug\n")
    unit = root / "etc/systemd/system/plantvita-hub.service"
    unit.write_text("[Service]\nExecStart=/bin/false\n")
    output = run_install(root, "--skip-venv")
    assert env_file.read_text() == edited + "PLANTVITA_HUB_LOG_LEVEL=debug\n"
    assert "lacks PLANTVITA_HUB_PORT" in output
    assert unit.read_bytes() == (PI / "plantvita-hub.service").read_bytes()


def test_uninstall_keeps_data_and_purge_removes_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    run_install(root, "--skip-venv")
    # Stand-ins for what the hub writes while running, and for a venv.
    (root / "var/lib/plantvita/hub.sqlite3").write_bytes(b"SQLite format 3\0")
    (root / "var/lib/plantvita/images").mkdir()
    (root / "var/lib/plantvita/images/ab.jpg").write_bytes(b"\xff\xd8")
    (root / "opt/plantvita/venv/bin").mkdir(parents=True)
    (root / "opt/plantvita/venv/bin/plantvita").write_text("#!/bin/sh\n")
    run_install(root, "--uninstall")
    assert files_under(root) == {
        "etc/plantvita/hub.env",
        "etc/plantvita/hub.env.example",
        "var/lib/plantvita/hub.sqlite3",
        "var/lib/plantvita/images/ab.jpg",
    }
    assert not (root / "opt/plantvita").exists()
    run_install(root, "--uninstall", "--purge")
    assert files_under(root) == set()
    assert not (root / "var/lib/plantvita").exists()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    for args in (["--purge"], ["--root", "relative/dir"], ["--frobnicate"]):
        result = subprocess.run(
            ["bash", str(INSTALL), "--no-system", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode != 0, args
        assert "error:" in result.stderr


@pytest.mark.slow
def test_venv_step_installs_the_hub_and_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    first = run_install(root, "--source", str(REPO), "--python", sys.executable)
    assert "installing" in first
    plantvita = root / HUB_BINARY.lstrip("/")
    before = snapshot(root)
    second = run_install(root, "--source", str(REPO), "--python", sys.executable)
    assert "installing" not in second
    assert snapshot(root) == before
    # The installed command backs up a database in the installed data dir.
    data_dir = root / "var/lib/plantvita"
    with sqlite3.connect(data_dir / "hub.sqlite3") as db:
        db.execute("CREATE TABLE readings (seq INTEGER PRIMARY KEY)")
        db.executemany("INSERT INTO readings VALUES (?)", [(n,) for n in range(1, 101)])
    db.close()
    result = subprocess.run(
        [str(plantvita), "hub", "backup"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PLANTVITA_HUB_DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr
    (copy,) = (data_dir / "backups").iterdir()
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM readings").fetchone() == (100,)
    db.close()
    # --upgrade reinstalls the package and keeps the operator's config and its secret.
    env_before = (root / "etc/plantvita/hub.env").read_bytes()
    upgraded = run_install(root, "--upgrade", "--source", str(REPO), "--python", sys.executable)
    assert "upgrading" in upgraded
    assert (root / "etc/plantvita/hub.env").read_bytes() == env_before
    assert plantvita.exists()


def test_env_example_names_are_hub_settings() -> None:
    accepted = settings_env_names("hub.settings", "HubSettings")
    known = accepted | command_envvars("hub", "backup")
    keys = set(re.findall(r"^#?(PLANTVITA_HUB_\w+)=", (PI / "hub.env.example").read_text(), re.M))
    for unit in UNITS[:2]:
        for assignment in unit_settings(PI / unit)["Service"].get("Environment", []):
            name = assignment.split("=", 1)[0]
            if name.startswith("PLANTVITA_"):  # the others are the C library's (MALLOC_...)
                keys.add(name)
    assert keys - known == set()


def test_backup_reads_the_database_the_hub_writes(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=tmp_path)
    # `plantvita hub backup` defaults to DATA_DIR/hub.sqlite3.
    assert settings.database_path == tmp_path / "hub.sqlite3"
    assert command_envvars("hub", "backup") >= {"PLANTVITA_HUB_DATA_DIR"}


def test_unit_commands_exist_in_the_cli() -> None:
    for unit in UNITS[:2]:
        (exec_start,) = unit_settings(PI / unit)["Service"]["ExecStart"]
        binary, *args = exec_start.split()
        assert binary == HUB_BINARY
        assert cli_command(*args) is not None, exec_start


def test_wrapper_runs_commands_with_the_service_settings() -> None:
    """`sudo plantvita-hub ...` must see what the service sees: same user, env and binary."""
    hub = unit_settings(PI / "plantvita-hub.service")["Service"]
    wrapper = (PI / "plantvita-hub").read_text()
    assert f"--uid={hub['User'][0]}" in wrapper
    assert f"--gid={hub['Group'][0]}" in wrapper
    for assignment in hub["Environment"]:
        assert f"-p Environment={assignment}" in wrapper
    assert f"-p EnvironmentFile={hub['EnvironmentFile'][0]}" in wrapper
    assert f'{HUB_BINARY} hub "$@"' in wrapper
