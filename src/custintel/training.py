"""Training on the data directory, as jobs, schedules and the demo run it.

``train_capability`` runs one capability on the data directory's store and publishes
the new version to the app database (``publish.py``), which activates it: a failure
before publishing leaves the served version as it was. ``sync_data_directory`` brings
the configured source (custintel.toml) into the store. ``score_ids`` reads the active
predictions for a list of customer ids (bulk files, batch predictions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from custintel.appdb.schema import CustomerPrediction, ModelVersion, SegmentAssignment
from custintel.config import Settings
from custintel.data.ingest import Progress, SyncReport
from custintel.data.mapping import load_mapping
from custintel.data.store import Store
from custintel.errors import ConfigError, NotEnoughData
from custintel.registry.versions import CAPABILITIES, VersionInfo, active, list_versions
from custintel.value.eligibility import chance_caveats

__all__ = [
    "DEFAULT_TIMEFRAMES",
    "FORECAST_HORIZON",
    "score_ids",
    "sync_data_directory",
    "train_capability",
]

JobProgress = Callable[[float, str], None]
DEFAULT_TIMEFRAMES = ("monthly", "weekly", "daily")
FREQ_OF = {"daily": "D", "weekly": "W", "monthly": "M"}
# Periods forecast per timeframe: the dashboard offers 6, 12 and 24 periods, and its
# overview the next 30 days.
FORECAST_HORIZON = {"daily": 30, "weekly": 24, "monthly": 24}
SCORE_HORIZON_DAYS = 30


def _need_store(settings: Settings) -> None:
    if not settings.store_path.exists():
        raise NotEnoughData(
            "the data directory has no store yet",
            where=str(settings.home),
            hint="sync the shop's data first (`custintel sync`, or POST /v1/jobs with "
            "kind=sync), or build the demo with `custintel demo`",
        )


def _results(settings: Settings) -> Path:
    folder = settings.home / "results"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _forecast_plan(settings: Settings) -> tuple[list[str], dict[str, int], str | None]:
    """Timeframes, horizon per timeframe and split from ``[forecasting]``
    (``timeframes``, ``horizon``, ``by``); by default every timeframe, 30 days, 24 weeks
    or months, per category when the shop has categories. A ``horizon`` number applies
    to every timeframe."""
    from custintel.services import capability_options

    options = capability_options(settings, None, "forecasting")
    timeframes = list(options.get("timeframes", DEFAULT_TIMEFRAMES))
    unknown = [t for t in timeframes if t not in FREQ_OF]
    if unknown or not timeframes:
        raise ConfigError(
            f"[forecasting] timeframes={timeframes!r}: use some of daily, weekly, monthly"
        )
    horizon = options.get("horizon")
    if horizon is not None and (not isinstance(horizon, int) or horizon < 1):
        raise ConfigError(f"[forecasting] horizon={horizon!r} should be a number of periods")
    horizons = {t: horizon or FORECAST_HORIZON[t] for t in timeframes}
    with Store(settings.store_path, read_only=True) as store:
        has_categories = store.con.execute(
            "SELECT count(*) FROM orders WHERE category IS NOT NULL"
        ).fetchone()
    default_by = "category" if has_categories and has_categories[0] else None
    return timeframes, horizons, options.get("by", default_by)


def train_forecasts(
    settings: Settings,
    *,
    timeframes: list[str] | None = None,
    progress: JobProgress | None = None,
    job_id: str | None = None,
) -> VersionInfo:
    """Forecast every configured timeframe (or ``timeframes``), with the total and, when
    split, each category, and publish them as one forecasting version (the active
    version's other timeframes carried over)."""
    from custintel.forecasting.service import forecast_sales, summary
    from custintel.publish import publish_forecasts
    from custintel.registry import ArtifactStore
    from custintel.services import app_database, default_as_of

    say = progress or (lambda fraction, message: None)
    configured, horizons, by = _forecast_plan(settings)
    timeframes = timeframes or configured
    results = []
    with Store(settings.store_path, memory_limit=settings.duckdb_memory_limit) as store:
        as_of = default_as_of(store)
        started = store.first_order_date()
        for i, timeframe in enumerate(timeframes):
            horizon = horizons.get(timeframe) or FORECAST_HORIZON[timeframe]
            say(i / len(timeframes), f"forecasting {timeframe} sales, {horizon} periods")
            results.append(
                forecast_sales(store, freq=FREQ_OF[timeframe], horizon=horizon, as_of=as_of, by=by)
            )
    ref = ArtifactStore(settings.home / "models").save(
        "forecasting",
        {"runs": [summary(r, None) for r in results]},
        metadata={"as_of": as_of.isoformat(), "timeframes": timeframes, "by": by},
    )
    say(0.95, "publishing the forecasts")
    return publish_forecasts(
        app_database(settings), ref, results, as_of=as_of, data_from=started, job_id=job_id
    )


def train_capability(
    settings: Settings,
    capability: str,
    *,
    progress: JobProgress | None = None,
    job_id: str | None = None,
) -> VersionInfo:
    """Train ``capability`` on the data directory and publish (and activate) the new
    version. Raises custintel errors on data that cannot support it; nothing served
    changes then."""
    from custintel.services import app_database, run_scoring, run_segmentation

    if capability not in CAPABILITIES:
        raise ConfigError(
            f"unknown capability {capability!r}", hint=f"use one of {', '.join(CAPABILITIES)}"
        )
    _need_store(settings)
    say = progress or (lambda fraction, message: None)

    def steps(_table: str, message: str) -> None:
        say(0.5, message)

    if capability == "forecasting":
        return train_forecasts(settings, progress=progress, job_id=job_id)
    if capability == "segmentation":
        run_segmentation(
            settings,
            None,
            as_of=None,
            out=_results(settings) / "segments.parquet",
            progress=steps,
            job_id=job_id,
        )
    else:
        run_scoring(
            settings,
            None,
            out=_results(settings) / "scores.parquet",
            horizon_days=SCORE_HORIZON_DAYS,
            as_of=None,
            progress=steps,
            job_id=job_id,
        )
    with app_database(settings).session() as session:
        # publishing activated the new version
        return next(v for v in list_versions(session, capability) if v.active)


def sync_data_directory(settings: Settings, progress: Progress | None = None) -> SyncReport:
    """Sync the source named by the data directory's custintel.toml into its store
    (all or nothing)."""
    from custintel.services import sync_with_settings

    if not settings.mapping_path.exists():
        raise ConfigError(
            "the data directory has no custintel.toml, so there is nothing to sync",
            where=str(settings.mapping_path),
            hint="write one with `custintel init --source URL` (or name files in it)",
        )
    mapping = load_mapping(settings.mapping_path)
    with Store(settings.store_path, memory_limit=settings.duckdb_memory_limit) as store:
        return sync_with_settings(store, mapping, settings, progress=progress)


PREDICTION_COLUMNS = [
    "expected_orders",
    "expected_spend",
    "p_active",
    "churn_probability",
    "churn_risk",
    "clv",
    "next_order_date",
    "rfm_segment",
    "spend_percentile",
    "value_tier",
    "top_factors",
]


def score_ids(
    settings: Settings,
    customer_ids: Sequence[str],
    chunk: int = 5_000,
    *,
    versions: dict[str, int | None] | None = None,
) -> pd.DataFrame:
    """The active predictions (and segment) for ``customer_ids``, in their order: a row
    per id, ``found`` False for ids the active version does not know (never dropped).

    ``frame.attrs`` says what they came from: ``model_version`` (the value version's
    number), ``versions`` (the value and segmentation version ids) and ``caveats`` (the
    value version's columns that rank no better than chance). Passing a previous call's
    ``versions`` scores with those versions instead of the active ones, so that a job
    scoring in chunks reads one version throughout even if another is activated
    meanwhile."""
    from custintel.services import app_database

    db = app_database(settings)
    ids = [str(i) for i in customer_ids]
    found: dict[str, dict[str, Any]] = {}
    with db.session() as session:
        if versions is None:
            value = active(session, "value")
            segments = active(session, "segmentation")
        else:  # versions are never deleted, so a pinned one is still there
            value = session.get(ModelVersion, versions["value"])
            segment_id = versions.get("segmentation")
            segments = session.get(ModelVersion, segment_id) if segment_id else None
        if value is None:
            raise NotEnoughData(
                "no customer predictions yet: the value models have not been trained",
                hint="train them (POST /v1/jobs with kind=train, capability=value)",
            )
        columns = [getattr(CustomerPrediction, c) for c in PREDICTION_COLUMNS]
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            rows = session.execute(
                select(CustomerPrediction.customer_id, *columns).where(
                    CustomerPrediction.model_version_id == value.id,
                    CustomerPrediction.customer_id.in_(part),
                )
            )
            for row in rows:
                found[row[0]] = dict(zip(PREDICTION_COLUMNS, row[1:], strict=True))
            if segments is not None:
                for customer, cluster_name in session.execute(
                    select(SegmentAssignment.customer_id, SegmentAssignment.cluster_name).where(
                        SegmentAssignment.model_version_id == segments.id,
                        SegmentAssignment.customer_id.in_(part),
                    )
                ):
                    if customer in found:
                        found[customer]["cluster_name"] = cluster_name
    empty = dict.fromkeys([*PREDICTION_COLUMNS, "cluster_name"])
    frame = pd.DataFrame(
        [{"customer_id": i, "found": i in found, **empty, **found.get(i, {})} for i in ids]
    )
    frame.attrs["model_version"] = value.version
    frame.attrs["versions"] = {
        "value": value.id,
        "segmentation": segments.id if segments is not None else None,
    }
    frame.attrs["caveats"] = chance_caveats(value.summary)
    return frame


def write_back_active(settings: Settings) -> dict[str, int] | None:
    """Write the active segments (with each customer's spend, churn and CLV when the
    value models are trained, and then the value version's statements on those columns
    in the notes table) and forecasts to the shop's own database, when
    custintel.toml has a ``[writeback]`` table; None when it has not. Returns the rows
    written per table. Customers without a cluster (segmentation by RFM only) get
    cluster -1."""
    from custintel.appdb.schema import ForecastPoint
    from custintel.services import app_database, capability_options
    from custintel.writeback import ValueNotes, WritebackSettings, write_forecasts, write_segments

    config = WritebackSettings.from_options(capability_options(settings, None, "writeback"))
    if config is None:
        return None
    written: dict[str, int] = {}
    with app_database(settings).session() as session:
        segments = active(session, "segmentation")
        value = active(session, "value")
        forecasting = active(session, "forecasting")
        if segments is not None:
            frame = pd.read_sql(
                select(SegmentAssignment).where(SegmentAssignment.model_version_id == segments.id),
                session.connection(),
            )
            if value is not None:
                spend = pd.read_sql(
                    select(
                        CustomerPrediction.customer_id,
                        CustomerPrediction.expected_spend,
                        CustomerPrediction.churn_probability,
                        CustomerPrediction.clv,
                    ).where(CustomerPrediction.model_version_id == value.id),
                    session.connection(),
                )
                frame = frame.merge(spend, on="customer_id", how="left")
            frame["cluster"] = frame["cluster"].fillna(-1)
            frame["cluster_name"] = frame["cluster_name"].fillna("(no cluster)")
            notes = (
                ValueNotes(
                    version=value.version,
                    as_of=value.as_of or value.created_at.date(),
                    statements=(value.summary or {}).get("eligibility", []),
                )
                if value is not None
                else None
            )
            written["segments"] = write_segments(
                config,
                frame,
                model_version=segments.version,
                as_of=segments.as_of or segments.created_at.date(),
                notes=notes,
            )
            if notes is not None:
                written["value notes"] = len(notes.statements)
        if forecasting is not None:
            points = pd.read_sql(
                select(ForecastPoint).where(
                    ForecastPoint.model_version_id == forecasting.id,
                    ForecastPoint.kind == "forecast",
                ),
                session.connection(),
            )
            for timeframe, rows in points.groupby("timeframe"):
                # one split per timeframe: the finest (it holds the reconciled total too)
                split = max(rows["by"].unique(), key=len)
                chosen = rows[rows["by"] == split].rename(columns={"value": "forecast"})
                written[f"forecasts {timeframe}"] = write_forecasts(
                    config, chosen, model_version=forecasting.version, timeframe=str(timeframe)
                )
    return written
