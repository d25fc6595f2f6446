"""``/v1/dashboard``: the JSON behind the dashboard's charts that no other route serves
(read scope). Each answers 409 when its capability has no active model, and carries an
ETag like the other reads (the answer depends only on the versions it read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from custintel.api import dashboard_queries as dq
from custintel.api.cache import cached_json
from custintel.api.dashboard_schemas import (
    ChurnOut,
    OverviewOut,
    ProjectionOut,
    RfmGridOut,
    SegmentPerformanceOut,
)
from custintel.api.deps import DbSession, StateDep
from custintel.api.queries import served
from custintel.api.schemas import NOT_MODIFIED, PROBLEM_RESPONSES
from custintel.api.security import ReadKey

__all__ = ["router"]

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], responses=PROBLEM_RESPONSES)


@router.get(
    "/overview",
    response_model=OverviewOut,
    summary="Customers, revenue by period, next 30 days' forecast, freshness, versions",
    description="409 only when no capability has an active model; a part whose "
    "capability is missing is null and named in `missing`.",
    responses=NOT_MODIFIED,
)
def get_overview(request: Request, app: StateDep, session: DbSession, _: ReadKey) -> Response:
    versions = dq.active_versions(session)
    ids = [v.id for v in versions.values()]
    return cached_json(request, app, ids, lambda: dq.overview(session, versions))


@router.get(
    "/rfm-grid",
    response_model=RfmGridOut,
    summary="Customers and revenue per recency × frequency score (heatmap)",
    responses=NOT_MODIFIED,
)
def get_rfm_grid(request: Request, app: StateDep, session: DbSession, _: ReadKey) -> Response:
    version = served(session, "segmentation")
    return cached_json(request, app, [version.id], lambda: dq.rfm_grid(session, version))


@router.get(
    "/segment-performance",
    response_model=SegmentPerformanceOut,
    summary="Per RFM segment: customers, revenue, average order value, orders per customer",
    responses=NOT_MODIFIED,
)
def get_segment_performance(
    request: Request, app: StateDep, session: DbSession, _: ReadKey
) -> Response:
    version = served(session, "segmentation")
    return cached_json(request, app, [version.id], lambda: dq.segment_performance(session, version))


@router.get(
    "/projection",
    response_model=ProjectionOut,
    summary="A cluster-stratified sample of the customers' 2-D projection (scatter)",
    responses=NOT_MODIFIED,
)
def get_projection(
    request: Request,
    app: StateDep,
    session: DbSession,
    _: ReadKey,
    limit: Annotated[int, Query(ge=1, le=2000, description="most points returned")] = 2000,
) -> Response:
    version = served(session, "segmentation")
    return cached_json(request, app, [version.id], lambda: dq.projection(session, version, limit))


@router.get(
    "/churn",
    response_model=ChurnOut,
    summary="Churn-risk levels, value tiers and the top at-risk valuable customers",
    responses=NOT_MODIFIED,
)
def get_churn(
    request: Request,
    app: StateDep,
    session: DbSession,
    _: ReadKey,
    top: Annotated[int, Query(ge=0, le=1000, description="at-risk customers listed")] = 50,
) -> Response:
    version = served(session, "value")
    return cached_json(request, app, [version.id], lambda: dq.churn(session, version, top))
