"""Revisions 0100 (images, diagnoses), 0101 (procrastinate) and 0130 (node assignments)
upgrade and downgrade cleanly."""

from __future__ import annotations

import uuid

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


_ORPHANED_PHOTO = """
INSERT INTO users (id, email, password_hash, created_at, password_changed_at)
  VALUES (%(user)s, 'gardener@example.com', 'x', now(), now());
INSERT INTO nodes (id, owner_id, mac, kind, dropped_adverts, config_revision,
                   sampling_interval_s, advert_burst, connectable_window_s, created_at, updated_at)
  VALUES (%(node)s, %(user)s, 'AA:BB:CC:00:11:22', 'plantvita', 0, 1, 600, 3, 10, now(), now());
INSERT INTO images (id, owner_id, node_id, object_key, sha256, byte_size, content_type,
                    captured_at, status, created_at)
  VALUES (%(image)s, %(user)s, %(node)s, 'owners/u/plants/unassigned/a.jpg', repeat('a', 64),
          10, 'image/jpeg', now() - interval '1 day', 'complete', now());
INSERT INTO diagnoses (id, owner_id, image_id, status, prompt_tokens, candidates_tokens,
                       total_tokens, attempts, requested_at)
  VALUES (gen_random_uuid(), %(user)s, %(image)s, 'succeeded', 0, 0, 0, 1, now());
-- The node got its plant after the photo was synced: the photo was in no Visual History.
INSERT INTO plants (id, owner_id, name, node_id, created_at, updated_at)
  VALUES (%(plant)s, %(user)s, 'Fern', %(node)s, now(), now());
"""


def test_0130_gives_orphaned_photos_to_their_nodes_plant(pg_server: EmbeddedPostgres) -> None:
    name = create_database(pg_server, None)
    url = pg_server.uri(name)
    ids = {key: uuid.uuid4() for key in ("user", "node", "image", "plant")}
    try:
        command.upgrade(alembic_config(url), "0120")
        with psycopg.connect(libpq_url(url)) as conn:
            for statement in filter(str.strip, _ORPHANED_PHOTO.split(";")):
                conn.execute(statement, ids)
        upgrade_to_head(url)
        with psycopg.connect(libpq_url(url)) as conn:
            photo = conn.execute("SELECT plant_id FROM images").fetchone()
            diagnosis = conn.execute("SELECT plant_id FROM diagnoses").fetchone()
            assignment = conn.execute(
                "SELECT node_id, plant_id, unassigned_at FROM node_assignments"
            ).fetchall()
        assert photo == (ids["plant"],)
        assert diagnosis == (ids["plant"],)
        assert assignment == [(ids["node"], ids["plant"], None)]

        command.downgrade(alembic_config(url), "0120")
        with psycopg.connect(libpq_url(url)) as conn:
            assert conn.execute("SELECT to_regclass('node_assignments')").fetchone() == (None,)
    finally:
        drop_database(pg_server, name)
