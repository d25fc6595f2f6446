"""``/v1/models``: trained versions, their accuracy, and activation (admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from custintel.api import queries
from custintel.api.deps import DbSession
from custintel.api.schemas import PROBLEM_RESPONSES, ModelVersionDetail, ModelVersionOut
from custintel.api.security import AdminKey, ReadKey

router = APIRouter(prefix="/v1/models", tags=["models"], responses=PROBLEM_RESPONSES)
Capability = Literal["segmentation", "forecasting", "value"]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", summary="Every trained version, newest first, marked active or not")
def list_models(
    session: DbSession, _: ReadKey, capability: Annotated[Capability | None, Query()] = None
) -> list[ModelVersionOut]:
    return queries.models(session, capability)


@router.get("/{capability}/{version}", summary="One version with its training summary")
def get_model(
    capability: Capability, version: Version, session: DbSession, _: ReadKey
) -> ModelVersionDetail:
    return queries.model_detail(session, capability, version)


@router.post(
    "/{capability}/{version}/activate",
    summary="Serve this version from the next request on (also a rollback)",
)
def activate_model(
    capability: Capability, version: Version, session: DbSession, _: AdminKey
) -> ModelVersionOut:
    return queries.activate_version(session, capability, version)
