"""The reads behind the ``/v1/dashboard`` routes (the charts no other route serves).

As in :mod:`custintel.api.queries`, every function takes the model version(s) it reads,
resolved once per request, so an activation between two queries cannot mix versions.
Aggregation is SQL (GROUP BY, a window function for the projection sample) on the app
database, SQLite or PostgreSQL alike; Python only shapes the few resulting rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from custintel.api.dashboard_schemas import (
    AtRiskCustomer,
    ChurnOut,
    ClusterSample,
    CountOut,
    ModelStamp,
    OverviewOut,
    ProjectionOut,
    ProjectionPoint,
    RevenuePeriod,
    RevenueSeries,
    RfmCell,
    RfmGridOut,
    SegmentPerformance,
    SegmentPerformanceOut,
)
from custintel.api.queries import TOTAL_SERIES, caveats, factor_list, factors_note, served
from custintel.api.schemas import HistoryPoint, ModelRef
from custintel.appdb.schema import (
    CustomerPrediction,
    ForecastPoint,
    ModelVersion,
    SegmentAssignment,
)
from custintel.registry.versions import CAPABILITIES, active

__all__ = [
    "ACTIVE_THRESHOLD",
    "PERIODS",
    "RISK_LEVELS",
    "TIER_LEVELS",
    "active_versions",
    "churn",
    "overview",
    "projection",
    "rfm_grid",
    "segment_performance",
]

PERIODS = (30, 90, 365)  # days of the overview's revenue cards
FORECAST_DAYS = 30
ACTIVE_THRESHOLD = 0.5  # p_active at or above it counts as an active customer
RISK_LEVELS = ("low", "medium", "high")
TIER_LEVELS = ("low", "medium", "high", "top")
_RFM_SCORES = (1, 2, 3, 4, 5)


def _ref(version: ModelVersion) -> ModelRef:
    return ModelRef.model_validate(
        {"capability": version.capability, "version": version.version, "as_of": version.as_of}
    )


# -- overview ---------------------------------------------------------------------------


def active_versions(session: Session) -> dict[str, ModelVersion]:
    """The active version of each capability that has one; 409 when none has."""
    versions = {c: v for c in CAPABILITIES if (v := active(session, c)) is not None}
    if not versions:
        served(session, "forecasting")  # raises the "train it first" problem
    return versions


def _daily_total(session: Session, version: ModelVersion) -> list[ForecastPoint]:
    """The daily total series of ``version`` (history and forecast, by date): the plain
    total when trained, else the ``total`` series of a reconciled split."""
    splits = sorted(
        session.scalars(
            select(ForecastPoint.by)
            .where(ForecastPoint.model_version_id == version.id, ForecastPoint.timeframe == "daily")
            .distinct()
        ).all()
    )
    if not splits:
        return []
    by, series = ("", None) if "" in splits else (splits[0], TOTAL_SERIES)
    where: list[Any] = [
        ForecastPoint.model_version_id == version.id,
        ForecastPoint.timeframe == "daily",
        ForecastPoint.by == by,
    ]
    if series is not None:
        where.append(ForecastPoint.series == series)
    return list(session.scalars(select(ForecastPoint).where(*where).order_by(ForecastPoint.date)))


def _sum_between(values: dict[date, float], first: date, last: date) -> float:
    return float(sum(v for d, v in values.items() if first <= d <= last))


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return round((now - before) / before, 4)


def _revenue_periods(history: dict[date, float]) -> list[RevenuePeriod]:
    """Revenue of the last 30/90/365 days up to the latest history date, and of the
    same number of days before them (null when the history does not cover them)."""
    if not history:
        return [RevenuePeriod(days=days, revenue=None) for days in PERIODS]
    latest, earliest = max(history), min(history)
    out = []
    for days in PERIODS:
        start = latest - timedelta(days=days - 1)
        revenue = _sum_between(history, start, latest)
        before_start = start - timedelta(days=days)
        previous = (
            _sum_between(history, before_start, start - timedelta(days=1))
            if earliest <= before_start
            else None
        )
        out.append(
            RevenuePeriod(
                days=days,
                revenue=round(revenue, 2),
                previous=round(previous, 2) if previous is not None else None,
                change=_change(revenue, previous),
            )
        )
    return out


def overview(session: Session, versions: dict[str, ModelVersion]) -> OverviewOut:
    """Customers and active customers (value, else segmentation), revenue of the last
    30/90/365 days with the periods before, the next 30 days' forecast against the
    last 30 days, the latest history date and the active versions."""
    value, segmentation = versions.get("value"), versions.get("segmentation")
    customers: int | None = None
    active_customers: int | None = None
    if value is not None:
        row = session.execute(
            select(
                func.count(),
                func.sum(case((CustomerPrediction.p_active >= ACTIVE_THRESHOLD, 1), else_=0)),
            ).where(CustomerPrediction.model_version_id == value.id)
        ).one()
        customers, active_customers = int(row[0] or 0), int(row[1] or 0)
    elif segmentation is not None:
        customers = int(
            session.scalar(
                select(func.count())
                .select_from(SegmentAssignment)
                .where(SegmentAssignment.model_version_id == segmentation.id)
            )
            or 0
        )
    forecasting = versions.get("forecasting")
    points = _daily_total(session, forecasting) if forecasting is not None else []
    history = {p.date: p.value for p in points if p.kind != "forecast"}
    future = [p for p in points if p.kind == "forecast"][:FORECAST_DAYS]
    periods = _revenue_periods(history)
    forecast_30: RevenuePeriod | None = None
    series: RevenueSeries | None = None
    freshness = max(history) if history else None
    if freshness is not None:
        # A shop trained on fewer daily periods gets the days it has, against as many
        # days of history (``days`` says how many).
        days = len(future)
        if days:
            ahead = round(sum(p.value for p in future), 2)
            start = freshness - timedelta(days=days - 1)
            before = round(_sum_between(history, start, freshness), 2)
            forecast_30 = RevenuePeriod(
                days=days, revenue=ahead, previous=before, change=_change(ahead, before)
            )
        since = freshness - timedelta(days=364)
        series = RevenueSeries(
            history=[
                HistoryPoint(date=d, value=v) for d, v in sorted(history.items()) if d >= since
            ],
            forecast=[HistoryPoint(date=p.date, value=p.value) for p in future],
        )
    return OverviewOut(
        customers=customers,
        active_customers=active_customers,
        revenue=periods,
        forecast_30=forecast_30,
        freshness=freshness,
        models=[
            ModelStamp(
                capability=v.capability, version=v.version, as_of=v.as_of, created_at=v.created_at
            )
            for v in versions.values()
        ],
        revenue_series=series,
        missing=[c for c in CAPABILITIES if c not in versions],
    )


# -- segments ---------------------------------------------------------------------------


def rfm_grid(session: Session, version: ModelVersion) -> RfmGridOut:
    """Customers and revenue (sum of monetary) per recency × frequency score; scores
    1-5 plus any other the scheme gave, every cell present."""
    found = {
        (int(r or 0), int(f or 0)): (int(n), float(revenue or 0.0))
        for r, f, n, revenue in session.execute(
            select(
                SegmentAssignment.r_score,
                SegmentAssignment.f_score,
                func.count(),
                func.sum(SegmentAssignment.monetary),
            )
            .where(
                SegmentAssignment.model_version_id == version.id,
                SegmentAssignment.r_score.is_not(None),
                SegmentAssignment.f_score.is_not(None),
            )
            .group_by(SegmentAssignment.r_score, SegmentAssignment.f_score)
        )
    }
    r_scores = sorted(set(_RFM_SCORES) | {r for r, _ in found})
    f_scores = sorted(set(_RFM_SCORES) | {f for _, f in found})
    cells = [
        RfmCell(
            r=r,
            f=f,
            customers=found.get((r, f), (0, 0.0))[0],
            revenue=round(found.get((r, f), (0, 0.0))[1], 2),
        )
        for r in r_scores
        for f in f_scores
    ]
    return RfmGridOut(model=_ref(version), r_scores=r_scores, f_scores=f_scores, cells=cells)


def segment_performance(session: Session, version: ModelVersion) -> SegmentPerformanceOut:
    """Per RFM segment: customers, revenue (sum of monetary, i.e. spend up to as_of),
    orders (sum of frequency), average order value and orders per customer."""
    rows = session.execute(
        select(
            SegmentAssignment.rfm_segment,
            func.count(),
            func.sum(SegmentAssignment.monetary),
            func.sum(SegmentAssignment.frequency),
        )
        .where(
            SegmentAssignment.model_version_id == version.id,
            SegmentAssignment.rfm_segment.is_not(None),
        )
        .group_by(SegmentAssignment.rfm_segment)
    ).all()
    segments = []
    for name, n, revenue, orders in rows:
        revenue, orders = float(revenue or 0.0), float(orders or 0.0)
        segments.append(
            SegmentPerformance(
                segment=str(name),
                customers=int(n),
                revenue=round(revenue, 2),
                orders=round(orders, 2),
                average_order_value=round(revenue / orders, 2) if orders else None,
                orders_per_customer=round(orders / n, 3) if n else None,
            )
        )
    segments.sort(key=lambda s: (-s.revenue, s.segment))
    return SegmentPerformanceOut(model=_ref(version), segments=segments)


def _quotas(sizes: dict[int, int], limit: int) -> dict[int, int]:
    """Points per cluster: its share of ``limit`` (floor), every cluster at least one
    while the budget lasts, the rest to the largest remainders."""
    total = sum(sizes.values())
    if total <= limit:
        return dict(sizes)
    exact = {c: limit * n / total for c, n in sizes.items()}
    quota = {c: int(e) for c, e in exact.items()}
    left = limit - sum(quota.values())
    by_need = sorted(sizes, key=lambda c: (quota[c] > 0, -(exact[c] - quota[c]), c))
    for c in by_need:
        if left <= 0:
            break
        if quota[c] < sizes[c]:
            quota[c] += 1
            left -= 1
    return quota


def projection(session: Session, version: ModelVersion, limit: int) -> ProjectionOut:
    """At most ``limit`` customers' 2-D projection, stratified by cluster: each cluster
    keeps its share, sampled systematically (every k-th customer by id) in SQL."""
    has_point = (
        SegmentAssignment.model_version_id == version.id,
        SegmentAssignment.cluster.is_not(None),
        SegmentAssignment.x.is_not(None),
        SegmentAssignment.y.is_not(None),
    )
    clusters = session.execute(
        select(SegmentAssignment.cluster, func.max(SegmentAssignment.cluster_name), func.count())
        .where(*has_point)
        .group_by(SegmentAssignment.cluster)
        .order_by(SegmentAssignment.cluster)
    ).all()
    sizes = {int(c or 0): int(n) for c, _, n in clusters}  # (not null: filtered above)
    names = {int(c or 0): name for c, name, _ in clusters}
    quota = _quotas(sizes, limit)
    step = {c: -(-sizes[c] // quota[c]) for c in sizes if quota[c] > 0}  # ceil
    points: list[ProjectionPoint] = []
    if step:
        numbered = (
            select(
                SegmentAssignment.customer_id,
                SegmentAssignment.x,
                SegmentAssignment.y,
                SegmentAssignment.cluster,
                SegmentAssignment.cluster_name,
                func.row_number()
                .over(
                    partition_by=SegmentAssignment.cluster,
                    order_by=SegmentAssignment.customer_id,
                )
                .label("rn"),
            )
            .where(*has_point)
            .subquery()
        )
        every = case(step, value=numbered.c.cluster, else_=0)
        rows = session.execute(
            select(numbered)
            .where(every > 0, (numbered.c.rn - 1) % every == 0)
            .order_by(numbered.c.cluster, numbered.c.rn)
        ).all()
        points = [
            ProjectionPoint(
                customer_id=r.customer_id,
                x=float(r.x),
                y=float(r.y),
                cluster=int(r.cluster),
                cluster_name=r.cluster_name,
            )
            for r in rows
        ]
    sampled: dict[int, int] = {}
    for p in points:
        sampled[p.cluster] = sampled.get(p.cluster, 0) + 1
    return ProjectionOut(
        model=_ref(version),
        customers=sum(sizes.values()),
        limit=limit,
        clusters=[
            ClusterSample(cluster=c, name=names[c], size=n, sampled=sampled.get(c, 0))
            for c, n in sizes.items()
        ],
        points=points,
    )


# -- customers --------------------------------------------------------------------------


def _ordered_counts(
    session: Session, version: ModelVersion, column: Any, levels: Sequence[str]
) -> list[CountOut]:
    counts = {
        str(name): int(n)
        for name, n in session.execute(
            select(column, func.count())
            .where(CustomerPrediction.model_version_id == version.id, column.is_not(None))
            .group_by(column)
        )
    }
    names = list(levels) if counts else []  # no rows: no levels (the chart's empty state)
    names += sorted(n for n in counts if n not in levels)
    return [CountOut(name=n, customers=counts.get(n, 0)) for n in names]


def churn(session: Session, version: ModelVersion, top: int) -> ChurnOut:
    """Customers per churn-risk level and value tier (known levels always listed, in
    order), and the ``top`` customers at high or medium risk by CLV (largest first)."""
    total = session.scalar(
        select(func.count())
        .select_from(CustomerPrediction)
        .where(CustomerPrediction.model_version_id == version.id)
    )
    rows = session.scalars(
        select(CustomerPrediction)
        .where(
            CustomerPrediction.model_version_id == version.id,
            CustomerPrediction.churn_risk.in_(("high", "medium")),
        )
        .order_by(CustomerPrediction.clv.desc().nulls_last(), CustomerPrediction.customer_id)
        .limit(top)
    ).all()
    return ChurnOut(
        model=_ref(version),
        customers=int(total or 0),
        churn_risk=_ordered_counts(session, version, CustomerPrediction.churn_risk, RISK_LEVELS),
        value_tiers=_ordered_counts(session, version, CustomerPrediction.value_tier, TIER_LEVELS),
        at_risk=[
            AtRiskCustomer(
                customer_id=r.customer_id,
                churn_risk=r.churn_risk,
                clv=r.clv,
                churn_probability=r.churn_probability,
                expected_spend=r.expected_spend,
                value_tier=r.value_tier,
                rfm_segment=r.rfm_segment,
                top_factors=factor_list(r.top_factors),
            )
            for r in rows
        ],
        factors_note=factors_note(version),
        caveats=caveats(version),
    )
