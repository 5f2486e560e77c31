"""Child process for the SIGKILL test: writes readings through the store's writer and prints
each sequence number once ``store_readings`` returned (i.e. the hub acknowledged it)."""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import timedelta
from pathlib import Path

from hub.hub_store import open_store
from hub.settings import Environment, HubSettings
from tests.hub.factories import T0, create_readings

MAC = "AA:BB:CC:DD:EE:01"


async def main(data_dir: Path, start_seq: int) -> None:
    settings = HubSettings(environment=Environment.TEST, data_dir=data_dir, ble_enabled=False)
    async with open_store(settings) as store:
        await store.pair_node(MAC, bindkey=bytes(16))
        print("ready", flush=True)
        seq = start_seq

        async def writer() -> None:
            nonlocal seq
            while True:
                size = random.randint(1, 40)
                first, seq = seq, seq + size
                # One minute per seq so the (node, time) key never collides across runs.
                batch = create_readings(
                    MAC, size, start_seq=first, start=T0 + timedelta(minutes=first)
                )
                await store.store_readings(batch)
                sys.stdout.write("".join(f"ack {r.seq}\n" for r in batch))
                sys.stdout.flush()

        await asyncio.gather(*(writer() for _ in range(3)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
