"""``python -m bench.cloud_app [--quick]``: what the gardener's cloud app costs.

A real cloud (uvicorn subprocess, embedded PostgreSQL) with one plant holding a year of readings
(hourly in quick mode, every 10 min otherwise) and a photo:

* ``api_p95_ms``: p95 over the plant page's API calls (plant, status, hubs, history for 24 h,
  7 d, 30 d and 1 y, photos, diagnoses, alerts) and the garden overview, repeated. Baseline,
  interleaved call by call on the same server and connection: ``GET /api/v1/auth/me``, the
  cheapest authenticated call there is (token check, one row) — ``baseline_api_p95_ms``, and
  ``api_ratio`` = api_p95_ms / baseline_api_p95_ms (what the page's data costs over the floor
  of any authenticated request on this stack);
* ``shell_kb``: the app shell the service worker caches (every file it precaches), bytes over
  the wire (no compression on loopback);
* ``cached_first_render_ms``: in Debian's chromium, with the network cut after one visit, from
  navigation to the garden page rendered from the service worker's cache (median of runs).
  Baseline, same browser and page just before: the garden rendered with the network on (the
  shell from the worker, its data from the server) — ``online_first_render_ms``, and
  ``render_ratio`` = cached / online (below 1: the cache opens the app faster than the network).

Last stdout line: one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._cloud import cloud_server, create_account, embedded_database, link_hub
from bench._common import emit_result, machine_info, say
from shared.sync import SYNC_READINGS_PATH

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PASSWORD = "benchmark password"


def seed(http: httpx.Client, step_min: int) -> tuple[str, dict[str, str], str]:
    """A user, a hub, a node and a plant with a year of readings: (email, headers, plant id)."""
    email = f"bench-app-{uuid.uuid4().hex[:8]}@example.org"
    http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    token = http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    user = {"Authorization": f"Bearer {token.json()['access_token']}"}
    account = create_account(http)  # a second gardener: the plant's data is not alone
    link_hub(http, account, "other")
    from bench._cloud import Account

    me = Account(
        uuid.UUID(http.get("/api/v1/auth/me", headers=user).json()["id"]),
        token.json()["access_token"],
    )
    hub_id, hub_token = link_hub(http, me, "Balcony")
    hub = {"Authorization": f"Bearer {hub_token}"}
    mac = "02:BE:0C:00:00:01"
    node = http.post("/api/v1/nodes", json={"mac": mac, "hub_id": str(hub_id)}, headers=user)
    node.raise_for_status()
    plant = http.post(
        "/api/v1/plants",
        json={"name": "Basil", "species_id": 1, "node_id": node.json()["id"]},
        headers=user,
    )
    plant.raise_for_status()
    now = datetime.now(UTC)
    times = [now - timedelta(minutes=step_min * i) for i in range(365 * 24 * 60 // step_min)]
    rows = [
        {
            "node_mac": mac,
            "measured_at": t.isoformat(),
            "moisture": 40 + (i % 97) / 5,
            "temperature": 18 + (i % 13) / 2,
            "humidity": 50 + (i % 29),
            "illuminance": float(1000 * (i % 11)),
            "battery": 80.0,
        }
        for i, t in enumerate(times)
    ]
    started = time.perf_counter()
    for start in range(0, len(rows), 5000):
        http.post(
            SYNC_READINGS_PATH,
            json={"batch_id": str(uuid.uuid4()), "readings": rows[start : start + 5000]},
            headers=hub,
            timeout=300,
        ).raise_for_status()
    say(f"seeded {len(rows)} readings (a year) in {time.perf_counter() - started:.1f} s")
    return email, user, plant.json()["id"]


def plant_page_calls(plant_id: str) -> list[str]:
    """The requests the plant page (and the garden page) make."""
    now = datetime.now(UTC)
    calls = [
        f"/api/v1/plants/{plant_id}",
        f"/api/v1/plants/{plant_id}/status",
        "/api/v1/hubs",
        f"/api/v1/plants/{plant_id}/images?limit=100",
        f"/api/v1/plants/{plant_id}/diagnoses?limit=20",
        f"/api/v1/plants/{plant_id}/alerts?limit=50",
        "/api/v1/garden",
    ]
    for days in (1, 7, 30, 365):
        start = (now - timedelta(days=days)).isoformat().replace("+00:00", "Z")
        end = now.isoformat().replace("+00:00", "Z")
        calls.append(f"/api/v1/plants/{plant_id}/readings?start={start}&end={end}&max_points=400")
    return calls


BASELINE_CALL = "/api/v1/auth/me"  # the cheapest authenticated call: token check, one row


def _timed(http: httpx.Client, path: str, user: dict[str, str]) -> float:
    started = time.perf_counter()
    response = http.get(path, headers=user)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[max(int(len(ordered) * 0.95) - 1, 0)], 1)


def api_p95(http: httpx.Client, user: dict[str, str], plant_id: str, rounds: int) -> dict[str, Any]:
    """p95 and median (ms) over every call of the plant page, ``rounds`` times, each call
    followed by the baseline call on the same connection."""
    calls = plant_page_calls(plant_id)
    for path in [*calls, BASELINE_CALL]:  # warm-up: connections, plans, caches
        http.get(path, headers=user).raise_for_status()
    samples: list[float] = []
    baseline: list[float] = []
    slowest: dict[str, float] = {}
    for _ in range(rounds):
        for path in calls:
            elapsed = _timed(http, path, user)
            samples.append(elapsed)
            baseline.append(_timed(http, BASELINE_CALL, user))
            key = re.sub(r"\?.*", "", path.replace(plant_id, "{id}"))
            slowest[key] = max(slowest.get(key, 0.0), elapsed)
    p95, floor = _p95(samples), _p95(baseline)
    return {
        "api_p95_ms": p95,
        "api_median_ms": round(statistics.median(samples), 1),
        "baseline_api_p95_ms": floor,
        "baseline_api_median_ms": round(statistics.median(baseline), 1),
        "api_ratio": round(p95 / floor, 2) if floor else None,
        "api_calls": len(samples),
        "slowest_ms": {
            k: round(v, 1) for k, v in sorted(slowest.items(), key=lambda kv: -kv[1])[:4]
        },
    }


def shell_kb(http: httpx.Client) -> tuple[float, int]:
    """Bytes of every file the service worker precaches (KB) and how many files."""
    worker = http.get("/app/sw.js").text
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", worker, re.S).group(1))  # type: ignore[union-attr]
    total = len(worker.encode())
    for path in shell:
        response = http.get(path)
        response.raise_for_status()
        total += len(response.content)
    return round(total / 1024, 1), len(shell) + 1


def _render_ms(page: Any, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        page.goto("/app/")
        page.locator("body[data-ready=true] article.card").first.wait_for()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def first_renders(base: str, email: str, runs: int) -> tuple[float, float]:
    """Median ms from navigation to the garden rendered: with the network (the baseline), then
    offline from the worker's cache."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base, viewport={"width": 360, "height": 780})
        page = context.new_page()
        page.goto("/app/signin")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/app/")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        page.locator("body[data-ready=true]").wait_for()
        online = _render_ms(page, runs)
        assert not page.locator("#offline").is_visible(), "the baseline ran offline"
        context.set_offline(True)
        cached = _render_ms(page, runs)
        assert page.locator("#offline").is_visible(), "the page was not served from the cache"
        browser.close()
    return online, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="hourly readings, fewer rounds")
    args = parser.parse_args()
    step, rounds, runs = (60, 10, 5) if args.quick else (10, 40, 15)
    with embedded_database("bench_cloud_app") as (_server, url), cloud_server(url) as base:
        with httpx.Client(base_url=base, timeout=60) as http:
            email, user, plant_id = seed(http, step)
            figures = api_p95(http, user, plant_id, rounds)
            p95, median = figures["api_p95_ms"], figures["api_median_ms"]
            say(
                f"plant page API: p95 {p95} ms, median {median} ms; slowest {figures['slowest_ms']}"
            )
            say(
                f"baseline {BASELINE_CALL}: p95 {figures['baseline_api_p95_ms']} ms; "
                f"ratio {figures['api_ratio']}"
            )
            kb, files = shell_kb(http)
            say(f"app shell: {kb} KB in {files} files")
        online, render = first_renders(base, email, runs)
        say(f"first render from the service worker's cache: {render} ms (online: {online} ms)")
    emit_result(
        {
            **figures,
            "shell_kb": kb,
            "shell_files": files,
            "cached_first_render_ms": render,
            "online_first_render_ms": online,
            "render_ratio": round(render / online, 2) if online else None,
            "readings_per_plant": 365 * 24 * 60 // step,
            "machine": machine_info(),
        }
    )


if __name__ == "__main__":
    main()
