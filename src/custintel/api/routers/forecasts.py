"""``/v1/forecasts``: the served sales forecast, ready to chart."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from custintel.api import queries
from custintel.api.cache import cached_json
from custintel.api.deps import DbSession, StateDep
from custintel.api.schemas import NOT_MODIFIED, PROBLEM_RESPONSES, ForecastsOut
from custintel.api.security import ReadKey

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"], responses=PROBLEM_RESPONSES)


@router.get(
    "",
    response_model=ForecastsOut,
    summary="Sales forecast with 80/95 % intervals, history and backtest accuracy",
    responses=NOT_MODIFIED,
)
def get_forecasts(
    request: Request,
    app: StateDep,
    session: DbSession,
    _: ReadKey,
    timeframe: Literal["daily", "weekly", "monthly"] = "weekly",
    horizon: Annotated[
        int | None, Query(ge=1, le=10_000, description="periods ahead; all trained if omitted")
    ] = None,
    by: Annotated[str | None, Query(max_length=64, description="breakdown, e.g. category")] = None,
) -> Response:
    version = queries.served(session, "forecasting")
    return cached_json(
        request,
        app,
        [version.id],
        lambda: queries.forecasts(session, version, timeframe, by, horizon),
    )
