"""``/v1/customers`` and ``/v1/predictions``: one customer, a sorted page, a batch."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from custintel.api import queries
from custintel.api.cache import cached_json
from custintel.api.deps import DbSession, StateDep
from custintel.api.metrics import count_predictions
from custintel.api.schemas import (
    NOT_MODIFIED,
    PROBLEM_RESPONSES,
    CustomerOut,
    CustomerPage,
    PredictionsIn,
    PredictionsOut,
)
from custintel.api.security import PredictKey, ReadKey

router = APIRouter(prefix="/v1", tags=["customers"], responses=PROBLEM_RESPONSES)
SortField = Literal["expected_spend", "churn_probability", "clv", "p_active", "expected_orders"]


@router.get(
    "/customers",
    response_model=CustomerPage,
    summary="A page of customers with their predictions, sorted by one of them",
    responses=NOT_MODIFIED,
)
def list_customers(
    request: Request,
    app: StateDep,
    session: DbSession,
    _: ReadKey,
    sort: SortField = "expected_spend",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    version = queries.served(session, "value")
    return cached_json(
        request,
        app,
        [version.id],
        lambda: queries.customer_page(session, version, sort, order, limit, offset),
    )


@router.get(
    "/customers/{customer_id}",
    summary="One customer: segment, predictions and top churn factors",
)
def get_customer(customer_id: str, app: StateDep, session: DbSession, _: ReadKey) -> CustomerOut:
    answer = queries.customer(session, customer_id)
    count_predictions(app, "/v1/customers/{customer_id}", answer.predictions is not None)
    return answer


@router.post("/predictions", summary="Predictions for a batch of customer ids, or of feature rows")
def post_predictions(
    body: PredictionsIn, app: StateDep, session: DbSession, _: PredictKey
) -> PredictionsOut:
    version = queries.served(session, "value")
    answer = queries.predictions(
        session, version, body, app.settings.home / "models", app.settings.max_batch_size
    )
    count_predictions(app, "/v1/predictions", len(answer.predictions))
    return answer
