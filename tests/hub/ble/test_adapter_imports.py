"""A hub on its adapter carries neither the emulated radio (Bumble and the emulator: about 13 MB
of RSS) nor, until it hears a Xiaomi device, xiaomi-ble (about 9 MB): a Pi Zero 2 W has about
150 MB for the hub (bench.pi_budget)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.pi

PROGRAM = """
import json, sys
import hub.app, hub.ble.gateway, hub.commands, hub.gateways
app = hub.app.create_app
print(json.dumps(sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("bumble", "xiaomi_ble") or name.startswith("hub.ble.emulator")
)))
"""


def test_serving_on_the_adapter_imports_neither_bumble_nor_the_emulator_nor_xiaomi_ble() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=600
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
