"""Demographic segmentation for B2B retailers: who they are, and how much they buy.

Retailers (the B2B preset's customers) are clustered on their demographic attributes
only — mixed numeric and categorical columns, one-hot encoded and standard-scaled by
scikit-learn's ColumnTransformer — with k-means and k chosen by silhouette (on a sample
above a few thousand rows). Each retailer also gets a sales-volume category from its
total net sales: high / medium / low by terciles, or by thresholds from the config. The
cross-table of cluster × volume then says which demographic profiles sell most.

Sales never enter the clustering: the point is to see whether demographics *predict*
volume, which would be circular if volume shaped the clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from custintel.errors import ConfigError, NotEnoughData

__all__ = ["VOLUME_LEVELS", "DemographicSegments", "demographic_segments"]

VOLUME_LEVELS = ("low", "medium", "high")
_NOT_ATTRIBUTES = {"customer_id", "signup_at", "_key", "_hash", "_synced_at"}
_SILHOUETTE_SAMPLE = 5_000


@dataclass
class DemographicSegments:
    """The result: one row per retailer, the cross-table and a profile per cluster."""

    assignments: pd.DataFrame  # customer_id, demo_cluster, demo_cluster_name, sales, volume
    crosstab: pd.DataFrame  # demo_cluster_name x volume: retailer counts
    profiles: pd.DataFrame  # per cluster: size, sales, share high, typical attributes
    k: int
    scores: pd.DataFrame  # k, silhouette
    attributes: list[str]

    def summary(self) -> dict[str, Any]:
        """A JSON-safe summary for reports and the API."""
        return {
            "k": self.k,
            "attributes": self.attributes,
            "scores": self.scores.to_dict(orient="records"),
            "crosstab": {str(k): v for k, v in self.crosstab.to_dict(orient="index").items()},
            "profiles": self.profiles.reset_index().to_dict(orient="records"),
        }


def _encoder(frame: pd.DataFrame, attributes: list[str]) -> ColumnTransformer:
    numeric = [c for c in attributes if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in attributes if c not in numeric]
    parts: list[tuple[str, Pipeline, list[str]]] = []
    if numeric:
        parts.append(
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric)
        )
    if categorical:
        parts.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts)


def volume_categories(sales: pd.Series, thresholds: tuple[float, float] | None = None) -> pd.Series:
    """low / medium / high by terciles of ``sales`` (ties share a level), or by
    ``thresholds`` (low < t0 <= medium < t1 <= high)."""
    if thresholds is not None:
        low, high = thresholds
        if not low < high:
            raise ConfigError(f"volume thresholds must increase, got {thresholds}")
        codes = np.searchsorted([low, high], sales.to_numpy(), side="right")
    else:
        ranks = sales.rank(method="min", pct=False).to_numpy() - 1
        codes = np.minimum(2, (3 * ranks // max(len(sales), 1)).astype(int))
    return pd.Series(
        pd.Categorical.from_codes(codes, pd.Index(VOLUME_LEVELS), ordered=True),
        index=sales.index,
        name="volume",
    )


def demographic_segments(
    customers: pd.DataFrame,
    sales: pd.Series,
    *,
    attributes: list[str] | None = None,
    min_clusters: int = 2,
    max_clusters: int = 8,
    volume_thresholds: tuple[float, float] | None = None,
    random_state: int = 0,
) -> DemographicSegments:
    """Cluster ``customers`` on demographic ``attributes`` and relate clusters to volume.

    ``customers`` has customer_id and attribute columns; ``sales`` is total net sales
    indexed by customer_id (customers without sales count 0).
    """
    attributes = attributes or [c for c in customers.columns if c not in _NOT_ATTRIBUTES]
    missing = [a for a in attributes if a not in customers.columns]
    if missing:
        raise ConfigError(
            f"unknown demographic attributes {missing}; the customers have "
            f"{[c for c in customers.columns if c not in _NOT_ATTRIBUTES]}"
        )
    if not attributes:
        raise NotEnoughData(
            "the customers have no demographic attributes",
            hint="map demographic columns on the customers table (e.g. the b2b preset's retailers)",
        )
    frame = customers[["customer_id", *attributes]].drop_duplicates("customer_id")
    n = len(frame)
    if n < max(min_clusters, 2) + 1:
        raise NotEnoughData(
            f"n_customers={n} should be > min_clusters={min_clusters} for demographic clustering"
        )
    matrix = _encoder(frame, attributes).fit_transform(frame[attributes])
    distinct = len(np.unique(np.round(matrix, 9), axis=0))
    if distinct < min_clusters:
        raise NotEnoughData(
            f"only {distinct} distinct demographic profiles; need at least "
            f"min_clusters={min_clusters}"
        )
    rng = np.random.default_rng(random_state)
    sample = (
        rng.choice(n, _SILHOUETTE_SAMPLE, replace=False) if n > _SILHOUETTE_SAMPLE else np.arange(n)
    )
    best: tuple[float, int, np.ndarray] | None = None
    rows = []
    for k in range(min_clusters, min(max_clusters, distinct - 1 if distinct > 2 else 2) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit_predict(matrix)
        if len(np.unique(labels[sample])) < 2:
            continue
        score = float(silhouette_score(matrix[sample], labels[sample]))
        rows.append({"k": k, "silhouette": round(score, 4)})
        if best is None or score > best[0] + 0.01:  # a bigger k must earn its keep
            best = (score, k, labels)
    if best is None:
        raise NotEnoughData("the demographic attributes do not separate into clusters")
    _, k, labels = best
    volume_sales = sales.reindex(frame["customer_id"]).fillna(0.0).astype(float)
    volume_sales.index = frame.index
    assignments = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "demo_cluster": labels,
            "sales": volume_sales.to_numpy(),
            "volume": pd.Categorical(
                volume_categories(volume_sales, volume_thresholds),
                categories=VOLUME_LEVELS,
                ordered=True,
            ),
        }
    )
    names = _cluster_names(frame.assign(demo_cluster=labels), attributes)
    assignments["demo_cluster_name"] = assignments["demo_cluster"].map(names)
    crosstab = pd.crosstab(assignments["demo_cluster_name"], assignments["volume"])
    grouped = assignments.groupby("demo_cluster_name", observed=True)
    profiles = pd.DataFrame(
        {
            "retailers": grouped.size(),
            "total_sales": grouped["sales"].sum(),
            "mean_sales": grouped["sales"].mean(),
            "share_high_volume": grouped["volume"].apply(lambda v: float((v == "high").mean())),
        }
    ).sort_values("mean_sales", ascending=False)
    return DemographicSegments(assignments, crosstab, profiles, k, pd.DataFrame(rows), attributes)


def _cluster_names(frame: pd.DataFrame, attributes: list[str]) -> dict[int, str]:
    """Name each cluster by the attribute values most over-represented in it."""
    names: dict[int, str] = {}
    for cluster, members in frame.groupby("demo_cluster"):
        parts: list[tuple[float, str]] = []
        for column in attributes:
            if pd.api.types.is_numeric_dtype(frame[column]):
                spread = frame[column].std() or 1.0
                diff = (members[column].mean() - frame[column].mean()) / spread
                parts.append((abs(diff), f"{'high' if diff > 0 else 'low'} {column}"))
            else:
                share = members[column].value_counts(normalize=True)
                if share.empty:
                    continue
                overall = frame[column].value_counts(normalize=True)
                lift = share / overall.reindex(share.index)
                best = int(np.argmax(lift.to_numpy()))
                weight = float(share.iloc[best] * np.log(lift.iloc[best]))
                parts.append((weight, str(share.index[best])))
        parts.sort(reverse=True)
        label = ", ".join(p for _, p in parts[:2]) or f"cluster {cluster}"
        names[int(str(cluster))] = label if label not in names.values() else f"{label} ({cluster})"
    return names
