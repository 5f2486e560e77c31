"""The three tiers as real processes on loopback, started by the demo's own code
(``plantvita.demo.run.start_tiers``) against a fresh database on the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from plantvita.demo import scenario
from plantvita.demo.garden_hub import LABELS_FILE
from plantvita.demo.run import DemoOptions, start_tiers
from plantvita.demo.supervisor import Supervisor, free_port
from tests.e2e.harness import process_alive

NODES = 3
PASSWORD = "a long and good demo password"


@dataclass
class Tiers:
    """Cloud API, worker and garden hub running as processes."""

    supervisor: Supervisor
    options: DemoOptions
    database_url: str

    @property
    def cloud_url(self) -> str:
        """Base URL of the cloud API."""
        return f"http://127.0.0.1:{self.options.cloud_port}"

    @property
    def hub_url(self) -> str:
        """Base URL of the hub."""
        return f"http://127.0.0.1:{self.options.hub_port}"

    @property
    def labels(self) -> dict[str, str]:
        """MAC → bindkey of the emulated nodes."""
        return scenario.read_labels(self.options.data_dir / "hub" / LABELS_FILE)

    def running(self) -> None:
        """Fail with the log of any tier that died."""
        for child in self.supervisor.dead():
            pytest.fail(f"{child.name} exited {child.process.returncode}:\n{child.tail(60)}")


@pytest.fixture
def tiers(tmp_path: Path, database_url: str) -> Iterator[Tiers]:
    options = DemoOptions(
        data_dir=tmp_path / "e2e", nodes=NODES, cloud_port=free_port(), hub_port=free_port()
    )
    options.data_dir.mkdir(parents=True)
    supervisor = Supervisor(options.data_dir / "logs")
    overrides = {
        "PLANTVITA_CLOUD_ALERT_MIN_DURATION_S": "10",
        "PLANTVITA_CLOUD_LOG_LEVEL": "WARNING",
    }
    try:
        start_tiers(
            supervisor,
            options,
            database_url,
            cloud_overrides=overrides,
            hub_overrides={"PLANTVITA_HUB_ALERT_MIN_DURATION_S": "10"},
        )
        yield Tiers(supervisor, options, database_url)
    finally:
        supervisor.stop()
        assert [c.name for c in supervisor.children if process_alive(c.pid)] == []


@dataclass
class Clients:
    """HTTP clients for the cloud (as the user) and the hub (as its admin)."""

    cloud: httpx.AsyncClient
    hub: httpx.AsyncClient


@pytest.fixture
async def clients(tiers: Tiers) -> AsyncIterator[Clients]:
    await scenario.wait_healthy(tiers.cloud_url, 90)
    await scenario.wait_healthy(tiers.hub_url, 90)
    async with (
        httpx.AsyncClient(base_url=tiers.cloud_url, timeout=30) as cloud,
        httpx.AsyncClient(base_url=tiers.hub_url, timeout=60, auth=("admin", PASSWORD)) as hub,
    ):
        yield Clients(cloud, hub)
