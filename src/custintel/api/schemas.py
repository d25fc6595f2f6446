"""Response and request bodies of the ``/v1`` routes (pydantic), with examples, so
that the OpenAPI document says exactly what a client gets.

One ladder per resource: a ``ModelRef`` names the version a payload came from; every
payload built from results rows names the version(s) it read, so a client can tell
which model answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "PROBLEM_RESPONSES",
    "BacktestOut",
    "Caveat",
    "ClusterOut",
    "ClusteringOut",
    "CustomerOut",
    "CustomerPage",
    "CustomerSegment",
    "ForecastPointOut",
    "ForecastSeries",
    "ForecastsOut",
    "HistoryPoint",
    "MigrationFlow",
    "MigrationOut",
    "ModelRef",
    "ModelVersionDetail",
    "ModelVersionOut",
    "PredictionOut",
    "PredictionsIn",
    "PredictionsOut",
    "ProblemDetails",
    "SegmentOut",
    "SegmentsOut",
    "caveats_field",
    "factors_note_field",
]

Capability = Literal["segmentation", "forecasting", "value"]


class ProblemDetails(BaseModel):
    """An error (RFC 9457 problem+json): what went wrong and, in ``detail``, the fix."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "about:blank",
                "title": "Unauthorized",
                "status": 401,
                "detail": "send an API key as `Authorization: Bearer <key>`",
                "instance": "/v1/segments",
            }
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
        },
    }


#: The error answers every key-protected route may give, for ``APIRouter(responses=...)``.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("The request body cannot be read (not UTF-8 JSON)"),
    401: {"model": ProblemDetails, **_problem("No API key, or an unknown or revoked one")},
    403: _problem("The key's scope is too low for this route"),
    404: _problem("Not found: the resource, or no results for what was asked"),
    409: _problem("The capability has no active model yet: train it first"),
    413: _problem("The request body is larger than the server accepts"),
    422: _problem("The request is not valid (each problem is named)"),
    429: _problem("Too many requests for this key; retry after `Retry-After` seconds"),
    503: _problem("The app database is not reachable"),
}


class ModelRef(BaseModel):
    """The model version a payload was read from."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"capability": "value", "version": 3, "as_of": "2024-06-01"}}
    )

    capability: Capability
    version: int
    as_of: dt.date | None = None


# -- segments -------------------------------------------------------------------------


class SegmentOut(BaseModel):
    """One RFM segment: its size (counted from the served assignments), revenue share,
    and what it means and what to do."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "segment": "Champions",
                "customers": 812,
                "share_customers": 0.0812,
                "share_revenue": 0.3411,
                "description": "bought recently, buy often and spend the most",
                "action": "reward them; ask for reviews",
            }
        }
    )

    segment: str
    customers: int
    share_customers: float
    share_revenue: float | None = None
    description: str | None = None
    action: str | None = None


class TopFeature(BaseModel):
    feature: str
    std_diff: float | None = None
    direction: str


class ClusterOut(BaseModel):
    """One cluster's profile: size, shares, feature means/medians and the features that
    set it apart (difference in standard deviations)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "cluster": 0,
                "name": "frequent big spenders",
                "size": 640,
                "share_customers": 0.064,
                "share_revenue": 0.29,
                "mean": {"recency_days": 21.5, "frequency": 9.1},
                "median": {"recency_days": 15.0, "frequency": 8.0},
                "top_features": [{"feature": "frequency", "std_diff": 1.8, "direction": "higher"}],
            }
        }
    )

    cluster: int
    name: str
    size: int
    share_customers: float | None = None
    share_revenue: float | None = None
    mean: dict[str, float | None] = Field(default_factory=dict)
    median: dict[str, float | None] = Field(default_factory=dict)
    top_features: list[TopFeature] = Field(default_factory=list)


class ClusteringOut(BaseModel):
    """How the clusters were chosen (method, k, why) and their profiles."""

    method: str | None = None
    k: int = 0
    why: str | None = None
    clusters: list[ClusterOut] = Field(default_factory=list)


class SegmentsOut(BaseModel):
    """The served segmentation: RFM segments and cluster profiles."""

    model: ModelRef
    customers: int = Field(description="customers assigned in this version")
    scheme: str | None = None
    segments: list[SegmentOut]
    clustering: ClusteringOut


class MigrationFlow(BaseModel):
    """Customers who were in ``from_segment`` at start and in ``to_segment`` at end;
    "(new)" and "(gone)" mark customers present at only one date."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {"from_segment": "Champions", "to_segment": "At risk", "customers": 37}
        }
    )

    from_segment: str
    to_segment: str
    customers: int


class MigrationOut(BaseModel):
    """Segment migration between the segmentation versions as of two dates."""

    start: dt.date
    end: dt.date
    by: Literal["rfm_segment", "cluster_name"]
    start_model: ModelRef
    end_model: ModelRef
    flows: list[MigrationFlow]


# -- customers and predictions ---------------------------------------------------------


class CustomerSegment(BaseModel):
    """A customer's RFM scores, segment and cluster in the served segmentation."""

    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_segment: str | None = None
    cluster: int | None = None
    cluster_name: str | None = None
    recency_days: float | None = Field(
        default=None, description="days from the last order to the segmentation's as_of"
    )
    frequency: float | None = Field(default=None, description="orders placed so far")
    monetary: float | None = Field(default=None, description="net spend so far")
    tenure_days: float | None = Field(
        default=None, description="days from the first order to the segmentation's as_of"
    )


class PredictionOut(BaseModel):
    """What the served value model predicts for one customer over its horizon: orders,
    spend (total and per category, shop currency), probability of being active, churn
    probability and risk, lifetime value and the next order date."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "customer_id": "C00042",
                "expected_orders": 1.8,
                "expected_spend": 143.2,
                "spend_by_category": {"toys": 80.1, "books": 63.1},
                "p_active": 0.82,
                "churn_probability": 0.21,
                "churn_risk": "low",
                "clv": 612.4,
                "next_order_date": "2024-07-02",
                "rfm_segment": "Loyal",
                "spend_percentile": 0.91,
                "value_tier": "high",
                "top_factors": ["last order 12 days ago (lowers churn risk)"],
            }
        }
    )

    customer_id: str
    expected_orders: float | None = None
    expected_spend: float | None = None
    spend_by_category: dict[str, Any] | None = None
    p_active: float | None = None
    churn_probability: float | None = None
    churn_risk: str | None = None
    clv: float | None = None
    next_order_date: dt.date | None = None
    rfm_segment: str | None = None
    spend_percentile: float | None = None
    value_tier: str | None = None
    top_factors: list[str] = Field(default_factory=list)


class Caveat(BaseModel):
    """A prediction of the served value version that its own validation could not tell
    from chance (``custintel score``'s "what each column rests on"): the column, its
    status and the plain-words note of what it means."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "output": "churn_probability",
                "status": "no better than chance",
                "note": "btyd: ROC-AUC 0.498 ...; that ranking could not be told from chance",
            }
        }
    )

    output: str
    status: str
    note: str


def caveats_field() -> Any:
    """The ``caveats`` field of every payload that carries value predictions."""
    return Field(
        default_factory=list,
        description="predictions of the value version that rank customers no better "
        "than chance on its validation window: read them as shop-wide levels, not as "
        "who to act on first",
    )


def factors_note_field() -> Any:
    """The ``factors_note`` field of every payload that shows top factors."""
    return Field(
        default=None,
        description="which churn model the top factors explain and, when churn_probability "
        "comes from another, how far the two rank customers alike (the scoring run's "
        "top_factors statement); null for a version without one",
    )


class CustomerOut(BaseModel):
    """One customer: segment (null before segmentation is trained), predictions (null
    when the value model did not score them), the churn factors in words, and the
    predictions whose ranking the value version could not tell from chance."""

    customer_id: str
    segment: CustomerSegment | None
    predictions: PredictionOut | None
    top_factors: list[str]
    factors_note: str | None = factors_note_field()
    caveats: list[Caveat] = caveats_field()
    models: list[ModelRef] = Field(description="the versions this answer was read from")


class CustomerPage(BaseModel):
    """A page of customers with their predictions, sorted by one prediction."""

    model: ModelRef
    sort: str
    order: Literal["asc", "desc"]
    limit: int
    offset: int
    total: int = Field(description="customers scored by this version")
    items: list[PredictionOut]
    caveats: list[Caveat] = caveats_field()


class PredictionsIn(BaseModel):
    """Customers to predict: known ``customer_ids`` (their stored predictions;
    duplicates are answered once), or feature ``rows`` as `custintel features` writes
    them (scored by the served version's models: customers it has not scored, such as
    new ones); at most the server's ``max_batch_size`` (1,000 by default) in all."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"customer_ids": ["C00042", "C00043"]},
                {
                    "rows": [
                        {
                            "customer_id": "new-1",
                            "as_of": "2024-06-01",
                            "recency_days": 12,
                            "frequency": 3,
                            "monetary": 310.5,
                            "tenure_days": 95,
                            "purchase_days": 3,
                            "repeat_spend": 190.0,
                            "...": "every other column `custintel features` writes",
                        }
                    ]
                },
            ]
        },
    )

    customer_ids: list[str] | None = None
    rows: list[dict[str, float | int | str | None]] | None = None


class PredictionsOut(BaseModel):
    """Predictions in request order. Ids the model did not score are listed in
    ``unknown``, never dropped; for feature rows, ``ignored_columns`` lists the columns
    sent that the models do not use."""

    model: ModelRef
    predictions: list[PredictionOut]
    unknown: list[str] = Field(default_factory=list)
    ignored_columns: list[str] = Field(default_factory=list)
    caveats: list[Caveat] = caveats_field()


# -- forecasts -------------------------------------------------------------------------


class HistoryPoint(BaseModel):
    date: dt.date
    value: float


class ForecastPointOut(BaseModel):
    """One future period: the forecast and its 80 % and 95 % prediction intervals."""

    date: dt.date
    forecast: float
    lower_80: float | None = None
    upper_80: float | None = None
    lower_95: float | None = None
    upper_95: float | None = None


class BacktestOut(BaseModel):
    """The series' measured accuracy on its own history (time-split backtest): the
    chosen model's and seasonal naive's errors, as the training run recorded them."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "model": "AutoETS",
                "horizon": 12,
                "metrics": {
                    "mase": 0.71,
                    "smape": 0.12,
                    "floor_model": "SeasonalNaive",
                    "floor_mase": 1.0,
                },
            }
        }
    )

    model: str
    horizon: int
    metrics: dict[str, Any]


class ForecastSeries(BaseModel):
    """One series, ready to chart: history, forecast with intervals, and accuracy."""

    series: str
    model: str | None
    history: list[HistoryPoint]
    forecast: list[ForecastPointOut]
    backtest: BacktestOut | None


class ForecastsOut(BaseModel):
    """The served sales forecast for one timeframe (and breakdown)."""

    model: ModelRef
    timeframe: Literal["daily", "weekly", "monthly"]
    by: str | None
    horizon: int = Field(description="forecast periods per series in this answer")
    series: list[ForecastSeries]


# -- models ----------------------------------------------------------------------------


class ModelVersionOut(BaseModel):
    """A trained version of a capability and its measured accuracy."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "capability": "value",
                "version": 3,
                "active": True,
                "created_at": "2024-06-01T02:00:00Z",
                "as_of": "2024-06-01",
                "data_from": "2021-01-03",
                "data_to": "2024-05-31",
                "metrics": {"churn_auc": 0.81},
                "sha256": "9f2c…",
                "job_id": None,
            }
        }
    )

    capability: Capability
    version: int
    active: bool
    created_at: dt.datetime
    as_of: dt.date | None = None
    data_from: dt.date | None = None
    data_to: dt.date | None = None
    metrics: dict[str, Any]
    sha256: str
    job_id: str | None = None
    caveats: list[Caveat] = caveats_field()

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        """Timestamps are stored in UTC; SQLite hands them back without the zone."""
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class ModelVersionDetail(ModelVersionOut):
    """A version with the summary its training run reported."""

    summary: dict[str, Any]


class SegmentPredictIn(BaseModel):
    """Customers to segment: known ``customer_ids`` (their segment in the active
    version), or feature ``rows`` as `custintel features` writes them (scored against
    the population the active model was fitted on); at most the server's
    ``max_batch_size`` in all."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "rows": [
                    {
                        "customer_id": "new-1",
                        "recency_days": 12,
                        "frequency": 4,
                        "monetary": 310.5,
                        "tenure_days": 400,
                    }
                ]
            }
        },
    )

    customer_ids: list[str] | None = None
    rows: list[dict[str, float | int | str | None]] | None = None


class SegmentAssignmentOut(BaseModel):
    """One customer's RFM scores, segment and cluster."""

    customer_id: str
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_segment: str | None = None
    cluster: int | None = None
    cluster_name: str | None = None


class SegmentPredictOut(BaseModel):
    """The segments, in request order; unknown ids listed apart, never dropped."""

    model: ModelRef
    segments: list[SegmentAssignmentOut]
    unknown: list[str] = Field(default_factory=list)


# Reads served with an ETag (api/cache.py) answer 304 to a current If-None-Match.
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (the `If-None-Match` ETag is current)"}
}
