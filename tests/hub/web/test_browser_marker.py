"""The root conftest's ``browser`` marker: skipped loudly without chromium, failed when CI
requires the browser. Runs a tiny suite in a child pytest so the real session is untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

SUITE = """
import pytest

@pytest.mark.browser
def test_needs_chromium():
    assert True

def test_plain():
    assert True
"""

CONFTEST = "from tests.conftest import pytest_runtest_setup, pytest_terminal_summary\n"


def outcomes(stdout: str) -> dict[str, int]:
    """The child's outcome counts, parsed by pytest itself (``{"passed": 1, "errors": 1}``);
    warnings from whatever plugins the environment has are not an outcome and are left out."""
    counts = pytest.RunResult.parse_summary_nouns(stdout.splitlines())
    counts.pop("warnings", None)
    return counts


def run_suite(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_tiny.py").write_text(SUITE)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    child_env.pop("PLANTVITA_REQUIRE_BROWSER", None)
    child_env.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-ra",
            "-p",
            "no:cacheprovider",
            "-o",
            "markers=browser: test",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_missing_chromium_skips_with_a_banner(tmp_path: Path) -> None:
    result = run_suite(tmp_path, PLANTVITA_CHROMIUM=str(tmp_path / "no-chromium"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert outcomes(result.stdout) == {"passed": 1, "skipped": 1}
    assert "SKIPPED WITHOUT A BROWSER" in result.stdout
    assert "BROWSER TESTS SKIPPED" in result.stdout


@pytest.mark.slow
def test_missing_chromium_fails_when_the_browser_is_required(tmp_path: Path) -> None:
    result = run_suite(
        tmp_path,
        PLANTVITA_CHROMIUM=str(tmp_path / "no-chromium"),
        PLANTVITA_REQUIRE_BROWSER="1",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert outcomes(result.stdout) == {"passed": 1, "errors": 1}
    assert "PLANTVITA_REQUIRE_BROWSER=1 requires it" in result.stdout
    assert "BROWSER TESTS SKIPPED" not in result.stdout


@pytest.mark.slow
def test_present_chromium_runs_browser_tests(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("")
    result = run_suite(tmp_path, PLANTVITA_CHROMIUM=str(fake), PLANTVITA_REQUIRE_BROWSER="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outcomes(result.stdout) == {"passed": 2}
