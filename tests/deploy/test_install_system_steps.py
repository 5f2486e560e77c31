"""install.sh's system steps (apt, users, ownership, systemctl) against recording stand-ins.

apt-get, dpkg-query, getent, groupadd, useradd, usermod, userdel, groupdel, id, chown and
systemctl are replaced on PATH by small scripts that log their arguments and keep just enough
state (installed packages, users, groups) for the script's checks, so the order of steps and
their idempotence are tested without touching this machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

INSTALL = Path(__file__).resolve().parents[2] / "deploy" / "raspberrypi" / "install.sh"

SHIMS = {
    "dpkg-query": 'grep -qx "${!#}" "$STATE/packages" && printf "install ok installed"',
    "apt-get": 'if [ "$1" = install ]; then for p in "$@"; do case $p in -*|install) ;; '
    '*) echo "$p" >> "$STATE/packages";; esac; done; fi',
    "getent": 'grep -q "^$2$" "$STATE/$1"',
    "groupadd": 'echo "${!#}" >> "$STATE/group"',
    "useradd": 'echo "${!#}" >> "$STATE/passwd"',
    "usermod": 'echo "$3" >> "$STATE/groups-of-$4"',
    "userdel": 'sed -i "/^$1$/d" "$STATE/passwd"; sed -i "/^$1$/d" "$STATE/group"',
    "groupdel": 'sed -i "/^$1$/d" "$STATE/group"',
    "id": 'cat "$STATE/groups-of-$2" 2>/dev/null | tr "\\n" " "',
    "chown": ":",
    "systemctl": ":",
}


@pytest.fixture
def system(tmp_path: Path) -> dict[str, str]:
    """PATH with the stand-ins first; returns the environment to run install.sh with."""
    if os.geteuid() != 0:
        pytest.skip("install.sh's system mode insists on root")
    shims = tmp_path / "shims"
    state = tmp_path / "state"
    shims.mkdir()
    state.mkdir()
    for name in ("packages", "passwd", "group"):
        (state / name).write_text("")
    for name, body in SHIMS.items():
        script = shims / name
        script.write_text(
            f'#!/bin/bash\necho "{name} $*" >> "$STATE/log"\n{body}\nexit $?\n'
            if name in {"dpkg-query", "getent"}
            else f'#!/bin/bash\necho "{name} $*" >> "$STATE/log"\n{body}\nexit 0\n'
        )
        script.chmod(0o755)
    return {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "STATE": str(state)}


def run(root: Path, env: dict[str, str], *args: str, booted: bool = True) -> list[str]:
    """Run install.sh in system mode below root; return the commands it ran this time.

    ``booted``: the root looks like a system running systemd (``/run/systemd/system``)."""
    running = root / "run/systemd/system"
    if booted:
        running.mkdir(parents=True, exist_ok=True)
    elif running.exists():
        running.rmdir()
    log = Path(env["STATE"]) / "log"
    log.write_text("")
    result = subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), "--skip-venv", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return log.read_text().splitlines()


def test_first_install_then_rerun(tmp_path: Path, system: dict[str, str]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    first = run(root, system)
    installs = [line for line in first if line.startswith("apt-get install")]
    assert len(installs) == 1
    for package in ("bluez", "python3-venv", "sqlite3"):
        assert package in installs[0].split()
    assert "groupadd --system plantvita" in first
    assert any(line.startswith("useradd --system --gid plantvita") for line in first)
    assert "usermod -a -G bluetooth plantvita" in first
    assert f"chown root:plantvita {root}/etc/plantvita/hub.env.new" in first
    assert f"chown plantvita:plantvita {root}/var/lib/plantvita" in first
    # Units are in place before systemd is told about them.
    assert first.index("systemctl daemon-reload") < first.index(
        "systemctl enable --now plantvita-hub.service plantvita-backup.timer"
    )

    second = run(root, system)
    # Nothing to install, create or add the second time; enabling again is harmless.
    assert not [
        line for line in second if line.split()[0] in {"apt-get", "groupadd", "useradd", "usermod"}
    ]
    assert not any("hub.env.new" in line for line in second)
    assert "systemctl enable --now plantvita-hub.service plantvita-backup.timer" in second


def test_upgrade_backs_up_stops_and_starts_again(tmp_path: Path, system: dict[str, str]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    run(root, system)
    (root / "var/lib/plantvita/hub.sqlite3").write_bytes(b"")
    upgrade = run(root, system, "--upgrade")
    # Back up, stop the hub for the package swap, then start it again with the new units.
    assert upgrade.index("systemctl start plantvita-backup.service") < upgrade.index(
        "systemctl stop plantvita-hub.service"
    )
    assert upgrade.index("systemctl stop plantvita-hub.service") < upgrade.index(
        "systemctl daemon-reload"
    )
    assert upgrade[-1] == "systemctl enable --now plantvita-hub.service plantvita-backup.timer"


def test_uninstall_and_purge(tmp_path: Path, system: dict[str, str]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    run(root, system)
    removed = run(root, system, "--uninstall")
    assert removed[0] == "systemctl disable --now plantvita-hub.service plantvita-backup.timer"
    assert not any(line.startswith("userdel") for line in removed)
    assert (root / "etc/plantvita/hub.env").exists()
    purged = run(root, system, "--uninstall", "--purge")
    assert "userdel plantvita" in purged
    assert not (root / "etc/plantvita").exists()
    assert (Path(system["STATE"]) / "passwd").read_text() == ""


def test_without_a_running_systemd_the_units_are_enabled_for_the_next_boot(
    tmp_path: Path, system: dict[str, str]
) -> None:
    """An image being built or a chroot (``make pi-check``): nothing to start, stop or reload."""
    root = tmp_path / "root"
    root.mkdir()
    first = run(root, system, booted=False)
    assert "systemctl enable plantvita-hub.service plantvita-backup.timer" in first
    assert not [line for line in first if "--now" in line or "daemon-reload" in line]
    (root / "var/lib/plantvita/hub.sqlite3").write_bytes(b"")
    upgrade = run(root, system, "--upgrade", booted=False)
    systemctl = [line.split()[1:] for line in upgrade if line.startswith("systemctl ")]
    assert systemctl == [["enable", "plantvita-hub.service", "plantvita-backup.timer"]]
    removed = run(root, system, "--uninstall", booted=False)
    assert removed[0] == "systemctl disable plantvita-hub.service plantvita-backup.timer"
