"""``plantvita demo``: every tier on embedded defaults, supervised until Ctrl-C."""

from __future__ import annotations


def run_demo() -> int:
    """Start the tiers and wait; returns the process exit code."""
    raise SystemExit("plantvita demo: no tier has landed yet")
