"""The hub's schema has one definition, the append-only steps of ``hub.store.migrations``: every
table class in the hub maps onto a table those steps create, column for column, so the two
cannot drift apart; the readings table holds a column per registry metric."""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
from pathlib import Path

from sqlmodel import SQLModel

import hub
from hub.store.migrations import migrate
from shared.metrics import METRIC_NAMES


def _migrated_columns(path: Path) -> dict[str, dict[str, bool]]:
    """{table: {column: NOT NULL}} of a freshly migrated file."""
    migrate(path)
    with sqlite3.connect(path) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
            )
        ]
        return {
            table: {
                str(row[1]): bool(row[3]) or bool(row[5])
                for row in conn.execute(f"pragma table_info({table})")
            }
            for table in tables
        }


def _hub_tables() -> dict[str, dict[str, bool]]:
    """{table: {column: not nullable}} of every SQLModel table class in the hub."""
    for module in pkgutil.walk_packages(hub.__path__, "hub."):
        importlib.import_module(module.name)
    return {
        name: {column.name: not column.nullable for column in table.columns}
        for name, table in SQLModel.metadata.tables.items()
    }


def test_every_table_class_maps_onto_the_migrated_schema(tmp_path: Path) -> None:
    schema = _migrated_columns(tmp_path / "hub.sqlite3")
    classes = _hub_tables()
    assert classes, "no table classes found"
    for table, columns in classes.items():
        assert table in schema, f"{table}: a class without a table"
        assert set(columns) == set(schema[table]), (table, set(columns) ^ set(schema[table]))
        for column, required in columns.items():
            assert required == schema[table][column], f"{table}.{column}: NOT NULL differs"


def test_readings_hold_a_column_per_registry_metric(tmp_path: Path) -> None:
    schema = _migrated_columns(tmp_path / "hub.sqlite3")
    assert set(METRIC_NAMES) <= set(schema["readings"])
    for name in METRIC_NAMES:
        assert {f"{name}_{kind}" for kind in ("sum", "n", "min", "max")} <= set(
            schema["readings_hourly"]
        )
