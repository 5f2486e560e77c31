"""Root test plugin: the embedded-PostgreSQL fixtures of ``tests/cloud/conftest.py`` made
reachable from every test package (the hub's sync tests run against the real cloud).

Re-exported rather than moved so the cloud suite's own conftest stays the one place that
defines them.
"""

from __future__ import annotations

from tests.cloud.conftest import database_url, migrated_template, pg_server

__all__ = ["database_url", "migrated_template", "pg_server"]
