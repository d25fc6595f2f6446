"""Health checks, open without a key: ``/healthz`` (the process answers) and
``/readyz`` (the app database answers and every capability has an active model)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from custintel.api.deps import StateDep
from custintel.registry.versions import CAPABILITIES, active

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="The process is alive",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database and the active models are usable",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "status": "ready",
                        "models": {"segmentation": 2, "forecasting": 3, "value": 1},
                        "reasons": [],
                    }
                }
            }
        },
        503: {
            "description": "Not ready, with the reasons",
            "content": {
                "application/json": {
                    "example": {
                        "status": "not ready",
                        "models": {"segmentation": None, "forecasting": 1, "value": 1},
                        "reasons": ["segmentation has no active model: train it"],
                    }
                }
            },
        },
    },
)
def readyz(app: StateDep) -> JSONResponse:
    reasons: list[str] = []
    models: dict[str, int | None] = {}
    try:
        with app.db.session() as session:
            session.execute(text("SELECT 1"))
            for capability in CAPABILITIES:
                version = active(session, capability)
                models[capability] = version.version if version else None
                if version is None:
                    reasons.append(
                        f"{capability} has no active model: train it "
                        "(POST /v1/jobs or `custintel demo`)"
                    )
    except Exception as error:  # the database down is a reason, not a crash
        reasons.append(f"the app database is not reachable ({type(error).__name__})")
    body = {"status": "ready" if not reasons else "not ready", "models": models, "reasons": reasons}
    return JSONResponse(
        body,
        status_code=200 if not reasons else 503,
        headers=None if not reasons else {"Retry-After": "30"},
    )
