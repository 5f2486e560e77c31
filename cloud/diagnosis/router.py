"""Diagnosis routes: a plant's diagnosis history, re-diagnosis, one diagnosis and its job."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from cloud.auth.dependencies import CurrentUser
from cloud.db.session import SessionDep
from cloud.diagnosis import service
from cloud.diagnosis.schemas import DiagnosisPublic
from cloud.pagination import LIST_RESPONSES, PageDep, respond
from shared.sync import API_PREFIX

router = APIRouter(tags=["diagnoses"])


@router.get(
    f"{API_PREFIX}/plants/{{plant_id}}/diagnoses",
    response_model=list[DiagnosisPublic],
    responses=LIST_RESPONSES,
)
async def list_plant_diagnoses(
    plant_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
) -> list[DiagnosisPublic]:
    """The plant's diagnoses, newest first: queued, running, succeeded and failed (a page: see
    Pagination)."""
    diagnoses = await service.list_plant_diagnoses(session, user.id, plant_id, page)
    return respond(request, response, diagnoses)


@router.post(
    f"{API_PREFIX}/images/{{image_id}}/diagnoses",
    response_model=DiagnosisPublic,
    status_code=status.HTTP_202_ACCEPTED,
)
async def request_rediagnosis(
    image_id: uuid.UUID, user: CurrentUser, session: SessionDep, response: Response
) -> DiagnosisPublic:
    """Queue a new diagnosis of the photo; 200 with the current one if one is under way."""
    diagnosis, created = await service.rediagnose(session, user.id, image_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    # Where to follow the job (RFC 9110 §15.3.3): the diagnosis, queued or under way.
    response.headers["Location"] = f"{API_PREFIX}/diagnoses/{diagnosis.id}"
    return diagnosis


@router.get(f"{API_PREFIX}/diagnoses/{{diagnosis_id}}", response_model=DiagnosisPublic)
async def get_diagnosis(
    diagnosis_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> DiagnosisPublic:
    """One diagnosis: status, attempts, last error (dead letters included) and the verdict."""
    return await service.get_diagnosis(session, user.id, diagnosis_id)
