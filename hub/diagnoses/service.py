"""Diagnoses: mirror the cloud's digest, and the plant page's view of it."""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from hub.diagnoses import repository
from hub.diagnoses.models import Diagnosis
from hub.diagnoses.schemas import DiagnosisList, DiagnosisPhoto, DiagnosisPublic
from hub.images.models import Image
from hub.store import kv
from hub.store.types import utcnow
from shared.sync import DiagnosisDigest, DiagnosisFinding

LEDGER_KIND = "diagnoses"
ETAG_KEY = "diagnoses_etag"  # the digest version this hub holds (If-None-Match)


async def apply_digest(session: AsyncSession, digest: DiagnosisDigest, etag: str | None) -> int:
    """Replace the mirror with the cloud's digest; return how many diagnoses it holds."""
    now = utcnow()
    rows = [
        Diagnosis(
            id=str(item.id),
            plant_id=str(item.plant_id),
            image_sha256=item.image_sha256,
            image_captured_at=item.image_captured_at,
            status=item.status,
            health=item.health,
            confidence=item.confidence,
            summary=item.summary,
            findings="[" + ",".join(f.model_dump_json() for f in item.findings) + "]",
            recommended_actions=_json_list(item.recommended_actions),
            follow_up=item.follow_up,
            source=item.source,
            model=item.model,
            requested_at=item.requested_at,
            finished_at=item.finished_at,
            received_at=now,
        )
        for item in digest.diagnoses
    ]
    await repository.replace_all(session, rows)
    await kv.put(session, ETAG_KEY, etag)
    return len(rows)


def _json_list(values: list[str]) -> str:
    return orjson.dumps(values).decode()


def _photo(image: Image | None) -> DiagnosisPhoto | None:
    if image is None:
        return None
    return DiagnosisPhoto(
        image_id=image.id,
        file_url=f"/api/v1/images/{image.id}/file",
        thumbnail_url=f"/api/v1/images/{image.id}/thumbnail" if image.thumbnail_path else None,
    )


def to_public(row: Diagnosis, image: Image | None) -> DiagnosisPublic:
    """The API view of a mirrored diagnosis."""
    return DiagnosisPublic(
        id=row.id,
        plant_id=row.plant_id,
        status=row.status,
        health=row.health,
        confidence=row.confidence,
        summary=row.summary,
        findings=[DiagnosisFinding.model_validate(f) for f in orjson.loads(row.findings)],
        recommended_actions=[str(a) for a in orjson.loads(row.recommended_actions)],
        follow_up=row.follow_up,
        source=row.source,
        model=row.model,
        image_sha256=row.image_sha256,
        image_captured_at=row.image_captured_at,
        photo=_photo(image) if image is not None and image.file_present else None,
        requested_at=row.requested_at,
        finished_at=row.finished_at,
        received_at=row.received_at,
    )


async def for_plant(session: AsyncSession, plant_id: str, limit: int) -> DiagnosisList:
    """A plant's diagnoses as last pulled, and when the hub last heard from the cloud."""
    rows = await repository.for_plant(session, plant_id, limit)
    last_checked_at = await repository.last_pulled_at(session, LEDGER_KIND)
    token = await kv.get(session, kv.HUB_TOKEN)
    return DiagnosisList(
        items=[to_public(row, image) for row, image in rows],
        last_checked_at=last_checked_at,
        linked=token is not None,
    )
