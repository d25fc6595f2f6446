"""Service functions that the CLI (and later the HTTP API and jobs) call.

Adapters stay thin: they parse options, call one function here and print or return
the result. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custintel.appdb import AppDB
from custintel.config import Settings
from custintel.data.ingest import Progress, SyncReport, sync
from custintel.data.mapping import Mapping, load_mapping
from custintel.data.store import Store
from custintel.errors import ConfigError, NotEnoughData

if TYPE_CHECKING:
    from custintel.forecasting import ForecastResult
    from custintel.segmentation.demographic import DemographicSegments
    from custintel.segmentation.service import SegmentationRun

__all__ = [
    "DemoSummary",
    "build_demo",
    "check_output_path",
    "default_as_of",
    "export_features",
    "mapping_from_options",
    "open_data",
    "run_demographic_segmentation",
    "run_forecast",
    "run_scoring",
    "run_segmentation",
    "sync_with_settings",
    "write_demo_data",
    "write_table",
]

# Receives the report of a one-off sync from files: rows read, and rows rejected and why.
SyncHandler = Callable[[SyncReport], None]


def mapping_from_options(
    *,
    orders: Path | None = None,
    customers: Path | None = None,
    products: Path | None = None,
    reviews: Path | None = None,
    source: str | None = None,
    mapping: Path | None = None,
) -> Mapping | None:
    """The mapping that CLI options describe, or None when they name no data at all.

    ``--mapping`` is read first; ``--source`` replaces its URL; file options replace
    its tables (a file given on the command line wins over the mapping's entry, whose
    file settings it keeps: columns, delimiter, duplicates and the rest).
    """
    files = {"orders": orders, "customers": customers, "products": products, "reviews": reviews}
    if mapping is None and source is None and not any(files.values()):
        return None
    result = load_mapping(mapping) if mapping is not None else Mapping()
    if source is not None:
        result.source = source
    overrides = Mapping.for_files(**files).tables
    for name, table in overrides.items():
        base = result.tables.get(name)
        if base is not None and not (base.table or base.query):
            # A file entry, or settings alone (duplicates = "keep", say): keep them all.
            table = base.model_copy(update={"path": table.path})
        elif base is not None:  # a database table entry replaced by a file: keep columns
            table = table.model_copy(update={"columns": base.columns})
        result.tables[name] = table
    if source is not None and mapping is None and "orders" not in result.tables:
        raise ConfigError(
            "--source needs a mapping that says which tables hold the orders",
            hint="run `custintel init --source URL` to write one, then pass --mapping "
            "custintel.toml",
        )
    return result


def open_data(
    settings: Settings,
    mapping: Mapping | None,
    *,
    progress: Progress | None = None,
    on_sync: SyncHandler | None = None,
) -> tuple[Store, SyncReport | None]:
    """A store to read from: a fresh in-memory one synced from ``mapping`` when given,
    else the data directory's store (read-only). ``on_sync`` receives the sync's report
    (what was read, and every row rejected and why) so that no row is dropped unseen."""
    if mapping is None:
        return Store(
            settings.store_path, read_only=True, memory_limit=settings.duckdb_memory_limit
        ), None
    store = Store(None, memory_limit=settings.duckdb_memory_limit)
    report = sync_with_settings(store, mapping, settings, progress=progress)
    if on_sync is not None:
        on_sync(report)
    return store, report


def capability_options(settings: Settings, mapping: Mapping | None, section: str) -> dict[str, Any]:
    """A capability's ``[section]`` options: from ``mapping`` when files are named, else
    from the data directory's custintel.toml (empty when there is none)."""
    if mapping is None and settings.mapping_path.exists():
        mapping = load_mapping(settings.mapping_path)
    return dict(getattr(mapping, section) or {}) if mapping is not None else {}


def open_capability(
    settings: Settings,
    mapping: Mapping | None,
    section: str,
    *,
    progress: Progress | None = None,
    on_sync: SyncHandler | None = None,
) -> tuple[Store, dict[str, Any], bool]:
    """The store a capability runs on, its ``[section]`` options, and whether the run is
    persistent: with no files named, the data directory's store (writable, so the run
    can be versioned and kept); otherwise a one-off in-memory store synced from
    ``mapping``, whose report goes to ``on_sync``."""
    options = capability_options(settings, mapping, section)
    if mapping is None:
        store = Store(settings.store_path, memory_limit=settings.duckdb_memory_limit)
        return store, options, True
    store, _ = open_data(settings, mapping, progress=progress, on_sync=on_sync)
    return store, options, False


def sync_with_settings(
    store: Store, mapping: Mapping, settings: Settings, *, progress: Progress | None = None
) -> SyncReport:
    """Sync ``mapping`` into ``store`` with the rejects folder and limits of ``settings``."""
    return sync(
        store,
        mapping,
        rejects_dir=settings.rejects_dir,
        max_reject_share=settings.max_reject_share,
        progress=progress,
    )


def default_as_of(store: Store) -> date:
    """The day after the last order: every order in the store is then 'before as_of'."""
    row = (
        store.con.execute("SELECT CAST(max(ordered_at) AS DATE) FROM orders").fetchone()
        if store.has_table("orders")
        else None
    )
    if row is None or row[0] is None:
        raise NotEnoughData(
            "the store holds no orders",
            where=str(store.path or "memory"),
            hint="sync some orders first (`custintel sync --orders FILE`)",
        )
    last: date = row[0]
    return last + timedelta(days=1)


def app_database(settings: Settings) -> AppDB:
    """The app database of the data directory, migrated to the newest schema."""
    db = AppDB.from_settings(settings)
    db.migrate()
    return db


def check_output_path(out: Path) -> str:
    """The output format of ``out`` (its suffix); a ConfigError for anything else, raised
    before any work is done."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(
            f"cannot write {suffix or 'a file without extension'!r}",
            where=str(out),
            hint="name the output file .csv or .parquet",
        )
    return suffix


def write_table(table: pa.Table, out: Path) -> Path:
    """Write ``table`` as CSV or Parquet (by ``out``'s extension), atomically: the file
    appears whole or not at all."""
    suffix = check_output_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if suffix == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def export_features(store: Store, as_of: date, out: Path) -> int:
    """Compute point-in-time features as of ``as_of`` and write them to ``out``.

    Returns the number of customers written.
    """
    from custintel.features import customer_features

    table = customer_features(store.con, as_of)
    if table.num_rows == 0:
        raise NotEnoughData(
            f"no customer has an order before {as_of}", hint="choose a later --as-of"
        )
    table = table.drop_columns(["as_of"])
    write_table(table, out)
    return table.num_rows


def write_demo_data(out: Path, *, customers: int, seed: int) -> list[Path]:
    """Generate the demo shop and write it to ``out`` (CSV, Parquet, SQLite)."""
    from custintel.demo import generate_shop, write_shop

    return write_shop(generate_shop(customers=customers, seed=seed), out)


@dataclass
class DemoSummary:
    """What ``custintel demo`` built, for printing."""

    customers: int
    orders: int
    lines: int
    revenue: float
    first: date
    last: date
    rejected: int
    features_path: Path
    categories: list[tuple[str, float, float]]
    segments: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    segments_path: Path
    forecast_path: Path
    forecast: dict[str, Any]
    scores_path: Path
    scores: dict[str, Any]

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("customers", f"{self.customers:,}"),
            ("orders", f"{self.orders:,}"),
            ("order lines", f"{self.lines:,}"),
            ("net revenue", f"{self.revenue:,.0f}"),
            ("period", f"{self.first} to {self.last}"),
            ("rows rejected at sync", f"{self.rejected:,}"),
        ]


DEMO_MARKER = ".custintel-demo"


def build_demo(
    settings: Settings,
    *,
    customers: int = 10_000,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Generate the demo shop into the data directory, sync it, compute features, segment
    the customers, forecast 24 months, weeks and days of sales per category and score
    every customer's next 30 days (spend, churn, CLV).

    Refuses to touch a data directory that holds a store which is not the demo's.
    """
    say = progress or (lambda what: None)
    home = settings.home
    marker = home / DEMO_MARKER
    if settings.store_path.exists() and not marker.exists():
        raise ConfigError(
            "the data directory holds a store that is not the demo's",
            where=str(home),
            hint="point CUSTINTEL_HOME at another folder for the demo",
        )
    home.mkdir(parents=True, exist_ok=True)
    marker.write_text("this data directory holds the demo shop\n", encoding="utf-8")
    say(f"generating {customers:,} customers")
    from custintel.demo import generate_shop, write_shop

    shop_dir = home / "demo-shop"
    write_shop(
        generate_shop(customers=customers, seed=seed), shop_dir, formats=("parquet", "sqlite")
    )
    settings.store_path.unlink(missing_ok=True)
    mapping = Mapping.for_files(
        **{n: shop_dir / f"{n}.parquet" for n in ("customers", "products", "orders", "reviews")}
    )
    say("syncing into the store")
    with Store(settings.store_path, memory_limit=settings.duckdb_memory_limit) as store:
        report = sync_with_settings(store, mapping, settings)
        say("computing features")
        as_of = default_as_of(store)
        features_path = home / "features.parquet"
        export_features(store, as_of, features_path)
        row = store.con.execute("""
            SELECT count(DISTINCT customer_id), count(DISTINCT order_id), count(*),
                   sum(net_amount), CAST(min(ordered_at) AS DATE),
                   CAST(max(ordered_at) AS DATE)
            FROM orders""").fetchone()
        categories = store.con.execute("""
            SELECT category, sum(net_amount) AS revenue,
                   sum(net_amount) / sum(sum(net_amount)) OVER () AS share
            FROM orders WHERE category IS NOT NULL GROUP BY category ORDER BY revenue DESC
        """).fetchall()
    if row is None:
        raise NotEnoughData("the demo shop has no orders")
    say("segmenting customers")
    segments_path = home / "segments.parquet"
    run, _, _ = run_segmentation(settings, None, as_of=as_of, out=segments_path)
    say("forecasting monthly sales per category")
    forecast_path = home / "forecast.parquet"
    _, forecast, _ = run_forecast(
        settings, None, out=forecast_path, freq="M", horizon=24, as_of=as_of, by="category"
    )
    say("forecasting weekly and daily sales per category")
    from custintel.training import train_forecasts

    # the dashboard's other timeframes; the monthly forecast above is carried over
    train_forecasts(settings, timeframes=["weekly", "daily"])
    say("scoring customers: spend, churn and lifetime value")
    scores_path = home / "scores.parquet"
    _, scores, _ = run_scoring(settings, None, out=scores_path, horizon_days=30, as_of=as_of)
    return DemoSummary(
        forecast_path=forecast_path,
        forecast=forecast,
        scores_path=scores_path,
        scores=scores,
        segments=run.summary["segments"],
        clusters=run.summary["clustering"]["clusters"],
        segments_path=segments_path,
        customers=row[0],
        orders=row[1],
        lines=row[2],
        revenue=row[3],
        first=row[4],
        last=row[5],
        rejected=sum(t.rejected for t in report.tables),
        features_path=features_path,
        categories=[(c, r, s) for c, r, s in categories],
    )


def run_segmentation(
    settings: Settings,
    mapping: Mapping | None,
    *,
    as_of: date | None,
    out: Path,
    scheme: str | None = None,
    method: str | None = None,
    min_clusters: int | None = None,
    max_clusters: int | None = None,
    tsne_sample: int | None = None,
    progress: Progress | None = None,
    on_sync: SyncHandler | None = None,
    job_id: str | None = None,
) -> tuple[SegmentationRun, Path, int | None]:
    """Segment every customer as of ``as_of`` and write the assignment to ``out`` and its
    summary as JSON beside it. Returns the run, the summary path and the model version.

    On the data directory's store (no files named) the model is versioned in the
    registry, the previous version keeps cluster ids and names stable, and the
    assignment is kept in the history for migration tables; runs on files are one-off.
    """
    import json

    from custintel.publish import publish_segmentation
    from custintel.registry import ArtifactStore
    from custintel.segmentation.service import record_assignments, segment_customers

    check_output_path(out)
    store, options, persistent = open_capability(
        settings, mapping, "segmentation", progress=progress, on_sync=on_sync
    )
    registry = ArtifactStore(settings.home / "models")
    with store:
        cutoff = as_of or default_as_of(store)
        from custintel.features import customer_features

        say = progress or (lambda table, what: None)
        say("", f"computing features as of {cutoff}")
        features = customer_features(store.con, cutoff)
        say("", "scoring and clustering customers")
        previous = registry.latest("segmentation") if persistent else None
        run = segment_customers(
            features,
            as_of=cutoff,
            scheme=scheme or options.get("scheme", "standard"),
            user_schemes=options.get("schemes"),
            method=method or options.get("method", "auto"),
            min_clusters=min_clusters or options.get("min_clusters", 2),
            max_clusters=max_clusters or options.get("max_clusters", 10),
            previous=previous[1] if previous else None,
            tsne_sample_size=tsne_sample,
        )
        version = None
        if persistent:
            say("", "clustering customers on their demographics")
            run.summary["demographic"] = _demographic_summary(store, cutoff)
            ref = registry.save(
                "segmentation",
                run.model,
                metadata={"as_of": cutoff.isoformat(), "customers": len(run.assignments)},
            )
            version = ref.version
            record_assignments(store, run, version)
            started = store.first_order_date()
    if persistent:
        publish_segmentation(
            app_database(settings), ref, run, features, data_from=started, job_id=job_id
        )
    write_table(pa.Table.from_pandas(run.assignments, preserve_index=False), out)
    summary_path = out.with_name(out.stem + ".summary.json")
    summary_path.write_text(
        json.dumps({**run.summary, "model_version": version}, indent=1, default=str),
        encoding="utf-8",
    )
    return run, summary_path, version


def _demographic_inputs(store: Store, cutoff: date) -> tuple[Any, Any]:
    """The customers' attributes and their net sales before ``cutoff`` (a frame and a
    series by customer_id), for demographic clusters."""
    if not store.has_table("customers"):
        raise NotEnoughData(
            "no customers table: demographic segmentation needs the customers' attributes",
            hint="map a customers table with demographic columns (e.g. preset b2b)",
        )
    customers = store.con.execute("SELECT * EXCLUDE (_key, _hash, _synced_at) FROM customers").df()
    sales = store.con.execute(
        "SELECT customer_id, sum(net_amount) AS sales FROM orders "
        "WHERE ordered_at < ? GROUP BY customer_id",
        [cutoff],
    ).df()
    return customers, sales.set_index("customer_id")["sales"]


def _demographic_summary(store: Store, cutoff: date) -> dict[str, Any]:
    """Demographic clusters against sales volume for the dashboard's retailers page, or
    why there are none (no customers table, no attributes, too few customers)."""
    from custintel.errors import CustintelError
    from custintel.segmentation.demographic import demographic_segments

    try:
        customers, sales = _demographic_inputs(store, cutoff)
        return demographic_segments(customers, sales).summary()
    except CustintelError as error:
        return {"missing": error.message}


def run_demographic_segmentation(
    settings: Settings,
    mapping: Mapping | None,
    *,
    as_of: date | None,
    out: Path,
    attributes: list[str] | None = None,
    max_clusters: int = 8,
    progress: Progress | None = None,
    on_sync: SyncHandler | None = None,
) -> DemographicSegments:
    """Cluster the customers (B2B retailers) on their demographic attributes and relate
    the clusters to sales volume; write one row per retailer to ``out``."""
    from custintel.segmentation.demographic import demographic_segments

    check_output_path(out)
    store, _ = open_data(settings, mapping, progress=progress, on_sync=on_sync)
    with store:
        customers, sales = _demographic_inputs(store, as_of or default_as_of(store))
    result = demographic_segments(
        customers, sales, attributes=attributes, max_clusters=max_clusters
    )
    write_table(
        pa.Table.from_pandas(result.assignments.astype({"volume": str}), preserve_index=False), out
    )
    return result


def run_forecast(
    settings: Settings,
    mapping: Mapping | None,
    *,
    out: Path,
    freq: str,
    horizon: int,
    as_of: date | None = None,
    by: str | None = None,
    metric: str = "revenue",
    where: str | None = None,
    models: list[str] | None = None,
    windows: int | None = None,
    reconcile: bool = True,
    progress: Progress | None = None,
    on_sync: SyncHandler | None = None,
    job_id: str | None = None,
) -> tuple[ForecastResult, dict[str, Any], list[Path]]:
    """Forecast sales and write the forecast to ``out``, with the history
    (``<out>.history``), the backtest (``<out>.backtest``) and a summary JSON beside it.

    On the data directory's store (no files named) the run is versioned in the registry
    and the forecast kept in the store's ``forecasts`` table; runs on files are one-off.
    ``[forecasting]`` in the mapping (or the data directory's custintel.toml) gives the
    defaults for ``models`` and ``windows`` and Prophet's settings.
    Returns the result, its summary and the files written.
    """
    import json

    import pandas as pd

    from custintel.forecasting.models import ProphetSettings
    from custintel.forecasting.service import forecast_sales, record_forecast, summary
    from custintel.publish import publish_forecasts
    from custintel.registry import ArtifactStore

    check_output_path(out)
    store, options, persistent = open_capability(
        settings, mapping, "forecasting", progress=progress, on_sync=on_sync
    )
    say = progress or (lambda table, what: None)
    with store:
        cutoff = as_of or default_as_of(store)
        result = forecast_sales(
            store,
            freq=freq,
            horizon=horizon,
            as_of=cutoff,
            by=by,
            metric=metric,
            where=where,
            models=models or options.get("models"),
            windows=windows or int(options.get("windows", 3)),
            reconcile=reconcile,
            prophet=ProphetSettings.from_options(options.get("prophet")),
            progress=lambda message: say("", message),
        )
        version = None
        if persistent:
            info = summary(result, None)
            ref = ArtifactStore(settings.home / "models").save(
                "forecasting", info, metadata={"as_of": cutoff.isoformat(), **result.settings}
            )
            version = ref.version
            record_forecast(store, result, version)
            started = store.first_order_date()
    if persistent:
        publish_forecasts(
            app_database(settings), ref, [result], as_of=cutoff, data_from=started, job_id=job_id
        )
    info = summary(result, version)
    suffix = out.suffix
    written = []
    for frame, path in (
        (result.forecasts, out),
        (result.history, out.with_name(f"{out.stem}.history{suffix}")),
        (result.backtest, out.with_name(f"{out.stem}.backtest{suffix}")),
    ):
        table = pa.Table.from_pandas(pd.DataFrame(frame), preserve_index=False)
        written.append(write_table(table, path))
    summary_path = out.with_name(f"{out.stem}.summary.json")
    summary_path.write_text(json.dumps(info, indent=1, default=str), encoding="utf-8")
    written.append(summary_path)
    return result, info, written


def run_scoring(
    settings: Settings,
    mapping: Mapping | None,
    *,
    out: Path,
    horizon_days: int,
    as_of: date | None = None,
    progress: Progress | None = None,
    on_sync: SyncHandler | None = None,
    job_id: str | None = None,
) -> tuple[Any, dict[str, Any], list[Path]]:
    """Score every customer (expected orders and spend, P(active), churn, CLV) and write
    the scores to ``out`` with a summary JSON beside it: the validation comparison of
    every candidate model and the choice per target.

    On the data directory (no files named) the run is a version of the ``value``
    capability in the registry. Returns the run, its summary and the files written.
    """
    import json

    from custintel.publish import publish_scores
    from custintel.registry import ArtifactStore
    from custintel.segmentation.builtin import get_scheme
    from custintel.value.rows import served_model
    from custintel.value.service import ValueSettings, record_scores, score_customers

    check_output_path(out)
    store, options, persistent = open_capability(
        settings, mapping, "value", progress=progress, on_sync=on_sync
    )
    chosen = ValueSettings.from_options(options)
    segmentation = capability_options(settings, mapping, "segmentation")
    scheme = get_scheme(segmentation.get("scheme", "standard"), segmentation.get("schemes"))
    say = progress or (lambda table, what: None)
    with store:
        cutoff = as_of or default_as_of(store)
        run = score_customers(
            store,
            cutoff,
            horizon_days,
            chosen,
            rfm_scheme=scheme,
            progress=lambda message: say("", message),
        )
        info: dict[str, Any] = {
            "as_of": cutoff.isoformat(),
            "horizon_days": horizon_days,
            "customers": len(run.scores),
            "chosen": run.chosen,
            "cutoffs": run.cutoffs,
            "validation": run.comparison,
            "churn_importance": run.importance,
            "btyd_family": run.btyd_family,
            "btyd_family_rmse": run.btyd_family_errors,
            "churn_crossval": run.crossval,
            "churn_reliability": run.reliability,
            "eligibility": [statement.to_dict() for statement in run.eligibility],
            "settings": dataclasses.asdict(chosen),
            "model_version": None,
        }
        info = json.loads(json.dumps(info, default=str).replace("NaN", "null"))
        if persistent:
            # The artifact also holds the fitted models, so that the API can score
            # customers sent as feature rows (value/rows.py); the summary stays small.
            served = (
                served_model(
                    run.applied,
                    cutoff,
                    horizon_days,
                    chosen,
                    scheme=segmentation.get("scheme", "standard"),
                    schemes=segmentation.get("schemes"),
                )
                if run.applied is not None
                else None
            )
            ref = ArtifactStore(settings.home / "models").save(
                "value",
                {**info, "served": served},
                metadata={"as_of": cutoff.isoformat(), "horizon_days": horizon_days},
            )
            info["model_version"] = ref.version
            record_scores(store, run, ref.version)
            started = store.first_order_date()
    if persistent:
        publish_scores(
            app_database(settings),
            ref,
            run.scores,
            info,
            as_of=cutoff,
            data_from=started,
            job_id=job_id,
        )
    written = [write_table(pa.Table.from_pandas(run.scores, preserve_index=False), out)]
    summary_path = out.with_name(f"{out.stem}.summary.json")
    summary_path.write_text(json.dumps(info, indent=1), encoding="utf-8")
    written.append(summary_path)
    return run, info, written
