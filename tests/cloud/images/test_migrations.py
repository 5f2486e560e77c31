"""Revisions 0100 (images, diagnoses) and 0101 (procrastinate) upgrade and downgrade cleanly."""

from __future__ import annotations

import psycopg
from alembic import command

from cloud.db.embedded import EmbeddedPostgres
from cloud.db.engine import libpq_url
from cloud.db.migrations import alembic_config, upgrade_to_head
from tests.cloud.conftest import create_database, drop_database

_OBJECTS = """
SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
          AND (tablename LIKE 'procrastinate%' OR tablename IN ('images', 'diagnoses'))),
       (SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'),
       (SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%' AND typtype IN ('c', 'e'))
"""


def test_downgrade_and_upgrade_again(pg_server: EmbeddedPostgres) -> None:
    name = create_database(pg_server, None)
    url = pg_server.uri(name)
    try:
        upgrade_to_head(url)
        with psycopg.connect(libpq_url(url)) as conn:
            tables, functions, types = conn.execute(_OBJECTS).fetchone() or (0, 0, 0)
        assert (tables, functions > 10, types >= 3) == (6, True, True)

        command.downgrade(alembic_config(url), "0002")
        with psycopg.connect(libpq_url(url)) as conn:
            assert conn.execute(_OBJECTS).fetchone() == (0, 0, 0)

        upgrade_to_head(url)
        with psycopg.connect(libpq_url(url)) as conn:
            assert conn.execute(_OBJECTS).fetchone() == (tables, functions, types)
    finally:
        drop_database(pg_server, name)
