"""docs/operations.md: the settings it tells operators to change exist, the benchmark table names
every benchmark and points at the one file holding measured figures."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.names import command_envvars, settings_env_names

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
BENCH = DOC.parents[1] / "bench"


def test_settings_named_in_the_doc_exist() -> None:
    hub = settings_env_names("hub.settings", "HubSettings")
    cloud = settings_env_names("cloud.settings", "CloudSettings")
    known = hub | cloud | command_envvars("hub", "backup")
    named = set(re.findall(r"\bPLANTVITA_(?:HUB|CLOUD)_[A-Z0-9_]+", DOC.read_text()))
    assert named
    assert named - known == set()


def test_benchmark_table_names_every_benchmark() -> None:
    text = DOC.read_text()
    section = text[text.index("## 3. Benchmark figures") :]
    rows = re.findall(r"^\| `bench\.(\w+)` \|", section, re.M)
    modules = sorted(p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_"))
    assert sorted(rows) == modules
    # Figures are written by `make bench` into benchmarks.md only, never copied by hand here.
    assert "(benchmarks.md)" in section


def test_metric_names_in_the_doc_are_defined_by_the_apps() -> None:
    repo = DOC.parents[1]
    source = "\n".join(
        path.read_text() for package in ("hub", "cloud") for path in (repo / package).rglob("*.py")
    )
    defined = set(re.findall(r'"((?:plantvita_cloud|hub)_[a-z_]+)"', source))
    assert defined
    documented = set(re.findall(r"`((?:plantvita_cloud|hub)_[a-z_]+)`", DOC.read_text()))
    assert documented
    # prometheus-client adds _total to counters, _count/_sum/_bucket to histogram series.
    suffixes = ("_total", "_count", "_sum", "_bucket")
    missing = set()
    for name in documented:
        bases = {name} | {name.removesuffix(suffix) for suffix in suffixes}
        if not bases & defined:
            missing.add(name)
    assert missing == set()
