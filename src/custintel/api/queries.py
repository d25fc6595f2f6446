"""The reads (and the one write, activation) behind the ``/v1`` routes.

Every function that serves results takes the model version it reads as an argument,
resolved once per request by :func:`served`: a request reads only rows of that id, so
an activation between two of its queries cannot mix two versions in one answer.
Errors are :class:`~custintel.api.problems.Problem` s that say what to do.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import and_, exists, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from custintel.api.problems import Problem
from custintel.api.schemas import (
    BacktestOut,
    Caveat,
    ClusteringOut,
    ClusterOut,
    CustomerOut,
    CustomerPage,
    CustomerSegment,
    ForecastPointOut,
    ForecastSeries,
    ForecastsOut,
    HistoryPoint,
    MigrationFlow,
    MigrationOut,
    ModelRef,
    ModelVersionDetail,
    ModelVersionOut,
    PredictionOut,
    PredictionsIn,
    PredictionsOut,
    SegmentAssignmentOut,
    SegmentOut,
    SegmentPredictIn,
    SegmentPredictOut,
    SegmentsOut,
)
from custintel.appdb.schema import (
    CustomerPrediction,
    ForecastBacktest,
    ForecastPoint,
    ModelVersion,
    SegmentAssignment,
)
from custintel.registry.versions import VersionInfo, activate, active, list_versions, load_artifact
from custintel.value.eligibility import chance_caveats

__all__ = [
    "SORTABLE",
    "activate_version",
    "customer",
    "customer_page",
    "forecasts",
    "migration",
    "migration_versions",
    "model_detail",
    "models",
    "predictions",
    "segments",
    "served",
]

SORTABLE = ("expected_spend", "churn_probability", "clv", "p_active", "expected_orders")
_TRAIN = {
    "segmentation": "`custintel segment`",
    "forecasting": "`custintel forecast`",
    "value": "`custintel score`",
}
_CHUNK = 500  # ids per IN (...) query


# How long one API process trusts its reading of the active versions: a version
# activated by another process (a training job, the CLI) is served within this time;
# one activated through this process's API at once.
ACTIVE_TTL_SECONDS = 1.0
_active: dict[tuple[str, str], tuple[float, ModelVersion | None]] = {}


def active_version(session: Session, capability: str) -> ModelVersion | None:
    """The active version of ``capability``, remembered for ``ACTIVE_TTL_SECONDS`` per
    process and database (two queries saved on every customer request). A request
    still reads its version once, so it never mixes two versions."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = (str(engine.url), capability)
    now = time.monotonic()
    hit = _active.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    version = active(session, capability)
    if version is not None:
        session.expunge(version)  # loaded and detached: safe to share between requests
    _active[key] = (now + ACTIVE_TTL_SECONDS, version)
    return version


def forget_active() -> None:
    """Drop the remembered active versions (after an activation in this process)."""
    _active.clear()


def served(session: Session, capability: str) -> ModelVersion:
    """The active version of ``capability``; 409 "train it first" when there is none."""
    version = active_version(session, capability)
    if version is None:
        raise Problem(
            409,
            "No active model",
            f"{capability} has no active model yet: train it first (POST /v1/jobs, "
            f"{_TRAIN[capability]} or `custintel demo`), then activate a version",
            capability=capability,
        )
    return version


def _ref(version: ModelVersion) -> ModelRef:
    return ModelRef.model_validate(
        {"capability": version.capability, "version": version.version, "as_of": version.as_of}
    )


# -- segments -------------------------------------------------------------------------


def segments(session: Session, version: ModelVersion) -> SegmentsOut:
    """Segment sizes counted from the version's assignments, with the revenue shares,
    descriptions and cluster profiles its training run reported."""
    counts: dict[str, int] = {
        str(name): int(n)
        for name, n in session.execute(
            select(SegmentAssignment.rfm_segment, func.count())
            .where(SegmentAssignment.model_version_id == version.id)
            .group_by(SegmentAssignment.rfm_segment)
        )
        if name is not None
    }
    total = sum(counts.values())
    summary: dict[str, Any] = version.summary or {}
    reported = {s.get("segment"): s for s in summary.get("segments", []) if isinstance(s, dict)}
    names = [n for n in reported if isinstance(n, str)]
    names += sorted(n for n in counts if n not in reported)
    rows = [
        SegmentOut(
            segment=name,
            customers=counts.get(name, 0),
            share_customers=round(counts.get(name, 0) / total, 4) if total else 0.0,
            share_revenue=reported.get(name, {}).get("share_revenue"),
            description=reported.get(name, {}).get("description"),
            action=reported.get(name, {}).get("action"),
        )
        for name in names
    ]
    clustering: dict[str, Any] = summary.get("clustering") or {}
    return SegmentsOut(
        model=_ref(version),
        customers=total,
        scheme=summary.get("scheme"),
        segments=rows,
        clustering=ClusteringOut(
            method=clustering.get("method"),
            k=int(clustering.get("k") or 0),
            why=clustering.get("why"),
            clusters=[ClusterOut.model_validate(c) for c in clustering.get("clusters", [])],
        ),
    )


def migration_versions(
    session: Session, start: date, end: date
) -> tuple[ModelVersion, ModelVersion]:
    """The segmentation versions as of ``start`` and ``end`` (the newest for a date
    trained twice); 404 naming the recorded dates otherwise."""
    rows = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.capability == "segmentation", ModelVersion.as_of.is_not(None))
        .order_by(ModelVersion.version)
    ).all()
    by_day = {row.as_of: row for row in rows}  # later versions win
    missing = [day for day in (start, end) if day not in by_day]
    if missing:
        recorded = ", ".join(sorted({str(d) for d in by_day})) or "none"
        raise Problem(
            404,
            "No segmentation at that date",
            f"no segmentation version as of {', '.join(map(str, missing))}; "
            f"recorded dates: {recorded}",
            recorded=sorted(str(d) for d in by_day),
        )
    return by_day[start], by_day[end]


def migration(session: Session, first: ModelVersion, last: ModelVersion, by: str) -> MigrationOut:
    """Customers moving between segments (``by`` = rfm_segment or cluster_name) from
    ``first`` to ``last``; "(new)"/"(gone)" for those in only one, "(none)" for a
    customer without a value (e.g. not clustered)."""
    a, b = aliased(SegmentAssignment), aliased(SegmentAssignment)
    col_a, col_b = getattr(a, by), getattr(b, by)
    gone = b.customer_id.is_(None)
    flows: dict[tuple[str, str], int] = defaultdict(int)
    stayed = (
        select(col_a, col_b, gone, func.count())
        .select_from(a)
        .outerjoin(b, and_(b.customer_id == a.customer_id, b.model_version_id == last.id))
        .where(a.model_version_id == first.id)
        .group_by(col_a, col_b, gone)
    )
    for before, after, is_gone, n in session.execute(stayed):
        flows[before or "(none)", "(gone)" if is_gone else after or "(none)"] += int(n)
    earlier = exists().where(a.customer_id == b.customer_id, a.model_version_id == first.id)
    new = (
        select(col_b, func.count())
        .select_from(b)
        .where(b.model_version_id == last.id, ~earlier)
        .group_by(col_b)
    )
    for after, n in session.execute(new):
        flows["(new)", after or "(none)"] += int(n)
    ordered = sorted(flows.items(), key=lambda item: (-item[1], item[0]))
    return MigrationOut.model_validate(
        {
            "start": first.as_of,
            "end": last.as_of,
            "by": by,
            "start_model": _ref(first),
            "end_model": _ref(last),
            "flows": [
                MigrationFlow(from_segment=f, to_segment=t, customers=n) for (f, t), n in ordered
            ],
        }
    )


# -- customers --------------------------------------------------------------------------


def _prediction(row: CustomerPrediction) -> PredictionOut:
    return PredictionOut(
        customer_id=row.customer_id,
        expected_orders=row.expected_orders,
        expected_spend=row.expected_spend,
        spend_by_category=row.spend_by_category,
        p_active=row.p_active,
        churn_probability=row.churn_probability,
        churn_risk=row.churn_risk,
        clv=row.clv,
        next_order_date=row.next_order_date,
        rfm_segment=row.rfm_segment,
        spend_percentile=row.spend_percentile,
        value_tier=row.value_tier,
        top_factors=factor_list(row.top_factors),
    )


def factor_list(text: str | None) -> list[str]:
    """The stored top factors ("a (raises churn risk); b ...") as a list of phrases."""
    return [f.strip() for f in (text or "").split(";") if f.strip()]


def _statements(version: ModelVersion | None) -> list[dict[str, Any]]:
    """A value version's "what each column rests on" (its summary's ``eligibility``)."""
    statements = (version.summary or {}).get("eligibility", []) if version else []
    return [s for s in statements if isinstance(s, dict)]


def caveats(version: ModelVersion | None) -> list[Caveat]:
    """The statements of a value version's run whose column ranks customers no better
    than chance; none for a version without them."""
    return [Caveat(**c) for c in chance_caveats(version.summary if version else None)]


def factors_note(version: ModelVersion | None) -> str | None:
    """The note of a value version's ``top_factors`` statement, if it has one."""
    return next((s["note"] for s in _statements(version) if s.get("output") == "top_factors"), None)


def customer(session: Session, customer_id: str) -> CustomerOut:
    """One customer from the active segmentation and value versions (each read once);
    409 when neither is trained, 404 when neither knows the customer."""
    seg_version = active_version(session, "segmentation")
    value_version = active_version(session, "value")
    if seg_version is None and value_version is None:
        served(session, "value")  # raises the "train it first" problem
    assignment = (
        session.get(SegmentAssignment, (seg_version.id, customer_id)) if seg_version else None
    )
    row = (
        session.get(CustomerPrediction, (value_version.id, customer_id)) if value_version else None
    )
    if assignment is None and row is None:
        raise Problem(
            404,
            "Unknown customer",
            f"customer {customer_id!r} is not in the active models; customers first seen "
            "after the last training appear once the models are retrained",
            customer_id=customer_id,
        )
    prediction = _prediction(row) if row is not None else None
    return CustomerOut(
        customer_id=customer_id,
        segment=CustomerSegment(
            r_score=assignment.r_score,
            f_score=assignment.f_score,
            m_score=assignment.m_score,
            rfm_segment=assignment.rfm_segment,
            cluster=assignment.cluster,
            cluster_name=assignment.cluster_name,
            recency_days=assignment.recency_days,
            frequency=assignment.frequency,
            monetary=assignment.monetary,
            tenure_days=assignment.tenure_days,
        )
        if assignment is not None
        else None,
        predictions=prediction,
        top_factors=prediction.top_factors if prediction else [],
        factors_note=factors_note(value_version) if prediction else None,
        caveats=caveats(value_version) if prediction else [],
        models=[_ref(v) for v in (seg_version, value_version) if v is not None],
    )


def customer_page(
    session: Session, version: ModelVersion, sort: str, order: str, limit: int, offset: int
) -> CustomerPage:
    """A page of ``version``'s predictions sorted by ``sort`` (nulls last, ties by id)."""
    if sort not in SORTABLE:
        raise Problem(422, "Invalid sort", f"sort={sort!r}: use one of {', '.join(SORTABLE)}")
    column = getattr(CustomerPrediction, sort)
    direction = column.desc() if order == "desc" else column.asc()
    rows = session.scalars(
        select(CustomerPrediction)
        .where(CustomerPrediction.model_version_id == version.id)
        .order_by(direction.nulls_last(), CustomerPrediction.customer_id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(
        select(func.count())
        .select_from(CustomerPrediction)
        .where(CustomerPrediction.model_version_id == version.id)
    )
    return CustomerPage.model_validate(
        {
            "model": _ref(version),
            "sort": sort,
            "order": order,
            "limit": limit,
            "offset": offset,
            "total": int(total or 0),
            "items": [_prediction(r) for r in rows],
            "caveats": caveats(version),
        }
    )


def _batch(customer_ids: Sequence[str] | None, rows: Sequence[Any] | None, limit: int) -> None:
    """A request's batch is either known ids or feature rows, 1 to ``limit`` of them;
    422 otherwise."""
    if (customer_ids is None) == (rows is None):
        raise Problem(422, "Invalid request", "send either customer_ids or rows, not both")
    count = len(customer_ids if customer_ids is not None else rows or [])
    if count == 0:
        raise Problem(422, "Invalid request", "the batch is empty: send at least one customer")
    if count > limit:
        raise Problem(
            422,
            "Batch too large",
            f"{count:,} customers in one request; the most is {limit:,} "
            "(split the batch, or use POST /v1/bulk for a file of ids)",
            max_batch_size=limit,
        )


def predictions(
    session: Session, version: ModelVersion, body: PredictionsIn, models_root: Path, limit: int
) -> PredictionsOut:
    """Predictions of ``version`` for known ids (request order, duplicates once; ids it
    did not score are listed in ``unknown``) or for feature rows (scored by its models,
    ``value/rows.py``)."""
    _batch(body.customer_ids, body.rows, limit)
    if body.rows is not None:
        return _predict_rows(version, body.rows, models_root)
    ids = list(dict.fromkeys(body.customer_ids or []))
    found: dict[str, CustomerPrediction] = {}
    for chunk in _chunks(ids, _CHUNK):
        for row in session.scalars(
            select(CustomerPrediction).where(
                CustomerPrediction.model_version_id == version.id,
                CustomerPrediction.customer_id.in_(chunk),
            )
        ):
            found[row.customer_id] = row
    return PredictionsOut(
        model=_ref(version),
        predictions=[_prediction(found[i]) for i in ids if i in found],
        unknown=[i for i in ids if i not in found],
        caveats=caveats(version),
    )


def _predict_rows(
    version: ModelVersion, rows: list[dict[str, Any]], models_root: Path
) -> PredictionsOut:
    from custintel.publish import prediction_records
    from custintel.value.rows import ServedValue, score_rows

    def restore(payload: dict[str, Any]) -> ServedValue:
        if not payload.get("served"):
            raise Problem(
                409,
                "Model cannot score feature rows",
                f"value version {version.version} was fitted on a history too short to "
                "train the learners that score feature rows; send customer_ids, or "
                "retrain when the shop has more history",
            )
        return ServedValue.from_dict(payload["served"])

    served = _loaded(models_root, version, restore)
    scores, ignored = score_rows(served, pd.DataFrame(rows))
    return PredictionsOut(
        model=_ref(version),
        predictions=[_prediction(CustomerPrediction(**r)) for r in prediction_records(scores)],
        ignored_columns=ignored,
        caveats=caveats(version),
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- forecasts --------------------------------------------------------------------------

# The series name of the shop's total in a forecast split by category (reconciled).
TOTAL_SERIES = "total"


def forecasts(
    session: Session, version: ModelVersion, timeframe: str, by: str | None, horizon: int | None
) -> ForecastsOut:
    """``version``'s forecast for ``timeframe`` (and breakdown ``by``): history and the
    first ``horizon`` forecast periods (all trained ones when None) of every series,
    with intervals and backtest accuracy. 404 when that timeframe/breakdown was not
    trained, 422 when ``horizon`` exceeds what was."""
    key = by or ""
    trained = {
        (t, b)
        for t, b in session.execute(
            select(ForecastPoint.timeframe, ForecastPoint.by)
            .where(ForecastPoint.model_version_id == version.id)
            .distinct()
        )
    }
    only: str | None = None
    if by is None and (timeframe, "") not in trained:
        # The total is also a series of every reconciled split: serve it from there.
        split = next((b for t, b in sorted(trained) if t == timeframe), None)
        if split is not None:
            key, only = split, TOTAL_SERIES
    if (timeframe, key) not in trained:
        choices = ", ".join(
            f"timeframe={t}" + (f"&by={b}" if b else "") for t, b in sorted(trained)
        )
        raise Problem(
            404,
            "Forecast not trained",
            f"forecasting version {version.version} has no {timeframe} forecast"
            + (f" by {by}" if by else "")
            + f"; trained: {choices or 'none'}",
            trained=[{"timeframe": t, "by": b or None} for t, b in sorted(trained)],
        )
    where: tuple[Any, ...] = (
        ForecastPoint.model_version_id == version.id,
        ForecastPoint.timeframe == timeframe,
        ForecastPoint.by == key,
    )
    if only is not None:
        where = (*where, ForecastPoint.series == only)
    points = session.scalars(
        select(ForecastPoint).where(*where).order_by(ForecastPoint.series, ForecastPoint.date)
    ).all()
    history: dict[str, list[HistoryPoint]] = defaultdict(list)
    future: dict[str, list[ForecastPoint]] = defaultdict(list)
    for p in points:
        if p.kind == "forecast":
            future[p.series].append(p)
        else:
            history[p.series].append(HistoryPoint(date=p.date, value=p.value))
    most = max((len(f) for f in future.values()), default=0)
    if horizon is not None and horizon > most:
        raise Problem(
            422,
            "Horizon too long",
            f"horizon={horizon} exceeds the {most} {timeframe} periods this version was "
            f"trained for; ask for at most {most}, or retrain with a longer horizon",
            max_horizon=most,
        )
    keep = most if horizon is None else horizon
    backtests = {
        b.series: b
        for b in session.scalars(
            select(ForecastBacktest).where(
                ForecastBacktest.model_version_id == version.id,
                ForecastBacktest.timeframe == timeframe,
                ForecastBacktest.by == key,
            )
        )
    }
    series = []
    for name in sorted(set(history) | set(future)):
        ahead = future[name][:keep]
        test = backtests.get(name)
        series.append(
            ForecastSeries(
                series=name,
                model=next((p.model for p in ahead if p.model), test.model if test else None),
                history=history[name],
                forecast=[
                    ForecastPointOut(
                        date=p.date,
                        forecast=p.value,
                        lower_80=p.lower_80,
                        upper_80=p.upper_80,
                        lower_95=p.lower_95,
                        upper_95=p.upper_95,
                    )
                    for p in ahead
                ],
                backtest=BacktestOut(model=test.model, horizon=test.horizon, metrics=test.metrics)
                if test
                else None,
            )
        )
    return ForecastsOut.model_validate(
        {
            "model": _ref(version),
            "timeframe": timeframe,
            "by": by or None,
            "horizon": keep,
            "series": series,
        }
    )


# -- models -----------------------------------------------------------------------------


def _version_out(info: VersionInfo) -> ModelVersionOut:
    return ModelVersionOut.model_validate(info, from_attributes=True)


def models(session: Session, capability: str | None) -> list[ModelVersionOut]:
    """Every version (of ``capability``), newest first, marked active or not."""
    return [_version_out(v) for v in list_versions(session, capability)]


def _find(session: Session, capability: str, version: int) -> ModelVersion:
    row = session.scalar(
        select(ModelVersion).where(
            ModelVersion.capability == capability, ModelVersion.version == version
        )
    )
    if row is None:
        known = session.scalars(
            select(ModelVersion.version)
            .where(ModelVersion.capability == capability)
            .order_by(ModelVersion.version)
        ).all()
        raise Problem(
            404,
            "Unknown model version",
            f"{capability} has no version {version}; versions: "
            + (", ".join(map(str, known)) or "none (train it first)"),
        )
    return row


def model_detail(session: Session, capability: str, version: int) -> ModelVersionDetail:
    """One version with its training summary; 404 naming the versions that exist."""
    row = _find(session, capability, version)
    info = next(v for v in list_versions(session, capability) if v.id == row.id)
    return ModelVersionDetail.model_validate(
        {**_version_out(info).model_dump(), "summary": row.summary or {}}
    )


def activate_version(session: Session, capability: str, version: int) -> ModelVersionOut:
    """Serve ``version`` of ``capability`` from the next request on."""
    _find(session, capability, version)
    activated = _version_out(activate(session, capability, version))
    forget_active()
    return activated


# -- model artifacts and segment prediction --------------------------------------------

# Loaded artifacts, oldest first; a few, as the served versions change. Keyed by the
# artifact's checksum, not the version id: several apps (tests, workers) may share a
# process, each with its own database numbering versions from 1.
_MODEL_CACHE: dict[tuple[str, str], Any] = {}
_CACHED_MODELS = 4


def _loaded(
    models_root: Path, version: ModelVersion, restore: Callable[[dict[str, Any]], Any]
) -> Any:
    """``restore`` of a version's artifact, checked against the registry's sha256 once
    per artifact and process (an artifact never changes once written)."""
    key = (version.capability, version.sha256)
    if key not in _MODEL_CACHE:
        while len(_MODEL_CACHE) >= _CACHED_MODELS:
            _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
        _MODEL_CACHE[key] = restore(load_artifact(models_root, version))
    return _MODEL_CACHE[key]


def predict_segments(
    session: Session,
    version: ModelVersion,
    body: SegmentPredictIn,
    models_root: Path,
    limit: int,
) -> SegmentPredictOut:
    """Segments of known ids (read from the version's assignments) or of feature rows
    (scored by its model); 422 for both or neither, or more than ``limit``."""
    from custintel.errors import ConfigError
    from custintel.segmentation.service import predict_segment

    _batch(body.customer_ids, body.rows, limit)
    if body.customer_ids is not None:
        wanted = list(dict.fromkeys(body.customer_ids))
        found = {
            a.customer_id: a
            for a in session.scalars(
                select(SegmentAssignment).where(
                    SegmentAssignment.model_version_id == version.id,
                    SegmentAssignment.customer_id.in_(wanted),
                )
            )
        }
        return SegmentPredictOut(
            model=_ref(version),
            segments=[
                SegmentAssignmentOut.model_validate(found[c], from_attributes=True)
                for c in wanted
                if c in found
            ],
            unknown=[c for c in wanted if c not in found],
        )
    model = _loaded(models_root, version, lambda payload: payload)
    frame = pd.DataFrame(body.rows)
    try:
        result = predict_segment(model, frame)
    except ConfigError as error:
        raise Problem(422, "Invalid feature rows", error.message) from None
    except (KeyError, ValueError) as error:
        raise Problem(
            422,
            "Invalid feature rows",
            f"the rows do not have the features this model needs ({error}); send rows as "
            "`custintel features` writes them",
        ) from None
    return SegmentPredictOut(
        model=_ref(version),
        segments=[
            SegmentAssignmentOut(**{str(k): _plain(v) for k, v in record.items()})
            for record in result.to_dict(orient="records")
        ],
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
