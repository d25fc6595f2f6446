"""Segmentation as one call: RFM scores and segments, clusters, projection, summary.

:func:`segment_customers` turns a customer-feature table into the assignment that
``custintel segment`` writes (DESIGN.md's contract), a JSON-safe summary, and the model
payload that the registry stores. :func:`record_assignments` and :func:`migration` keep
and compare the assignment history in the store; :func:`predict_segment` scores a
feature vector of a customer the store has not seen, with the saved model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custintel.data.store import Store
from custintel.errors import ConfigError, NotEnoughData
from custintel.segmentation.builtin import get_scheme
from custintel.segmentation.clustering import CustomerClusterer
from custintel.segmentation.projection import project
from custintel.segmentation.rfm import (
    SCORE_COLUMNS,
    rfm_scores,
    rfm_thresholds,
    score_by_thresholds,
)
from custintel.segmentation.schemes import Scheme, assign_segments

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "SegmentationRun",
    "migration",
    "predict_segment",
    "record_assignments",
    "segment_customers",
    "segment_of",
]

ASSIGNMENT_COLUMNS = (
    "customer_id",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "cluster",
    "cluster_name",
    "pca_x",
    "pca_y",
    "tsne_x",
    "tsne_y",
)
NOT_CLUSTERED = "(not clustered)"


@dataclass
class SegmentationRun:
    """One segmentation: the per-customer table, its summary and the model payload."""

    as_of: date
    assignments: pd.DataFrame
    summary: dict[str, Any]
    model: dict[str, Any]


def segment_customers(
    features: pa.Table | pd.DataFrame,
    *,
    as_of: date,
    scheme: Scheme | str = "standard",
    user_schemes: dict[str, Any] | None = None,
    method: str = "auto",
    min_clusters: int = 2,
    max_clusters: int = 10,
    previous: dict[str, Any] | None = None,
    tsne_sample_size: int | None = None,
    random_state: int = 0,
) -> SegmentationRun:
    """Score, segment and cluster every customer of ``features`` (one ``as_of``).

    ``previous`` is the payload of the last model (from the registry): its clusters are
    matched so that ids and names stay stable.
    """
    frame = features.to_pandas() if isinstance(features, pa.Table) else features.copy()
    if "as_of" in frame.columns and frame["as_of"].nunique() > 1:
        raise ConfigError("segment one as_of at a time")
    if len(frame) == 0:
        raise NotEnoughData(
            f"no customer has an order before {as_of}", hint="choose a later --as-of"
        )
    chosen = scheme if isinstance(scheme, Scheme) else get_scheme(scheme, user_schemes)
    scores = rfm_scores(frame)
    segments = assign_segments(scores, chosen)
    fitted = CustomerClusterer(
        method=method,
        min_clusters=min_clusters,
        max_clusters=max_clusters,
        random_state=random_state,
    )
    clusterer: CustomerClusterer | None = fitted
    not_clustered: str | None = None
    try:
        fitted.fit(frame, previous=(previous or {}).get("clusterer"))
        projected = project(
            fitted,
            frame,
            tsne_sample_size=tsne_sample_size,
            random_state=random_state,
        )
    except NotEnoughData as exc:  # RFM segments still stand; the summary says why
        clusterer, not_clustered = None, exc.message
        projected = pd.DataFrame(
            {"cluster": -1, "cluster_name": NOT_CLUSTERED}
            | {c: np.nan for c in ASSIGNMENT_COLUMNS[-4:]},
            index=range(len(frame)),
        )
    assignments = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            **{c: scores[c].to_numpy() for c in SCORE_COLUMNS},
            "rfm_segment": segments.astype(str).to_numpy(),
            **{c: projected[c].to_numpy() for c in ASSIGNMENT_COLUMNS[5:]},
        }
    )
    model = {
        "as_of": as_of.isoformat(),
        "scheme": chosen.name,
        "rfm_thresholds": rfm_thresholds(frame, scores),
        "clusterer": clusterer.to_dict() if clusterer is not None else None,
    }
    summary = _summary(frame, assignments, chosen, clusterer, as_of, not_clustered)
    return SegmentationRun(as_of, assignments, summary, model)


def _summary(
    frame: pd.DataFrame,
    assignments: pd.DataFrame,
    scheme: Scheme,
    clusterer: CustomerClusterer | None,
    as_of: date,
    not_clustered: str | None,
) -> dict[str, Any]:
    revenue = frame["monetary"].clip(lower=0).to_numpy(dtype=float)
    total = float(revenue.sum()) or 1.0
    by_segment = (
        pd.DataFrame({"segment": assignments["rfm_segment"], "revenue": revenue})
        .groupby("segment")["revenue"]
        .agg(["size", "sum"])
    )
    described = {s.name: s for s in scheme.segments}
    segments = []
    for name in scheme.segment_names:
        size = int(by_segment["size"].get(name, 0))
        segments.append(
            {
                "segment": name,
                "customers": size,
                "share_customers": round(size / len(frame), 4),
                "share_revenue": round(float(by_segment["sum"].get(name, 0.0)) / total, 4),
                "description": described[name].description,
                "action": described[name].action,
            }
        )
    return {
        "as_of": as_of.isoformat(),
        "customers": len(frame),
        "scheme": scheme.name,
        "segments": segments,
        "clustering": {
            "method": None,
            "k": 0,
            "why": f"not clustered: {not_clustered}",
            "comparison": [],
            "changes": None,
            "clusters": [],
        }
        if clusterer is None
        else {
            "method": clusterer.method_,
            "k": clusterer.n_clusters_,
            "why": clusterer.selection_reason_,
            "comparison": clusterer.to_dict()["comparison"],
            "changes": clusterer.to_dict()["changes"],
            "clusters": clusterer.segments_,
        },
    }


def record_assignments(store: Store, run: SegmentationRun, model_version: int) -> None:
    """Keep ``run`` in the store's assignment history (replacing an earlier run with the
    same as_of), so that migration between dates is a query."""
    con = store.con
    con.execute("""CREATE TABLE IF NOT EXISTS segment_assignments (
        as_of DATE, model_version INTEGER, customer_id VARCHAR, r_score TINYINT,
        f_score TINYINT, m_score TINYINT, rfm_segment VARCHAR, cluster INTEGER,
        cluster_name VARCHAR, pca_x DOUBLE, pca_y DOUBLE, tsne_x DOUBLE, tsne_y DOUBLE)""")
    frame = pa.Table.from_pandas(run.assignments[list(ASSIGNMENT_COLUMNS)], preserve_index=False)
    with store.transaction():
        con.execute("DELETE FROM segment_assignments WHERE as_of = ?", [run.as_of])
        con.register("_run", frame)
        con.execute(
            "INSERT INTO segment_assignments SELECT ?, ?, * FROM _run", [run.as_of, model_version]
        )
        con.unregister("_run")


def migration(store: Store, start: date, end: date, by: str = "rfm_segment") -> pd.DataFrame:
    """Customers moving between segments from ``start`` to ``end`` (two recorded runs).

    One row per (from, to) pair with the number of customers; customers new at ``end``
    come from "(new)", those gone come to "(gone)".
    """
    if by not in ("rfm_segment", "cluster_name"):
        raise ConfigError(f"migration by {by!r}: use rfm_segment or cluster_name")
    if not store.has_table("segment_assignments"):
        raise NotEnoughData(
            "no segment assignments recorded yet", hint="run `custintel segment` at two dates first"
        )
    recorded = {
        r[0] for r in store.con.execute("SELECT DISTINCT as_of FROM segment_assignments").fetchall()
    }
    for day in (start, end):
        if day not in recorded:
            raise NotEnoughData(
                f"no segment assignment recorded as of {day}; recorded: "
                + (", ".join(sorted(str(d) for d in recorded)) or "none"),
                hint=f"run `custintel segment --as-of {day}` first",
            )
    return store.con.execute(
        f"""
        SELECT coalesce(a.{by}, '(new)') AS from_segment,
               coalesce(b.{by}, '(gone)') AS to_segment, count(*) AS customers
        FROM (SELECT * FROM segment_assignments WHERE as_of = ?) a
        FULL JOIN (SELECT * FROM segment_assignments WHERE as_of = ?) b
          ON a.customer_id = b.customer_id
        GROUP BY ALL ORDER BY customers DESC, from_segment, to_segment
    """,
        [start, end],
    ).df()


def predict_segment(
    model: dict[str, Any], features: pd.DataFrame, user_schemes: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Segment and cluster of customers given as feature rows (not in the store), scored
    against the population the model was fitted on."""
    scores = score_by_thresholds(features, model["rfm_thresholds"])
    scheme = get_scheme(model["scheme"], user_schemes)
    frame = features.copy()
    if "customer_id" not in frame.columns:
        frame["customer_id"] = [f"row-{i}" for i in range(len(frame))]
    result = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).to_numpy(),
            **{c: scores[c].to_numpy() for c in SCORE_COLUMNS},
        }
    )
    result["rfm_segment"] = assign_segments(result, scheme).astype(str).to_numpy()
    if model["clusterer"] is None:
        result["cluster"], result["cluster_name"] = -1, NOT_CLUSTERED
        return result
    clusters = CustomerClusterer.from_dict(model["clusterer"]).assign(frame)
    result["cluster"] = clusters["cluster"].to_numpy()
    result["cluster_name"] = clusters["cluster_name"].to_numpy()
    return result


def segment_of(store: Store, customer_id: str, as_of: date | None = None) -> dict[str, Any]:
    """The recorded segment of one customer: at ``as_of``, or in the latest run."""
    if not store.has_table("segment_assignments"):
        raise NotEnoughData(
            "no segment assignments recorded yet", hint="run `custintel segment` first"
        )
    day = "?" if as_of else "(SELECT max(as_of) FROM segment_assignments)"
    rows = store.con.execute(
        f"SELECT * FROM segment_assignments WHERE as_of = {day} AND customer_id = ?",
        [as_of, customer_id] if as_of else [customer_id],
    ).df()
    if rows.empty:
        raise NotEnoughData(
            f"customer {customer_id!r} has no recorded segment"
            + (f" as of {as_of}" if as_of else ""),
            hint="check the id; customers without an order before the run's as_of are "
            "not segmented",
        )
    record = {str(k): v for k, v in rows.iloc[0].to_dict().items()}
    return record
