"""Publishing a trained version to the app database, where the API serves it from.

A run on the data directory (``custintel segment``, ``forecast``, ``score``, the demo, a
training job) saves its artifact in the artifact store, then calls one function here:
the version's row (with its summary, metrics and the training data's date range) and
its results (assignments, predictions, forecast points) are written in one
transaction, and the version is activated in the same transaction, so the API sees the
new version whole or not at all. A run that fails before this point changes nothing
that is served.

A forecasting version is a set of forecasts (timeframe × split): a run that makes some
of them carries the others over from the active version, so forecasting one timeframe
never takes the others off the dashboard.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from custintel.appdb import AppDB
from custintel.appdb.schema import (
    CustomerPrediction,
    ForecastBacktest,
    ForecastPoint,
    SegmentAssignment,
)
from custintel.registry.artifacts import ArtifactRef
from custintel.registry.versions import VersionInfo, activate, active, add_version

if TYPE_CHECKING:
    from custintel.forecasting import ForecastResult
    from custintel.segmentation.service import SegmentationRun

__all__ = ["prediction_records", "publish_forecasts", "publish_scores", "publish_segmentation"]

CHUNK = 20_000
# The features a segmentation version keeps per customer (its scores' inputs).
INPUTS = ("recency_days", "frequency", "monetary", "tenure_days")


def _clean(value: Any) -> Any:
    """NaN and NaT become None; numpy scalars become Python ones."""
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    columns = list(frame.columns)
    for values in frame.itertuples(index=False, name=None):
        yield {c: _clean(v) for c, v in zip(columns, values, strict=True)}


def _insert(session: Session, table: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk insert in chunks (executemany): a million rows without a million statements."""
    count = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            session.execute(insert(table), chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        session.execute(insert(table), chunk)
        count += len(chunk)
    return count


def _finish(session: Session, ref: ArtifactRef) -> VersionInfo:
    return activate(session, ref.capability, ref.version)


def publish_segmentation(
    db: AppDB,
    ref: ArtifactRef,
    run: SegmentationRun,
    features: pa.Table | pd.DataFrame,
    *,
    data_from: date | None,
    job_id: str | None = None,
) -> VersionInfo:
    """Publish a segmentation run: one row per customer with the RFM inputs the scores
    came from (for segment performance and the customer page), and the run's summary."""
    kept = ["customer_id", *INPUTS]
    table = features.select(kept).to_pandas() if isinstance(features, pa.Table) else features
    inputs = table[kept].set_index(table["customer_id"].astype(str))
    frame = run.assignments
    ids = frame["customer_id"].astype(str)
    rows = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "r_score": frame["r_score"],
            "f_score": frame["f_score"],
            "m_score": frame["m_score"],
            "rfm_segment": frame["rfm_segment"],
            "cluster": frame.get("cluster"),
            "cluster_name": frame.get("cluster_name"),
            "x": frame.get("pca_x"),
            "y": frame.get("pca_y"),
            **{column: inputs[column].reindex(ids).to_numpy() for column in INPUTS},
        }
    )
    clustering = run.summary.get("clustering") or {}
    metrics = {
        "customers": len(frame),
        "method": clustering.get("method"),
        "clusters": clustering.get("k"),
        "why": clustering.get("why"),
    }
    with db.session() as session:
        version = add_version(
            session,
            ref,
            summary=run.summary,
            metrics=metrics,
            as_of=run.as_of,
            data_from=data_from,
            data_to=run.as_of,
            job_id=job_id,
        )
        _insert(session, SegmentAssignment, _records(rows.assign(model_version_id=version.id)))
        return _finish(session, ref)


def _split(result: ForecastResult) -> tuple[str, str]:
    settings = result.settings
    return str(settings["timeframe"]), str(settings.get("by") or "")


def _forecast_rows(version_id: int, result: ForecastResult) -> Iterator[dict[str, Any]]:
    timeframe, by = _split(result)
    key = {"model_version_id": version_id, "timeframe": timeframe, "by": by}
    history = result.history
    for series, day, actual in history[["series", "date", "actual"]].itertuples(index=False):
        yield {
            **key,
            "series": str(series),
            "kind": "history",
            "date": pd.Timestamp(day).date(),
            "value": _clean(actual) or 0.0,
        }
    columns = ["series", "date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    frame = result.forecasts[[*columns, "model"]]
    for series, day, value, lo80, hi80, lo95, hi95, model in frame.itertuples(index=False):
        yield {
            **key,
            "series": str(series),
            "kind": "forecast",
            "date": pd.Timestamp(day).date(),
            "value": _clean(value),
            "lower_80": _clean(lo80),
            "upper_80": _clean(hi80),
            "lower_95": _clean(lo95),
            "upper_95": _clean(hi95),
            "model": str(model),
        }


def _backtest_rows(version_id: int, result: ForecastResult) -> Iterator[dict[str, Any]]:
    """Per series: the chosen model's backtest error beside the floor model's."""
    timeframe, by = _split(result)
    table = result.backtest
    if table.empty:
        return
    floor = {
        str(series): (str(model), mase)
        for series, model, mase in table.loc[
            table["floor"], ["series", "model", "mase"]
        ].itertuples(index=False)
    }
    for row in table[table["chosen"]].itertuples(index=False):
        base = floor.get(str(row.series))
        yield {
            "model_version_id": version_id,
            "timeframe": timeframe,
            "by": by,
            "series": str(row.series),
            "model": str(row.model),
            "horizon": int(result.settings["horizon"]),
            "metrics": {
                "mase": _clean(row.mase),
                "smape": _clean(row.smape),
                "coverage_80": _clean(row.coverage_80),
                "coverage_95": _clean(row.coverage_95),
                "points": _clean(row.points),
                "floor_model": None if base is None else base[0],
                "floor_mase": None if base is None else _clean(base[1]),
            },
        }


def _carried(
    session: Session, table: Any, source: int, target: int, keep: set[tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    """Rows of ``table`` from version ``source`` whose (timeframe, by) is not in ``keep``,
    re-keyed to version ``target``."""
    for row in session.scalars(select(table).where(table.model_version_id == source)):
        if (row.timeframe, row.by) in keep:
            continue
        values = {c.key: getattr(row, c.key) for c in table.__table__.columns}
        yield {**values, "model_version_id": target}


def publish_forecasts(
    db: AppDB,
    ref: ArtifactRef,
    results: list[ForecastResult],
    *,
    as_of: date,
    data_from: date | None,
    job_id: str | None = None,
) -> VersionInfo:
    """Publish forecast runs (each one timeframe × split) as one forecasting version;
    the active version's other forecasts are carried over."""
    made = {_split(r) for r in results}
    summaries = {f"{t}/{b or 'total'}": r.accuracy() for r in results for t, b in [_split(r)]}
    with db.session() as session:
        previous = active(session, "forecasting")
        carried_over: set[str] = set()
        if previous is not None:
            carried_over = {
                f"{t}/{b or 'total'}"
                for t, b in session.execute(
                    select(ForecastBacktest.timeframe, ForecastBacktest.by)
                    .where(ForecastBacktest.model_version_id == previous.id)
                    .distinct()
                )
                if (t, b) not in made
            }
        version = add_version(
            session,
            ref,
            summary={
                "made": sorted(summaries),
                "carried_over": sorted(carried_over),
                "runs": [r.settings for r in results],
            },
            # every split this version serves, the carried ones with their own accuracy
            metrics={
                **{
                    k: v
                    for k, v in (previous.metrics if previous else {}).items()
                    if k in carried_over
                },
                **summaries,
            },
            as_of=as_of,
            data_from=data_from,
            data_to=as_of,
            job_id=job_id,
        )
        for result in results:
            _insert(session, ForecastPoint, _forecast_rows(version.id, result))
            _insert(session, ForecastBacktest, _backtest_rows(version.id, result))
        if previous is not None:
            for table in (ForecastPoint, ForecastBacktest):
                rows = list(_carried(session, table, previous.id, version.id, made))
                _insert(session, table, rows)
        return _finish(session, ref)


def prediction_records(scores: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Scores (``value.service.SCORE_COLUMNS`` layout) as ``CustomerPrediction`` fields:
    the per-category spends gathered into one mapping, dates as dates, NaN as None."""
    categories = [c for c in scores.columns if c.startswith("expected_spend__")]
    fixed = [c for c in scores.columns if c not in categories]
    rows = scores[fixed].assign(customer_id=scores["customer_id"].astype(str))
    rows["next_order_date"] = pd.to_datetime(rows["next_order_date"]).dt.date
    if categories:
        spend = scores[categories].rename(columns=lambda c: c.removeprefix("expected_spend__"))
        by_category: list[dict[str, Any]] = [
            {k: _clean(v) for k, v in zip(spend.columns, values, strict=True)}
            for values in spend.itertuples(index=False, name=None)
        ]
        rows["spend_by_category"] = pd.Series(by_category, index=rows.index, dtype=object)
    for record in _records(rows):
        yield {**record, "next_order_date": record["next_order_date"] or None}


def publish_scores(
    db: AppDB,
    ref: ArtifactRef,
    scores: pd.DataFrame,
    info: dict[str, Any],
    *,
    as_of: date,
    data_from: date | None,
    job_id: str | None = None,
) -> VersionInfo:
    """Publish a scoring run: one row per customer (spend per category as JSON), and the
    run's summary (choices, validation comparison, eligibility)."""
    chosen = info.get("chosen", {})
    validation = info.get("validation", {})
    metrics = {
        "customers": len(scores),
        "horizon_days": info.get("horizon_days"),
        "chosen": chosen,
        "validation": {
            target: validation.get(target, {}).get(model, {}) for target, model in chosen.items()
        },
    }
    with db.session() as session:
        version = add_version(
            session,
            ref,
            summary=info,
            metrics=metrics,
            as_of=as_of,
            data_from=data_from,
            data_to=as_of,
            job_id=job_id,
        )
        records = ({**r, "model_version_id": version.id} for r in prediction_records(scores))
        _insert(session, CustomerPrediction, records)
        return _finish(session, ref)
