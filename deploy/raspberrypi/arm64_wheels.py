"""Fetch every wheel an offline arm64 Pi needs for the given requirements (used by pi-check.sh).

pip's resolver with ``--platform``/``--only-binary=:all:`` backtracks for many minutes when a
release has no wheel for the target, so the set is resolved once here for CPython 3.11 on Linux
(the hub's dependencies carry no machine-specific markers), then each pin is fetched on its own
with ``--no-deps``: its arm64 wheel, else its pure-Python wheel, else its sdist built into a
wheel on this host, which is refused unless the result is pure Python.

Usage: python arm64_wheels.py DEST --find-links DIR REQUIREMENT...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PLATFORMS = (
    "manylinux_2_36_aarch64",
    "manylinux_2_35_aarch64",
    "manylinux_2_34_aarch64",
    "manylinux_2_31_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_27_aarch64",
    "manylinux_2_24_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux2014_aarch64",
    "linux_aarch64",
)
TARGET = ("--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--abi", "abi3")
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check", "-qq")


def _pip(*args: str, check: bool = True) -> bool:
    """Run this interpreter's pip; False when it failed and ``check`` is off."""
    done = subprocess.run([*PIP, *args], check=check, capture_output=not check)  # noqa: S603
    return done.returncode == 0


def resolve(requirements: list[str], find_links: str) -> list[tuple[str, str]]:
    """``(name, version)`` of everything ``requirements`` install, resolved by pip on this host."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _pip("install", "--dry-run", "--ignore-installed", "--report", str(report),
             "--find-links", find_links, *requirements)  # fmt: skip
        items = json.loads(report.read_text())["install"]
    return [(item["metadata"]["name"], item["metadata"]["version"]) for item in items]


def _download(pins: list[str], dest: Path, find_links: str) -> bool:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    binary = ("download", "--no-deps", "--only-binary=:all:", "-d", str(dest), *TARGET)
    return _pip(*binary, *platforms, "--find-links", find_links, *pins, check=False)


def build_pure(pin: str, name: str, dest: Path, find_links: str) -> None:
    """Build ``pin`` from its sdist on this host into ``dest``; refuse anything not pure Python."""
    with tempfile.TemporaryDirectory() as tmp:
        _pip("wheel", "--no-deps", "--no-binary", name, "-w", tmp, "--find-links", find_links, pin)
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1 or not wheels[0].name.endswith("-none-any.whl"):
            raise SystemExit(
                f"{pin}: no arm64 wheel on the index, and its sdist is not pure Python"
            )
        wheels[0].rename(dest / wheels[0].name)


def fetch(pins: list[tuple[str, str]], dest: Path, find_links: str) -> list[str]:
    """Put every pin's arm64 (or pure) wheel in ``dest``; the pins that had to be built."""
    exact = [f"{name}=={version}" for name, version in pins]
    if _download(exact, dest, find_links):  # exact pins, --no-deps: no resolver at work
        return []
    built = []
    for (name, _version), pin in zip(pins, exact, strict=True):
        if not _download([pin], dest, find_links):
            build_pure(pin, name, dest, find_links)
            built.append(pin)
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--find-links", required=True)
    parser.add_argument("requirements", nargs="+")
    args = parser.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    pins = resolve(args.requirements, args.find_links)
    for pin in fetch(pins, args.dest, args.find_links):
        print(f"arm64 wheels: {pin} built from its sdist on this host (pure Python)", flush=True)
    print(f"arm64 wheels: {len(pins)} distributions in {args.dest}", flush=True)


if __name__ == "__main__":
    main()
