"""An emulated node's flash journal: append-only JSONL beside its state file.

It is two things at once. The node's own log of every measurement it produced and every
photo it served: the ground truth end-to-end tests compare the cloud against. And what makes
the node's flash (unacknowledged records, photos not yet deleted) survive the death of the
process it runs in, as a real node's flash survives the hub being killed: replaying the
journal rebuilds it. Lines are written with one ``write`` each, so a SIGKILL can at worst
leave one torn last line, which replay skips.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.metrics import Metric


@dataclass(frozen=True, slots=True)
class JournalMeasurement:
    """A measurement as journalled: ``incarnation`` counts the flash losses before it."""

    seq: int
    measured_at: datetime
    epoch: int
    incarnation: int
    values: dict[Metric, float]


@dataclass(frozen=True, slots=True)
class JournalPhoto:
    """A photo the node took (its bytes are in ``<stem>-img-<id>.jpg`` while in flash)."""

    image_id: int
    epoch: int
    sha256: str
    incarnation: int


@dataclass(slots=True)
class JournalState:
    """What replaying a journal gives back."""

    measurements: list[JournalMeasurement] = field(default_factory=list)
    incarnation: int = 0
    acked_upto: int = 0
    photos: dict[int, JournalPhoto] = field(default_factory=dict)  # still in flash
    served: list[tuple[int, str]] = field(default_factory=list)  # (image id, sha256) served


class NodeJournal:
    """Append-only journal at ``path`` (``<state file stem>.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def image_path(self, image_id: int) -> Path:
        """Where the bytes of photo ``image_id`` are kept while it is in flash."""
        return self.path.with_name(f"{self.path.stem}-img-{image_id}.jpg")

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line)

    def measured(self, m: JournalMeasurement) -> None:
        """A measurement was taken (journalled before it is advertised)."""
        self._append(
            {
                "m": m.seq,
                "at": m.measured_at.isoformat(),
                "epoch": m.epoch,
                "inc": m.incarnation,
                "v": {metric.value: value for metric, value in m.values.items()},
            }
        )

    def acked(self, seq: int) -> None:
        """The hub acknowledged every record up to ``seq``."""
        self._append({"ack": seq})

    def photo(self, image_id: int, epoch: int, data: bytes, incarnation: int) -> None:
        """A photo was taken: its bytes go to their own file first, then the line."""
        path = self.image_path(image_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        digest = hashlib.sha256(data).hexdigest()
        self._append({"photo": image_id, "epoch": epoch, "sha256": digest, "inc": incarnation})

    def served(self, image_id: int, data: bytes) -> None:
        """Every byte of a photo went out to the hub (IMG_GET completed)."""
        self._append({"served": image_id, "sha256": hashlib.sha256(data).hexdigest()})

    def deleted(self, image_id: int) -> None:
        """The hub deleted a photo from flash."""
        self._append({"deleted": image_id})
        self.image_path(image_id).unlink(missing_ok=True)

    def wiped(self, incarnation: int, image_ids: list[int]) -> None:
        """The flash was lost: counter, records and photos start over."""
        self._append({"wipe": incarnation})
        for image_id in image_ids:
            self.image_path(image_id).unlink(missing_ok=True)

    def replay(self) -> JournalState:
        """Rebuild the node's log and flash from the journal (empty when there is none)."""
        state = JournalState()
        if not self.path.exists():
            return state
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill mid-write
            if "m" in entry:
                state.measurements.append(
                    JournalMeasurement(
                        seq=int(entry["m"]),
                        measured_at=datetime.fromisoformat(entry["at"]),
                        epoch=int(entry["epoch"]),
                        incarnation=int(entry["inc"]),
                        values={Metric(k): float(v) for k, v in entry["v"].items()},
                    )
                )
            elif "ack" in entry:
                state.acked_upto = max(state.acked_upto, int(entry["ack"]))
            elif "photo" in entry:
                photo = JournalPhoto(
                    int(entry["photo"]), int(entry["epoch"]), entry["sha256"], int(entry["inc"])
                )
                state.photos[photo.image_id] = photo
            elif "served" in entry:
                state.served.append((int(entry["served"]), str(entry["sha256"])))
            elif "deleted" in entry:
                state.photos.pop(int(entry["deleted"]), None)
            elif "wipe" in entry:
                state.incarnation = int(entry["wipe"])
                state.acked_upto = 0
                state.photos.clear()
        return state
