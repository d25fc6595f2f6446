"""Response bodies of the ``/v1/dashboard`` routes: the numbers behind the dashboard's
charts that no other route serves, shaped so that a chart library can draw them as
they come (a Laravel page with its own ApexCharts, or custintel's own pages).

Money is in the shop's currency; periods are counted in days up to and including the
latest history date (``freshness``).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from custintel.api.schemas import (
    Caveat,
    HistoryPoint,
    ModelRef,
    caveats_field,
    factors_note_field,
)

__all__ = [
    "AtRiskCustomer",
    "ChurnOut",
    "ClusterSample",
    "CountOut",
    "ModelStamp",
    "OverviewOut",
    "ProjectionOut",
    "ProjectionPoint",
    "RevenuePeriod",
    "RevenueSeries",
    "RfmCell",
    "RfmGridOut",
    "SegmentPerformance",
    "SegmentPerformanceOut",
]


# -- overview -------------------------------------------------------------------------


class RevenuePeriod(BaseModel):
    """Revenue of the last ``days`` days and of the ``days`` before them; ``change`` is
    (revenue - previous) / previous. ``previous`` and ``change`` are null when the
    history does not reach back that far (or the previous period had no revenue)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {"days": 30, "revenue": 51230.5, "previous": 48810.0, "change": 0.0496}
        }
    )

    days: int
    revenue: float | None
    previous: float | None = None
    change: float | None = None


class ModelStamp(BaseModel):
    """The active version of a capability and when it was trained."""

    capability: str
    version: int
    as_of: dt.date | None = None
    created_at: dt.datetime

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        """Timestamps are stored in UTC; SQLite hands them back without the zone."""
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class RevenueSeries(BaseModel):
    """The revenue chart: the daily total of the last 365 days of history and the
    forecast of the next 30 days."""

    history: list[HistoryPoint]
    forecast: list[HistoryPoint]


class OverviewOut(BaseModel):
    """The overview page: customers, revenue by period, the next 30 days' forecast,
    data freshness and the active model versions. A part whose capability has no
    active model is null and its capability is listed in ``missing``."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "customers": 10000,
                "active_customers": 6120,
                "revenue": [{"days": 30, "revenue": 51230.5, "previous": 48810.0, "change": 0.05}],
                "forecast_30": {"days": 30, "revenue": 53000.0, "previous": 51230.5},
                "freshness": "2025-12-31",
                "models": [
                    {
                        "capability": "forecasting",
                        "version": 2,
                        "as_of": "2026-01-01",
                        "created_at": "2026-01-01T02:00:00Z",
                    }
                ],
                "revenue_series": {"history": [], "forecast": []},
                "missing": ["value"],
            }
        }
    )

    customers: int | None = Field(description="customers scored (value) or segmented")
    active_customers: int | None = Field(description="customers with p_active >= 0.5")
    revenue: list[RevenuePeriod] = Field(description="last 30, 90 and 365 days")
    forecast_30: RevenuePeriod | None = Field(
        description="forecast of the next 30 days (fewer when the daily forecast is "
        "shorter: ``days`` says how many); previous = as many days of history before it"
    )
    freshness: dt.date | None = Field(description="the latest date of the sales history")
    models: list[ModelStamp]
    revenue_series: RevenueSeries | None
    missing: list[str] = Field(description="capabilities without an active model")


# -- segments -------------------------------------------------------------------------


class RfmCell(BaseModel):
    """Customers with recency score ``r`` and frequency score ``f``, and their revenue
    (sum of their spend up to the segmentation's as_of)."""

    r: int
    f: int
    customers: int
    revenue: float


class RfmGridOut(BaseModel):
    """The R x F grid of the active segmentation, every cell present (zeros included),
    ordered by r then f."""

    model: ModelRef
    r_scores: list[int]
    f_scores: list[int]
    cells: list[RfmCell]


class SegmentPerformance(BaseModel):
    """One RFM segment: customers, revenue (their spend up to as_of), orders, average
    order value (revenue / orders) and orders per customer."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "segment": "Champions",
                "customers": 305,
                "revenue": 190233.1,
                "orders": 3120,
                "average_order_value": 60.97,
                "orders_per_customer": 10.23,
            }
        }
    )

    segment: str
    customers: int
    revenue: float
    orders: float
    average_order_value: float | None
    orders_per_customer: float | None


class SegmentPerformanceOut(BaseModel):
    model: ModelRef
    segments: list[SegmentPerformance] = Field(description="largest revenue first")


class ProjectionPoint(BaseModel):
    customer_id: str
    x: float
    y: float
    cluster: int
    cluster_name: str | None = None


class ClusterSample(BaseModel):
    cluster: int
    name: str | None = None
    size: int = Field(description="customers in the cluster")
    sampled: int = Field(description="of them in ``points``")


class ProjectionOut(BaseModel):
    """A sample of the customers' 2-D projection, stratified by cluster (each cluster
    keeps its share of the population), at most ``limit`` points."""

    model: ModelRef
    customers: int = Field(description="customers with a cluster and a projection")
    limit: int
    clusters: list[ClusterSample]
    points: list[ProjectionPoint]


# -- customers ------------------------------------------------------------------------


class CountOut(BaseModel):
    name: str
    customers: int


class AtRiskCustomer(BaseModel):
    """A valuable customer who may leave: churn risk high or medium, by CLV."""

    customer_id: str
    churn_risk: str | None
    clv: float | None
    churn_probability: float | None
    expected_spend: float | None
    value_tier: str | None = None
    rfm_segment: str | None = None
    top_factors: list[str]


class ChurnOut(BaseModel):
    """Churn risk and value tiers of the active value version, and the top at-risk
    valuable customers (churn risk high or medium, largest CLV first)."""

    model: ModelRef
    customers: int
    churn_risk: list[CountOut] = Field(description="low, medium, high, then any other level")
    value_tiers: list[CountOut]
    at_risk: list[AtRiskCustomer]
    factors_note: str | None = factors_note_field()
    caveats: list[Caveat] = caveats_field()
