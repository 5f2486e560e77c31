"""Image files on disk, addressed by content hash (so the same photo is stored once)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ImageStorage:
    """Files under ``root``: ``ab/<sha256>.<ext>`` originals and ``thumbs/ab/<sha256>.jpg``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def original_path(self, sha256: str, content_type: str) -> str:
        """Relative path of an original."""
        ext = "png" if content_type == "image/png" else "jpg"
        return f"{sha256[:2]}/{sha256}.{ext}"

    def thumbnail_path(self, sha256: str) -> str:
        """Relative path of a thumbnail."""
        return f"thumbs/{sha256[:2]}/{sha256}.jpg"

    def absolute(self, relative: str) -> Path:
        """Where a relative path lives; refuses paths that escape the root."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("path outside the image store")
        return path

    def write(self, relative: str, data: bytes) -> None:
        """Write atomically and durably (temp file, fsync, rename); a present file is kept."""
        target = self.absolute(relative)
        if target.exists() and target.stat().st_size == len(data):
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, relative: str) -> bytes:
        """The file's bytes."""
        return self.absolute(relative).read_bytes()

    def delete(self, relative: str) -> int:
        """Remove a file; returns the bytes freed."""
        path = self.absolute(relative)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return 0
        path.unlink(missing_ok=True)
        return size

    def total_bytes(self) -> int:
        """Bytes of every file in the store."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.stat(os.path.join(dirpath, name)).st_size
                except FileNotFoundError:
                    continue
        return total
