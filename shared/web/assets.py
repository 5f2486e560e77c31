"""Static files read once from package directories, with a content ETag per file."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

SHARED_STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class Asset:
    """A file served from the package, read once."""

    body: bytes
    media_type: str
    etag: str


def _media_type(path: Path) -> str:
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix in (".js", ".mjs"):
        media = "text/javascript"
    elif path.suffix == ".webmanifest":
        media = "application/manifest+json"
    if media.startswith("text/") or path.suffix in (".svg", ".json", ".webmanifest"):
        media += "; charset=utf-8"
    return media


def load_assets(*directories: Path) -> dict[str, Asset]:
    """Every file under the directories by relative path; one name in two of them is an error
    (a tier's file must never silently shadow a shared one)."""
    assets: dict[str, Asset] = {}
    for directory in directories:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(directory).as_posix()
            if name in assets:
                raise ValueError(f"static file {name} exists in two asset directories")
            body = path.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            assets[name] = Asset(body, _media_type(path), etag)
    return assets
