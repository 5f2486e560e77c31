"""``plantvita demo``: the cloud, its worker and a hub with an emulated garden, supervised."""

from __future__ import annotations

from pathlib import Path


def run_demo(
    *,
    data_dir: Path | None = None,
    nodes: int = 8,
    cloud_port: int = 8000,
    hub_port: int = 8080,
    keep: bool = False,
) -> int:
    """Start every tier, set the garden up, report until SIGINT/SIGTERM; the exit code."""
    from plantvita.demo.run import run_demo as run

    return run(data_dir=data_dir, nodes=nodes, cloud_port=cloud_port, hub_port=hub_port, keep=keep)
