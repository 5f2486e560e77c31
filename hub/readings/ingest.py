"""Storing what the gateway decoded: readings of paired nodes (refusing replays of an earlier
sequence epoch), counter restarts, and the stored values of given sequence numbers."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from hub.ble.ports import DecodedReading, RefusedReplays
from hub.nodes import service as nodes_service
from hub.readings import repository
from hub.store.types import to_ms
from shared.metrics import Metric, out_of_range
from shared.sync import ReadingSource

log = structlog.get_logger(__name__)


def valid_values(reading: DecodedReading) -> dict[str, float]:
    """The reading's values inside their metric's range (the others are logged and dropped)."""
    values: dict[str, float] = {}
    for metric, value in reading.values.items():
        reason = out_of_range(Metric(metric), value)
        if reason:
            log.warning("reading_value_out_of_range", mac=reading.node_mac, reason=reason)
            continue
        values[Metric(metric).value] = float(value)
    return values


async def store_readings(
    session: AsyncSession, readings: Sequence[DecodedReading]
) -> tuple[int, dict[str, RefusedReplays]]:
    """Insert readings of paired nodes; (rows inserted, refused replays by node MAC).

    Duplicates by (node, epoch, seq, channel) or (node, channel, time) are ignored; readings of
    unknown nodes are logged and skipped. After a counter restart with the same bindkey,
    adverts recorded in an earlier epoch under that key still authenticate; an advert whose
    seq and values equal a reading of such an epoch is a replay and is refused.
    """
    refused: dict[str, int] = {}
    ids = await nodes_service.node_epochs(session, (r.node_mac for r in readings))
    # Adverts of a node in a later epoch under the same key could be replays of an
    # earlier epoch's adverts (GATT records are authentic and never checked).
    later_epochs: dict[tuple[int, int, int], list[DecodedReading]] = {}
    for reading in readings:
        known = ids.get(reading.node_mac)
        advert = reading.source is ReadingSource.ADVERT
        if known is not None and reading.seq is not None and advert:
            node_id, current_epoch, key_epoch = known
            epoch = current_epoch if reading.seq_epoch is None else reading.seq_epoch
            if epoch > key_epoch:
                later_epochs.setdefault((node_id, key_epoch, epoch), []).append(reading)
    replayed: set[int] = set()
    for (node_id, key_epoch, epoch), candidates in later_epochs.items():
        earlier = await repository.earlier_epoch_values(
            session,
            node_id,
            key_epoch,
            epoch,
            [r.seq for r in candidates if r.seq is not None],
        )
        for reading in candidates:
            if valid_values(reading) in earlier.get((reading.seq or 0, reading.channel), []):
                replayed.add(id(reading))
                refused[reading.node_mac] = refused.get(reading.node_mac, 0) + 1
    rows: list[repository.NewReading] = []
    last_seq: dict[tuple[int, int], int] = {}
    for reading in readings:
        known = ids.get(reading.node_mac)
        if known is None:
            log.warning("reading_of_unpaired_node", mac=reading.node_mac)
            continue
        node_id, current_epoch, _key_epoch = known
        epoch = current_epoch if reading.seq_epoch is None else reading.seq_epoch
        if id(reading) in replayed:
            continue
        values = valid_values(reading)
        if not values:
            continue
        rows.append(
            repository.NewReading(
                node_id=node_id,
                measured_at_ms=to_ms(reading.measured_at),
                seq=reading.seq,
                seq_epoch=epoch,
                source=reading.source.value,
                values=values,
                channel=reading.channel,
            )
        )
        if reading.seq is not None:
            key = (node_id, epoch)
            last_seq[key] = max(last_seq.get(key, -1), reading.seq)
    inserted = await repository.insert_readings(session, rows)
    await repository.raise_last_seq(session, last_seq)
    replays: dict[str, RefusedReplays] = {}
    for mac, count in refused.items():
        node = await nodes_service.node_by_mac(session, mac)
        replays[mac] = RefusedReplays(count, node.last_seq if node else None)
    return inserted, replays


async def start_counter_epoch(session: AsyncSession, mac: str, moved: Sequence[int]) -> int:
    """Open a new sequence epoch for a paired node (``KeyError`` if not paired); readings of
    the current epoch with a seq in ``moved`` move to the new one. Returns its number."""
    ids = await nodes_service.node_ids(session, [mac])
    if mac not in ids:
        raise KeyError(f"node {mac} is not paired")
    return await repository.start_epoch(session, ids[mac], moved)


async def values_by_seq(
    session: AsyncSession, mac: str, seqs: Sequence[int]
) -> dict[int, dict[Metric, float]]:
    """Values of the node's readings with these seqs in its current epoch, by seq."""
    known = (await nodes_service.node_epochs(session, [mac])).get(mac)
    if known is None:
        return {}
    node_id, epoch, _key_epoch = known
    found = await repository.values_by_seq(session, node_id, epoch, seqs)
    return {seq: {Metric(m): v for m, v in values.items()} for seq, values in found.items()}
