"""Hourly and daily rollups maintained at ingest equal aggregates computed from the raw rows."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from cloud.db.engine import libpq_url
from cloud.telemetry.models import METRICS
from shared.sync import SYNC_READINGS_PATH
from tests.cloud.factories import create_hub, create_node, create_user

START = datetime(2026, 5, 30, 21, 0, tzinfo=UTC)


def _aggregate_sql(bucket: str) -> str:
    columns = ", ".join(
        f"count({m}), min({m}), max({m}), sum({m}::double precision)" for m in METRICS
    )
    return (
        f"SELECT node_id, date_trunc('{bucket}', measured_at, 'UTC') AS b, count(*), {columns} "
        "FROM readings GROUP BY node_id, b ORDER BY node_id, b"
    )


def _rollup_sql(table: str) -> str:
    columns = ", ".join(f"{m}_count, {m}_min, {m}_max, {m}_sum" for m in METRICS)
    return f"SELECT node_id, bucket, n, {columns} FROM {table} ORDER BY node_id, bucket"


def _same(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a[:3] == b[:3]
        for x, y in zip(a[3:], b[3:], strict=True):
            if isinstance(x, float) or isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-9, abs=1e-9)
            else:
                assert x == y


async def test_rollups_match_raw_after_overlapping_out_of_order_batches(
    client: httpx.AsyncClient, database_url: str
) -> None:
    user = await create_user(client)
    hub = await create_hub(client, user)
    nodes = [await create_node(client, user, hub=hub) for _ in range(3)]
    rng = random.Random(42)
    items = []
    for node in nodes:
        # 30 hours over two midnights, every 7 minutes, with gaps in some metrics.
        for step in range(0, 60 * 30, 7):
            item: dict[str, Any] = {
                "node_mac": node["mac"],
                "measured_at": (START + timedelta(minutes=step)).isoformat(),
                "moisture": round(rng.uniform(10, 90), 2),
                "temperature": round(rng.uniform(-5, 35), 2),
            }
            if step % 3:
                item["humidity"] = round(rng.uniform(20, 95), 2)
            if step % 5 == 0:
                item["illuminance"] = round(rng.uniform(0, 60000), 1)
                item["battery"] = round(rng.uniform(5, 100), 1)
            items.append(item)
    rng.shuffle(items)
    # Overlapping batches in shuffled order: each row is stored once and rolled up once.
    batches = [items[i : i + 300] for i in range(0, len(items), 250)]
    accepted = 0
    for batch in batches:
        response = await client.post(
            SYNC_READINGS_PATH,
            json={"batch_id": str(uuid.uuid4()), "readings": batch},
            headers=hub.headers,
        )
        accepted += response.json()["accepted"]
    assert accepted == len(items)

    with psycopg.connect(libpq_url(database_url)) as conn:
        raw_hourly = conn.execute(_aggregate_sql("hour")).fetchall()
        hourly = conn.execute(_rollup_sql("readings_hourly")).fetchall()
        raw_daily = conn.execute(_aggregate_sql("day")).fetchall()
        daily = conn.execute(_rollup_sql("readings_daily")).fetchall()
        last = conn.execute(
            "SELECT n.last_reading_at = (SELECT max(measured_at) FROM readings r "
            "WHERE r.node_id = n.id) FROM nodes n"
        ).fetchall()
    assert len(hourly) > 30
    assert len(daily) == 3 * len(nodes)  # 21:00 on day one to 03:00 on day three
    _same(raw_hourly, hourly)
    _same(raw_daily, daily)
    assert last == [(True,)] * len(nodes)
