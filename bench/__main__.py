"""``python -m bench``: run every benchmark in quick mode and write docs/benchmarks.md.

Each benchmark is ``python -m bench.NAME --quick`` in its own process; its last stdout line
is one JSON object of figures. The report records the machine, the date, every figure, its
target and whether the target was met, and for each benchmark when it ran and the load average
before and after it. ``python -m bench NAME …`` runs only those and keeps the other sections of
the report as they were; ``--full`` runs them in full mode (``python -m bench.NAME``), recorded
in their own "(full mode)" sections beside the quick ones. Figures from a shared machine are
noisy: the ratios measured within one run are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Target:
    """One figure's goal: ``key`` (dotted for nested objects) compared with ``limit``."""

    key: str
    op: str  # ">=", "<=" or "<"
    limit: float

    def met(self, value: float) -> bool:
        """Whether ``value`` meets this target."""
        if self.op == ">=":
            return value >= self.limit
        if self.op == "<=":
            return value <= self.limit
        return value < self.limit


WINDOWS = ("1d", "1w", "1mo", "1y")

# What each benchmark measures and against what; the issues set these targets.
BENCHMARKS: dict[str, tuple[str, list[Target]]] = {
    "ingest": (
        "readings/s through POST /api/v1/sync/readings vs raw psycopg COPY → staging → "
        "INSERT … ON CONFLICT (baseline), same table, same run",
        [Target("readings_per_s", ">=", 100_000), Target("ratio", ">=", 0.8)],
    ),
    "history": (
        "history API latency over 50 nodes × 1 year of 1-minute readings loaded in arrival "
        "order vs the naive date_bin query over raw rows (baseline); stored bytes per reading",
        [Target(f"p95_ms.{w}", "<", 20) for w in WINDOWS]
        + [Target("stored_bytes_per_reading", "<=", 150)],
    ),
    "hub_ble": (
        "adverts/s from bleak's detection callback to rows committed in SQLite vs bthome-ble "
        "decoding alone (baseline); hub RSS with 50 emulated nodes",
        [Target("adverts_per_s", ">=", 5_000), Target("rss_mb", "<=", 150)],
    ),
    "green": (
        "green-pixel metrics per 12 MP JPEG (DCT-scaled decode, integer math) vs full-resolution "
        "float reference (baseline)",
        [
            Target("speedup", ">=", 20),
            Target("ms_per_image", "<=", 60),
            Target("max_cover_diff", "<=", 0.01),
        ],
    ),
    "sync": (
        "readings/s from hub store to cloud database over loopback; catch-up after a 50-node "
        "outage; hub RSS",
        [
            Target("readings_per_s", ">=", 50_000),
            Target("catchup_s", "<", 60),
            Target("rss_mb", "<=", 150),
            # The hub alone while it catches up after an outage (the Pi budget).
            Target("catchup_rss_mb", "<=", 150),
        ],
    ),
    "hub_ui": (
        "hub garden overview in one request vs the same facts through the per-plant domain "
        "endpoints (baseline); the live stream's once-a-second change check",
        [Target("ratio", ">=", 2), Target("overview_ms", "<", 100), Target("version_ms", "<", 5)],
    ),
    "pi_budget": (
        "the hub in a 400 MB memory cgroup and 25 % of one core, hearing 50 emulated sensor + "
        "5 camera nodes that run with its Bumble controller in another process outside the "
        "cgroup (reached across a TCP HCI transport; the emulator's import cost is taken off "
        "rss_mb); overview page while 12 MP photos are analysed; green metrics per 12 MP photo "
        "under the quota vs unlimited (baseline)",
        [
            Target("rss_mb", "<=", 150),
            Target("oom_killed", "<=", 0),
            Target("readings_lost", "<=", 0),
            Target("photos_lost", "<=", 0),
            Target("overview_p95_ms", "<", 300),
        ],
    ),
    "watering": (
        "watering forecast (shared.watering) on emulated soil with sensor noise and an irregular "
        "gardener: mean absolute error in hours until the soil reaches the plant's minimum vs "
        "'same as the last interval' (baseline); emulated soil, not field data",
        [Target("mae_hours", "<=", 8)],
    ),
    "cloud_app": (
        "the cloud app: p95 of the plant page's API calls with a year of readings (quick: "
        "hourly) vs GET /api/v1/auth/me interleaved on the same server (baseline, api_ratio), "
        "the service worker's app shell over the wire, first render of the garden from the "
        "worker's cache with the network cut vs with the network on (baseline, render_ratio; "
        "chromium)",
        [
            Target("api_p95_ms", "<", 50),
            Target("shell_kb", "<=", 150),
            Target("cached_first_render_ms", "<", 1000),
        ],
    ),
    "fleet": (
        "a fleet of hubs (quick: 100, full: 2,000) x 8 nodes with plants sending 40-reading gzip "
        "batches interleaved in time through POST /api/v1/sync/readings (ledger, partitions, "
        "rollups, alert states), 2 uvicorn workers; the full run offers 17,000 readings/s "
        "(the hubs' own schedule, 2 % over the target), the quick one sends as fast as answered "
        "(64 in flight): readings/s, ack p50/p95, CPU ms per 1,000 readings of "
        "PostgreSQL and of the API processes, the load generator's apart, WAL and stored bytes "
        "per reading (default checkpoint settings, full_page_writes on), history p95 per window "
        "on the layout produced; vs the same batches COPY'd into a plain unpartitioned table "
        "(baseline, ratio); cpu_busy is all three over wall time x cores (not saturated: <= 0.8)",
        [
            Target("readings_per_s", ">=", 16_700),
            Target("cpu_busy", "<=", 0.8),
            Target("wal_bytes_per_reading", "<=", 600),
            Target("stored_bytes_per_reading", "<=", 150),
            Target("history_p95_ms.15m", "<", 20),
            Target("history_p95_ms.1h", "<", 20),
        ],
    ),
    "wal": (
        "WAL bytes per reading at production's clock: 8 hubs x 60 nodes with plants syncing "
        "5-minute batches through POST /api/v1/sync/readings with checkpoints every 5 "
        "(PostgreSQL's default), 30 or 60 simulated minutes, wal_compression off or pglz, "
        "1- and 10-minute readings, full-page-image share from pg_walinspect; headline at the "
        "recommended settings (docs/scaling.md) vs the same readings COPY'd batch by batch "
        "into a plain table with the raw table's primary key at the same checkpoints "
        "(baseline, ratio)",
        [Target("wal_bytes_per_reading", "<=", 600)],
    ),
    "api": (
        "authenticated 'latest readings of my plants' under concurrent load on loopback (wrk, "
        "32 connections, 2 uvicorn workers) vs GET /healthz on the same server (baseline)",
        [Target("requests_per_s", ">=", 1_500), Target("p99_ms", "<", 50)],
    ),
}


def lookup(figures: dict[str, Any], dotted: str) -> Any:
    """``figures["a"]["b"]`` for ``"a.b"``; None when absent."""
    value: Any = figures
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class Result:
    """One benchmark run: its figures (None when it failed), the error, seconds taken, the
    1-minute load average before and after, and when it ran."""

    figures: dict[str, Any] | None
    error: str
    took_s: float
    load: tuple[float, float]
    at: datetime


def run_one(name: str, timeout_s: float, full: bool = False) -> Result:
    """Run ``bench.NAME --quick`` (or in full mode) and read its last stdout line."""
    started, load_before, at = time.monotonic(), os.getloadavg()[0], datetime.now(UTC)

    def result(figures: dict[str, Any] | None, error: str = "") -> Result:
        took = time.monotonic() - started
        return Result(figures, error, took, (load_before, os.getloadavg()[0]), at)

    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", *([] if full else ["--quick"])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return result(None, f"timed out after {timeout_s:.0f} s")
    sys.stderr.write(proc.stderr[-4000:])
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return result(None, f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    try:
        figures = json.loads(lines[-1])
    except json.JSONDecodeError:
        return result(None, f"last line is not JSON: {lines[-1][:200]!r}")
    if not isinstance(figures, dict):
        return result(None, "last line is not a JSON object")
    return result(figures)


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


FULL = " (full mode)"


def heading(name: str, full: bool) -> str:
    """A benchmark's section heading in the report."""
    return f"## bench.{name}" + (FULL if full else "")


def render_section(name: str, full: bool, result: Result) -> str:
    """One benchmark's section: what it measures, its targets, all its figures."""
    what, targets = BENCHMARKS[name]
    out = [heading(name, full), "", what + ".", ""]
    if full:
        out += [f"Full mode: `python -m bench.{name}`.", ""]
    if result.figures is None:
        out += [f"**Did not produce figures:** {result.error}", ""]
        return "\n".join(out)
    out += ["| target | measured | met |", "|---|---|---|"]
    for target in targets:
        value = lookup(result.figures, target.key)
        if isinstance(value, int | float):
            verdict = "yes" if target.met(float(value)) else "**no**"
            goal = f"`{target.key}` {target.op} {target.limit:g}"
            out.append(f"| {goal} | {value:g} | {verdict} |")
        else:
            out.append(f"| `{target.key}` {target.op} {target.limit:g} | missing | **no** |")
    out += [
        "",
        f"Ran {result.at:%Y-%m-%d %H:%M} UTC, load average (1 min) {result.load[0]:.1f} before "
        f"/ {result.load[1]:.1f} after on {os.cpu_count()} cores.",
        "",
        f"All figures ({result.took_s:.0f} s): `{json.dumps(result.figures, sort_keys=True)}`",
        "",
    ]
    return "\n".join(out)


def kept_sections(report: str) -> dict[str, str]:
    """The sections of an existing report by heading (to keep those not run this time)."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in report.splitlines():
        if line.startswith("## bench."):
            current = line.strip()
            sections[current] = ""
        if current is not None:
            sections[current] += line + "\n"
    return {key: text.rstrip("\n") + "\n" for key, text in sections.items()}


def render(sections: dict[str, str], load: tuple[float, float]) -> str:
    """The Markdown report: the header, then each benchmark's quick and full sections."""
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`), which runs every `python -m bench.NAME "
        "--quick` and reads the JSON object on its last line; `python -m bench [--full] NAME` "
        "re-runs some and keeps the others' sections. Quick mode scales some workloads down; "
        "each benchmark says how in its own output. This machine is shared and noisy: compare "
        "the ratios measured within one run, not absolute times across runs.",
        "",
        f"- Last written: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Load average (1 min) when this run started / ended: {load[0]:.1f} / {load[1]:.1f} "
        f"on {os.cpu_count()} cores (other work on the machine slows every figure alike)",
        "",
    ]
    for name in BENCHMARKS:
        for full in (False, True):
            section = sections.get(heading(name, full))
            if section is not None:
                out.append(section)
            elif not full:
                out += [heading(name, full), "", "**Did not produce figures:** not run", ""]
    return "\n".join(out)


def main() -> int:
    """Run the selected benchmarks and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per benchmark")
    parser.add_argument("--full", action="store_true", help="full mode instead of --quick")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(unknown)}")
    names = args.names or list(BENCHMARKS)
    # Sections not run this time (other benchmarks, the other mode) stay as they were.
    sections = kept_sections(REPORT.read_text()) if REPORT.exists() else {}
    load_at_start = os.getloadavg()[0]
    failed = []
    for name in names:
        print(f"== bench.{name}" + ("" if args.full else " --quick"), flush=True)
        result = run_one(name, args.timeout, args.full)
        sections[heading(name, args.full)] = render_section(name, args.full, result)
        if result.figures is None:
            failed.append(name)
        print(json.dumps(result.figures) if result.figures else f"FAILED: {result.error}")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(render(sections, (load_at_start, os.getloadavg()[0])) + "\n")
    print(f"wrote {REPORT.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
