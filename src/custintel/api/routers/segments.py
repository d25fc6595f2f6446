"""``/v1/segments``: the served segmentation and migration between two dates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from custintel.api import queries
from custintel.api.cache import cached_json
from custintel.api.deps import DbSession, StateDep
from custintel.api.schemas import (
    NOT_MODIFIED,
    PROBLEM_RESPONSES,
    MigrationOut,
    SegmentPredictIn,
    SegmentPredictOut,
    SegmentsOut,
)
from custintel.api.security import PredictKey, ReadKey

router = APIRouter(prefix="/v1/segments", tags=["segments"], responses=PROBLEM_RESPONSES)


@router.get(
    "",
    response_model=SegmentsOut,
    summary="Segments: sizes, revenue share, profiles",
    responses=NOT_MODIFIED,
)
def get_segments(request: Request, app: StateDep, session: DbSession, _: ReadKey) -> Response:
    version = queries.served(session, "segmentation")
    return cached_json(request, app, [version.id], lambda: queries.segments(session, version))


@router.get(
    "/migration",
    response_model=MigrationOut,
    summary="Customers moving between segments from one date to another",
    responses=NOT_MODIFIED,
)
def get_migration(
    request: Request,
    app: StateDep,
    session: DbSession,
    _: ReadKey,
    start: Annotated[date, Query(description="as_of of the earlier segmentation")],
    end: Annotated[date, Query(description="as_of of the later segmentation")],
    by: Annotated[Literal["rfm_segment", "cluster_name"], Query()] = "rfm_segment",
) -> Response:
    first, last = queries.migration_versions(session, start, end)
    return cached_json(
        request, app, [first.id, last.id], lambda: queries.migration(session, first, last, by)
    )


@router.post("/predict", summary="The segment of known customer ids, or of feature rows")
def post_segment_predict(
    body: SegmentPredictIn, app: StateDep, session: DbSession, _: PredictKey
) -> SegmentPredictOut:
    version = queries.served(session, "segmentation")
    return queries.predict_segments(
        session, version, body, app.settings.home / "models", app.settings.max_batch_size
    )
