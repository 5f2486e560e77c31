"""Schema migrations for the hub's SQLite file.

A versioned ``PRAGMA user_version`` scheme rather than Alembic: SQLite DDL is transactional, so each
step is one ``BEGIN IMMEDIATE`` transaction that also bumps the version, and the Pi needs no
migration tooling at run time. Steps are append-only: never edit a released step, add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from hub.store.integrity import DatabaseDamaged, check_file, touch_tables

log = structlog.get_logger(__name__)

_V1 = """
CREATE TABLE hub_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE species (
    id INTEGER PRIMARY KEY,
    common_name TEXT NOT NULL,
    scientific_name TEXT NOT NULL,
    thresholds TEXT NOT NULL
);
CREATE TABLE plants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    species_id INTEGER,
    location TEXT,
    node_mac TEXT,
    overrides TEXT,
    origin TEXT NOT NULL DEFAULT 'local',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ux_plants_node_mac ON plants(node_mac) WHERE node_mac IS NOT NULL;
CREATE TABLE nodes (
    id INTEGER PRIMARY KEY,
    mac TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    bindkey BLOB,
    paired INTEGER NOT NULL DEFAULT 1,
    name TEXT,
    last_seen INTEGER,
    rssi INTEGER,
    battery REAL,
    firmware_version TEXT,
    drops_malformed INTEGER NOT NULL DEFAULT 0,
    drops_wrong_key INTEGER NOT NULL DEFAULT 0,
    drops_replayed INTEGER NOT NULL DEFAULT 0,
    drops_plaintext INTEGER NOT NULL DEFAULT 0,
    config TEXT,
    config_revision INTEGER NOT NULL DEFAULT 0,
    config_revision_applied INTEGER,
    last_seq INTEGER,
    created_at INTEGER NOT NULL,
    sync_state INTEGER NOT NULL DEFAULT 0,
    reject_reason TEXT
);
CREATE TABLE readings (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES nodes(id),
    measured_at INTEGER NOT NULL,
    seq INTEGER,
    source TEXT NOT NULL,
    moisture REAL,
    temperature REAL,
    humidity REAL,
    illuminance REAL,
    battery REAL,
    sync_state INTEGER NOT NULL DEFAULT 0,
    batch_id INTEGER,
    reject_reason TEXT
);
CREATE UNIQUE INDEX ux_readings_node_time ON readings(node_id, measured_at);
CREATE UNIQUE INDEX ux_readings_node_seq ON readings(node_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX ix_readings_pending ON readings(batch_id, id) WHERE sync_state = 0;
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    node_id INTEGER REFERENCES nodes(id),
    plant_id TEXT,
    node_image_id INTEGER,
    source TEXT NOT NULL,
    captured_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    byte_size INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    path TEXT NOT NULL,
    thumbnail_path TEXT,
    file_present INTEGER NOT NULL DEFAULT 1,
    metrics TEXT,
    metrics_error TEXT,
    sync_state INTEGER NOT NULL DEFAULT 0,
    upload_state TEXT NOT NULL DEFAULT 'slot',
    cloud_image_id TEXT,
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    reject_reason TEXT
);
CREATE INDEX ix_images_plant ON images(plant_id, captured_at);
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    node_mac TEXT,
    plant_id TEXT,
    kind TEXT NOT NULL,
    metric TEXT,
    message TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    resolved_at INTEGER,
    acknowledged_at INTEGER,
    sync_state INTEGER NOT NULL DEFAULT 0,
    batch_id INTEGER,
    reject_reason TEXT
);
CREATE INDEX ix_alerts_pending ON alerts(batch_id, opened_at) WHERE sync_state = 0;
CREATE TABLE sync_batches (
    id INTEGER PRIMARY KEY,
    batch_uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    item_count INTEGER NOT NULL,
    acked_at INTEGER
);
CREATE INDEX ix_sync_batches_open ON sync_batches(kind, id) WHERE acked_at IS NULL;
CREATE TABLE sync_ledger (
    kind TEXT PRIMARY KEY,
    last_attempt_at INTEGER,
    last_success_at INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    items_sent INTEGER NOT NULL DEFAULT 0,
    items_rejected INTEGER NOT NULL DEFAULT 0,
    bytes_sent INTEGER NOT NULL DEFAULT 0
);
"""

# Hourly rollups keep history once raw readings are pruned; sum/n/min/max per metric so they
# can be merged incrementally and re-derived from raw rows.
_METRICS = ("moisture", "temperature", "humidity", "illuminance", "battery")
_ROLLUP_COLUMNS = ",\n".join(
    f"    {m}_sum REAL, {m}_n INTEGER NOT NULL DEFAULT 0, {m}_min REAL, {m}_max REAL"
    for m in _METRICS
)
_ROLLUP_SELECT = ", ".join(f"sum({m}), count({m}), min({m}), max({m})" for m in _METRICS)
# Built from the constant metric names above, never from input.
_V2 = f"""
CREATE TABLE readings_hourly (
    node_id INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    count INTEGER NOT NULL,
{_ROLLUP_COLUMNS},
    PRIMARY KEY (node_id, hour)
) WITHOUT ROWID;
INSERT INTO readings_hourly
SELECT node_id, (measured_at / 3600000) * 3600000, count(*), {_ROLLUP_SELECT}
FROM readings GROUP BY node_id, measured_at / 3600000;
CREATE TABLE dropped_data (
    kind TEXT PRIMARY KEY,
    count INTEGER NOT NULL DEFAULT 0,
    last_at INTEGER
);
"""  # noqa: S608


# The cloud refuses readings of nodes it has not registered: remember which ones it acked so a
# new node's inventory goes out before its readings.
_V3 = """
ALTER TABLE nodes ADD COLUMN cloud_registered INTEGER NOT NULL DEFAULT 0;
"""

# A node that loses its flash (or is re-flashed and re-paired) restarts its BTHome counter, so a
# sequence number alone no longer names one measurement: sequences are scoped to the node's
# counter epoch. Existing rows all belong to epoch 0, the epoch every node starts in.
# ``key_epoch`` is the first epoch of the node's current bindkey: only adverts of epochs since
# then can be replayed (older ones do not authenticate).
_V4 = """
ALTER TABLE nodes ADD COLUMN seq_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN counter_resets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN key_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE readings ADD COLUMN seq_epoch INTEGER NOT NULL DEFAULT 0;
DROP INDEX ux_readings_node_seq;
CREATE UNIQUE INDEX ux_readings_node_epoch_seq ON readings(node_id, seq_epoch, seq)
    WHERE seq IS NOT NULL;
"""


# Hub-only: which rule opened an alert. NULL is a threshold on the latest reading; 'dli' is the
# daily light integral of a completed UTC day (same metric column, so both can be open at once).
_V5 = """
ALTER TABLE alerts ADD COLUMN rule TEXT;
"""

# The cloud's diagnoses of this hub's plants, mirrored by the sync so the plant page shows them
# offline. Replaced as a whole by each changed digest; ``image_sha256`` names the hub's photo.
_V6 = """
CREATE TABLE diagnoses (
    id TEXT PRIMARY KEY,
    plant_id TEXT NOT NULL,
    image_sha256 TEXT,
    image_captured_at INTEGER,
    status TEXT NOT NULL,
    health TEXT,
    confidence REAL,
    summary TEXT,
    findings TEXT NOT NULL DEFAULT '[]',
    recommended_actions TEXT NOT NULL DEFAULT '[]',
    follow_up TEXT,
    source TEXT,
    model TEXT,
    requested_at INTEGER NOT NULL,
    finished_at INTEGER,
    received_at INTEGER NOT NULL
);
CREATE INDEX ix_diagnoses_plant ON diagnoses(plant_id, requested_at);
"""

# Honest node states and alert texts rendered when shown: ``wrong_key_at`` is the last advert
# that failed authentication (a wrong key when newer than ``last_seen``); an alert keeps the
# value and limit it opened on so its text follows the plant's current name and the unit.
_V7 = """
ALTER TABLE nodes ADD COLUMN wrong_key_at INTEGER;
ALTER TABLE alerts ADD COLUMN value REAL;
ALTER TABLE alerts ADD COLUMN bound REAL;
"""

# How many of its readings a node still holds that the hub has not received (counter gaps seen
# in its adverts, fetched by the next session): shown per node, and the gateway starts from it.
_V8 = """
ALTER TABLE nodes ADD COLUMN readings_held INTEGER NOT NULL DEFAULT 0;
"""

# Editing on a linked hub: ``cloud_revision`` is the cloud's revision of the plant this hub holds;
# each local edit of a cloud plant waits in ``plant_edits`` until the cloud applied it, or
# refused it (conflict: changed in the cloud since; the cloud's version wins, the lost change
# stays listed with its reason).
_V9 = """
ALTER TABLE plants ADD COLUMN cloud_revision INTEGER;
CREATE TABLE plant_edits (
    id TEXT PRIMARY KEY,
    plant_id TEXT NOT NULL,
    base_revision INTEGER NOT NULL,
    changes TEXT NOT NULL,
    summary TEXT NOT NULL,
    edited_at INTEGER NOT NULL,
    sync_state INTEGER NOT NULL DEFAULT 0,
    reject_reason TEXT,
    settled_at INTEGER
);
CREATE INDEX ix_plant_edits_state ON plant_edits(sync_state, edited_at);
"""

# The shared alert engine's state per node and metric (the cloud keeps the same in its
# alert_states), so both tiers open and resolve alerts at the same readings.
_V10 = """
CREATE TABLE alert_states (
    node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    breach TEXT,
    breach_since INTEGER,
    breach_value REAL,
    alert_id TEXT,
    last_evaluated_at INTEGER,
    PRIMARY KEY (node_id, metric)
) WITHOUT ROWID;
"""


# Channels: a node can carry more than one sensor of a kind (two soil probes, air and soil
# temperature); BTHome repeats the object and each one is a channel (0 the first). A reading is
# (node, channel, measured_at), so both unique keys and the hourly rollups' key gain it.
# Advert outcome counters: every advert heard ends in exactly one of stored, duplicate, replay
# (drops_replayed), wrong key (drops_wrong_key, now also plaintext from a keyed node), unsupported
# object, unsupported device or malformed (drops_malformed).
_V11_READINGS = """
ALTER TABLE readings ADD COLUMN channel INTEGER NOT NULL DEFAULT 0;
DROP INDEX ux_readings_node_time;
CREATE UNIQUE INDEX ux_readings_node_channel_time ON readings(node_id, channel, measured_at);
DROP INDEX ux_readings_node_epoch_seq;
CREATE UNIQUE INDEX ux_readings_node_epoch_seq_channel ON readings(node_id, seq_epoch, seq, channel)
    WHERE seq IS NOT NULL;
ALTER TABLE nodes ADD COLUMN adverts_stored INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN adverts_duplicate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN adverts_unsupported_object INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN adverts_unsupported_device INTEGER NOT NULL DEFAULT 0;
UPDATE nodes SET drops_wrong_key = drops_wrong_key + drops_plaintext, drops_plaintext = 0;
"""


def _channels(conn: sqlite3.Connection) -> None:
    _script(_V11_READINGS)(conn)
    # The rollup table is keyed WITHOUT ROWID: rebuild it with the channel in its key, keeping
    # whatever metric columns earlier steps gave it.
    columns = conn.execute("PRAGMA table_info(readings_hourly)").fetchall()
    definitions = []
    names = []
    for _cid, name, kind, notnull, default, _pk in columns:
        names.append(name)
        definition = f"{name} {kind}"
        if notnull:
            definition += " NOT NULL"
        if default is not None:
            definition += f" DEFAULT {default}"
        definitions.append(definition)
    listed = ", ".join(names)
    conn.execute(
        "CREATE TABLE readings_hourly_new (channel INTEGER NOT NULL DEFAULT 0, "
        + ", ".join(definitions)
        + ", PRIMARY KEY (node_id, channel, hour)) WITHOUT ROWID"
    )
    # Column names come from the table's own schema, never from input.
    conn.execute(
        f"INSERT INTO readings_hourly_new ({listed}) SELECT {listed} FROM readings_hourly"  # noqa: S608
    )
    conn.execute("DROP TABLE readings_hourly")
    conn.execute("ALTER TABLE readings_hourly_new RENAME TO readings_hourly")


# Soil conductivity (µS/cm), the registry's sixth metric: a raw column and its hourly rollup.
_V12 = """
ALTER TABLE readings ADD COLUMN conductivity REAL;
ALTER TABLE readings_hourly ADD COLUMN conductivity_sum REAL;
ALTER TABLE readings_hourly ADD COLUMN conductivity_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE readings_hourly ADD COLUMN conductivity_min REAL;
ALTER TABLE readings_hourly ADD COLUMN conductivity_max REAL;
"""


# The species catalogue's revision (``hub_settings`` key ``species_revision``), moved by SQLite on
# every change of the table: what caches of the catalogue compare, and no write path (the
# shipped seed, a cloud config pull, whatever comes later) can forget to move it. A random token
# rather than a count, so the revision of a rolled-back change never comes back for other rows.
_V13_REVISION = (
    "BEGIN INSERT INTO hub_settings(key, value) "
    "VALUES ('species_revision', lower(hex(randomblob(8)))) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value; END"
)
_V13_TRIGGERS = (
    "CREATE TRIGGER species_revision_insert AFTER INSERT ON species " + _V13_REVISION,
    "CREATE TRIGGER species_revision_update AFTER UPDATE ON species " + _V13_REVISION,
    "CREATE TRIGGER species_revision_delete AFTER DELETE ON species " + _V13_REVISION,
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: the version it brings the file to and how."""

    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        # executescript would COMMIT first; run statement by statement inside our transaction.
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)

    return apply


def _statements(statements: tuple[str, ...]) -> Callable[[sqlite3.Connection], None]:
    # For statements with semicolons of their own (trigger bodies), which _script would split.
    def apply(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return apply


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", _script(_V1)),
    Migration(2, "hourly_rollups_and_drop_counters", _script(_V2)),
    Migration(3, "nodes_cloud_registered", _script(_V3)),
    Migration(4, "sequence_epochs", _script(_V4)),
    Migration(5, "alert_rule", _script(_V5)),
    Migration(6, "diagnoses", _script(_V6)),
    Migration(7, "node_wrong_key_and_alert_values", _script(_V7)),
    Migration(8, "nodes_readings_held", _script(_V8)),
    Migration(9, "plant_edits", _script(_V9)),
    Migration(10, "alert_states", _script(_V10)),
    Migration(11, "reading_channels_and_advert_counters", _channels),
    Migration(12, "conductivity", _script(_V12)),
    Migration(13, "species_revision", _statements(_V13_TRIGGERS)),
)
LATEST_VERSION = MIGRATIONS[-1].version


def connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode with WAL turned on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(path: Path, target: int | None = None) -> int:
    """Bring the database at ``path`` to ``target`` (default: latest); return the version reached.

    Refuses a file newer than this code knows, so an older hub never writes a newer schema, and
    raises ``DatabaseDamaged`` for an empty, truncated or corrupt file (never starting fresh).
    """
    target = LATEST_VERSION if target is None else target
    check_file(path)  # never start fresh over an empty or damaged file
    try:
        return _migrate(path, target)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise  # locked, I/O, permissions: not damage
        raise DatabaseDamaged(path, str(exc)) from exc


def _migrate(path: Path, target: int) -> int:
    if path.exists():
        # Read-only first: a damaged file is reported as it is, never rewritten (WAL mode).
        readonly = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        try:
            touch_tables(readonly)
        finally:
            readonly.close()
    conn = connect(path)
    try:
        version = current_version(conn)
        if version > LATEST_VERSION:
            raise RuntimeError(
                f"database schema v{version} is newer than this hub (v{LATEST_VERSION})"
            )
        for step in MIGRATIONS:
            if step.version <= version or step.version > target:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                step.apply(conn)
                conn.execute(f"PRAGMA user_version = {step.version:d}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            log.info("schema_migrated", version=step.version, name=step.name)
            version = step.version
        return version
    finally:
        conn.close()
