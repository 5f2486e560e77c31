"""``plantvita hub export``: readings, alerts and image metrics of a window as CSV files.

Reads the hub's SQLite file read-only (the hub may keep running), in bounded slices, so a year of
readings on a Pi never sits in memory; columns come from the metric registry.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.store import kv
from shared import alert_text
from shared.metrics import METRIC_NAMES, Metric

SLICE = 5_000  # rows per read

# Built from the registry's constant metric names, never from input.
_READINGS = (
    "select r.id, r.measured_at, n.mac, p.name, r.channel, r.seq, "  # noqa: S608
    + ", ".join(f"r.{m}" for m in METRIC_NAMES)
    + " from readings r join nodes n on n.id = r.node_id "
    "left join plants p on p.node_mac = n.mac "
    "where r.measured_at >= ? and r.measured_at < ? and r.id > ? order by r.id limit ?"
)
_ALERTS = (
    "select a.opened_at, a.resolved_at, a.acknowledged_at, a.kind, a.metric, a.node_mac, "
    "p.name, a.message, a.rule, a.value, a.bound from alerts a "
    "left join plants p on p.id = a.plant_id "
    "where a.opened_at >= ? and a.opened_at < ? order by a.opened_at"
)
_UNIT = "select value from hub_settings where key = ?"
_IMAGES = (
    "select i.captured_at, i.sha256, p.name, n.mac, i.metrics from images i "
    "left join plants p on p.id = i.plant_id left join nodes n on n.id = i.node_id "
    "where i.captured_at >= ? and i.captured_at < ? order by i.captured_at"
)
_IMAGE_FIELDS = ("canopy_cover", "excess_green_mean", "green_pixels", "brightness", "flags")


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Files written and their row counts."""

    files: dict[str, Path]
    rows: dict[str, int]


def _iso(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def count_rows(database: Path, start: datetime, end: datetime) -> int:
    """How many rows an export of the window writes (for the progress bar)."""
    with _connect(database) as conn:
        s, e = _ms(start), _ms(end)
        total = 0
        for table, column in (("readings", "measured_at"), ("alerts", "opened_at")):
            total += conn.execute(
                f"select count(*) from {table} where {column} >= ? and {column} < ?",  # noqa: S608
                (s, e),
            ).fetchone()[0]
        total += conn.execute(
            "select count(*) from images where captured_at >= ? and captured_at < ?", (s, e)
        ).fetchone()[0]
        return int(total)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _connect(database: Path) -> sqlite3.Connection:
    if not database.is_file():
        raise FileNotFoundError(f"no hub database at {database}")
    return sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def _readings(conn: sqlite3.Connection, s: int, e: int) -> Iterator[list[object]]:
    last = 0
    while True:
        rows = conn.execute(_READINGS, (s, e, last, SLICE)).fetchall()
        if not rows:
            return
        for row in rows:
            last = row[0]
            yield [_iso(row[1]), *["" if v is None else v for v in row[2:]]]


def export(
    database: Path,
    out_dir: Path,
    start: datetime,
    end: datetime,
    progress: Callable[[int], None] = lambda _n: None,
) -> ExportResult:
    """Write ``readings.csv``, ``alerts.csv`` and ``image_metrics.csv`` for [start, end)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    s, e = _ms(start), _ms(end)
    files = {name: out_dir / f"{name}.csv" for name in ("readings", "alerts", "image_metrics")}
    rows = dict.fromkeys(files, 0)
    with _connect(database) as conn:
        with files["readings"].open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["measured_at", "node_mac", "plant", "channel", "seq", *METRIC_NAMES])
            for row in _readings(conn, s, e):
                writer.writerow(row)
                rows["readings"] += 1
                if rows["readings"] % 1000 == 0:
                    progress(1000)
            progress(rows["readings"] % 1000)
        with files["alerts"].open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "opened_at",
                    "resolved_at",
                    "acknowledged_at",
                    "kind",
                    "metric",
                    "node_mac",
                    "plant",
                    "message",
                ]
            )
            unit_row = conn.execute(_UNIT, (kv.UNITS,)).fetchone()
            unit: alert_text.TemperatureUnit = "F" if unit_row and unit_row[0] == "F" else "C"
            for row in conn.execute(_ALERTS, (s, e)):
                opened, resolved, acked, kind, metric, mac, plant, stored, rule, value, bound = row
                # As the UI shows it: the plant's current name, in the gardener's unit.
                message = stored
                if plant is not None:
                    message = alert_text.describe(
                        kind,
                        subject=plant,
                        metric=Metric(metric) if metric else None,
                        rule=rule,
                        value=value,
                        bound=bound,
                        opened_at=datetime.fromtimestamp(opened / 1000, UTC),
                        unit=unit,
                        fallback=stored,
                    )
                writer.writerow(
                    [_iso(opened), _iso(resolved), _iso(acked), kind, metric, mac, plant, message]
                )
                rows["alerts"] += 1
                progress(1)
        with files["image_metrics"].open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["captured_at", "sha256", "plant", "node_mac", *_IMAGE_FIELDS])
            for captured, sha, plant, mac, metrics in conn.execute(_IMAGES, (s, e)):
                values = json.loads(metrics) if metrics else {}
                flags = values.get("flags") or []
                writer.writerow(
                    [_iso(captured), sha, plant or "", mac or ""]
                    + [values.get(f, "") for f in _IMAGE_FIELDS[:-1]]
                    + [" ".join(str(f) for f in flags)]
                )
                rows["image_metrics"] += 1
                progress(1)
    return ExportResult(files=files, rows=rows)
