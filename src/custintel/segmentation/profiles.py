"""Cluster profiles and generated names.

A profile says what a cluster *is* in the shop's own units: its size, its share of
customers and of revenue, the mean and median of every numeric feature, and the
features that set it apart most from the whole population, measured as the standardised
difference ``(cluster mean - population mean) / population std`` (a z-like score in
population standard deviations; + means higher than average).

Names come from rules on the cluster's *median* recency, frequency and monetary value,
placed within the population's distribution (mid-rank percentile: < 1/3 low, > 2/3
high), and on tenure for new customers:

* median monetary <= 0                     -> "Net refunders"
* tenure in the lowest third               -> "New big spenders" / "New mid-value" /
                                              "New low spenders"
* recency in the highest third (long ago)  -> "Lapsed big spenders", "Lapsed frequent
                                              mid-value"...
* otherwise value x frequency              -> "High-value frequent", "Big spenders",
                                              "Occasional mid-value", "Regular low
                                              spenders"...

Names are unique within a model: clusters whose rule names collide get a qualifier from
the feature that separates them most ("Occasional low spenders, more recent"), and a
number if that still collides. Without recency/frequency/monetary columns the name is
"Cluster <id>".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from custintel.errors import ConfigError, InputError

__all__ = ["ClusterProfiles", "cluster_names", "profile_clusters"]

_NOT_FEATURES = frozenset({"customer_id", "as_of", "cluster", "cluster_name"})
_LOW, _HIGH = 1 / 3, 2 / 3

# (monetary level, frequency level) -> name of an active cluster.
_ACTIVE = {
    ("high", "high"): "High-value frequent",
    ("high", "mid"): "High-value regular",
    ("high", "low"): "Big spenders",
    ("mid", "high"): "Frequent mid-value",
    ("mid", "mid"): "Regular mid-value",
    ("mid", "low"): "Occasional mid-value",
    ("low", "high"): "Frequent low spenders",
    ("low", "mid"): "Regular low spenders",
    ("low", "low"): "Occasional low spenders",
}
_VALUE = {"high": "big spenders", "mid": "mid-value", "low": "low spenders"}
# Phrases for a qualifier: feature -> (when higher, when lower).
_PHRASES = {
    "recency_days": ("less recent", "more recent"),
    "frequency": ("more orders", "fewer orders"),
    "monetary": ("higher spend", "lower spend"),
    "tenure_days": ("longer tenure", "shorter tenure"),
    "avg_basket_lines": ("bigger baskets", "smaller baskets"),
}


@dataclass(frozen=True)
class ClusterProfiles:
    """Profiles of every cluster; each frame is indexed by cluster id.

    ``summary``: name, size, share_customers, share_revenue, top_features (readable).
    ``means`` / ``medians``: every numeric feature. ``differences``: standardised
    difference from the population mean per feature. ``distinguishing``: long format
    (cluster, rank, feature, std_diff, direction) of the top features per cluster.
    ``population_mean`` / ``population_median``: the reference values.
    """

    summary: pd.DataFrame
    means: pd.DataFrame
    medians: pd.DataFrame
    differences: pd.DataFrame
    distinguishing: pd.DataFrame
    population_mean: pd.Series
    population_median: pd.Series

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-safe dict per cluster (NaN as None), e.g. for ``GET /v1/segments``."""
        records = []
        for cid in self.summary.index.tolist():
            row = self.summary.loc[cid]
            top = self.distinguishing[self.distinguishing["cluster"] == cid]
            records.append(
                {
                    "cluster": int(cid),
                    "name": str(row["name"]),
                    "size": int(row["size"]),
                    "share_customers": _json_float(row["share_customers"]),
                    "share_revenue": _json_float(row["share_revenue"]),
                    "mean": {k: _json_float(v) for k, v in self.means.loc[cid].items()},
                    "median": {k: _json_float(v) for k, v in self.medians.loc[cid].items()},
                    "top_features": [
                        {
                            "feature": str(t.feature),
                            "std_diff": _json_float(t.std_diff),
                            "direction": str(t.direction),
                        }
                        for t in top.itertuples()
                    ],
                }
            )
        return records


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _numeric_frame(features: pd.DataFrame | pa.Table) -> pd.DataFrame:
    frame = features.to_pandas() if isinstance(features, pa.Table) else features
    cols = [
        c
        for c in frame.columns
        if c not in _NOT_FEATURES
        and (pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]))
    ]
    out = frame[cols].astype("float64").reset_index(drop=True)
    return out.replace([np.inf, -np.inf], np.nan)


def profile_clusters(
    features: pd.DataFrame | pa.Table,
    labels: Sequence[int] | np.ndarray,
    *,
    revenue_col: str = "monetary",
    names: Mapping[int, str] | None = None,
    top_n: int = 3,
) -> ClusterProfiles:
    """Profile each cluster of ``labels`` (one label per row of ``features``).

    Share of revenue is the cluster's sum of ``revenue_col`` (net spend, currency units)
    over the population's; it is NaN when the population's total is <= 0 (all refunds),
    and can be negative for a cluster of net refunders. Means, medians and differences
    ignore NaN and infinite values. ``names`` overrides the generated names (a model
    keeps its names across retrains); clusters missing from it get generated ones.
    """
    frame = _numeric_frame(features)
    labels = np.asarray(labels)
    if labels.shape[0] != len(frame):
        raise InputError(f"len(labels)={labels.shape[0]} should equal n_rows={len(frame)}")
    if len(frame) == 0:
        raise InputError("cannot profile an empty feature table")
    if top_n < 1:
        raise ConfigError(f"top_n={top_n} should be >= 1")
    grouped = frame.groupby(labels, sort=True)
    means, medians = grouped.mean(), grouped.median()
    sizes = grouped.size()
    pop_mean, pop_median, pop_std = frame.mean(), frame.median(), frame.std(ddof=0)
    differences = (means - pop_mean) / pop_std.where(pop_std > 0)
    differences = differences.fillna(0.0)

    rows = []
    for cid, diff in differences.iterrows():
        top = diff.abs().sort_values(ascending=False, kind="stable").head(top_n)
        for rank, feature in enumerate(top.index, start=1):
            value = float(diff[feature])
            direction = "higher" if value > 0 else "lower" if value < 0 else "same"
            rows.append((cid, rank, feature, value, direction))
    distinguishing = pd.DataFrame(
        rows, columns=["cluster", "rank", "feature", "std_diff", "direction"]
    )

    if revenue_col in frame.columns:
        revenue = grouped[revenue_col].sum()
        total = float(frame[revenue_col].sum())
        share_revenue = revenue / total if total > 0 else revenue * np.nan
    else:
        share_revenue = pd.Series(np.nan, index=sizes.index)
    generated = _generate_names(
        frame, labels, medians, differences, reserved=set((names or {}).values())
    )
    final = {int(c): (names or {}).get(int(c), generated[int(c)]) for c in sizes.index}
    top_text = {
        cid: ", ".join(
            f"{t.feature} {t.std_diff:+.2f}σ"
            for t in distinguishing[distinguishing.cluster == cid].itertuples()
        )
        for cid in sizes.index
    }
    summary = pd.DataFrame(
        {
            "name": pd.Series(final),
            "size": sizes.astype("int64"),
            "share_customers": sizes / len(frame),
            "share_revenue": share_revenue,
            "top_features": pd.Series(top_text),
        }
    )
    summary.index.name = "cluster"
    return ClusterProfiles(
        summary, means, medians, differences, distinguishing, pop_mean, pop_median
    )


def cluster_names(
    features: pd.DataFrame | pa.Table,
    labels: Sequence[int] | np.ndarray,
    *,
    reserved: Collection[str] = (),
) -> dict[int, str]:
    """Generated, unique names for every cluster in ``labels`` (rules in the module doc).

    Names in ``reserved`` (kept from a previous model version) are not reused.
    """
    frame = _numeric_frame(features)
    labels = np.asarray(labels)
    grouped = frame.groupby(labels, sort=True)
    means, medians = grouped.mean(), grouped.median()
    pop_std = frame.std(ddof=0)
    differences = ((means - frame.mean()) / pop_std.where(pop_std > 0)).fillna(0.0)
    return _generate_names(frame, labels, medians, differences, reserved=reserved)


def _percentile(population: pd.Series, value: float) -> float:
    """Mid-rank percentile of ``value`` in ``population``: ties count half."""
    data = np.sort(population.dropna().to_numpy())
    if data.size == 0 or not np.isfinite(value):
        return 0.5
    below = np.searchsorted(data, value, side="left")
    upto = np.searchsorted(data, value, side="right")
    return float((below + upto) / 2 / data.size)


def _level(population: pd.Series, value: float) -> str:
    pct = _percentile(population, value)
    return "low" if pct < _LOW else "high" if pct > _HIGH else "mid"


def _rule_name(frame: pd.DataFrame, median: pd.Series, cid: int) -> str:
    if not {"recency_days", "frequency", "monetary"} <= set(frame.columns):
        return f"Cluster {cid}"
    if median["monetary"] <= 0:
        return "Net refunders"
    value = _level(frame["monetary"], median["monetary"])
    freq = _level(frame["frequency"], median["frequency"])
    if "tenure_days" in frame.columns and _level(frame["tenure_days"], median["tenure_days"]) == (
        "low"
    ):
        return f"New {_VALUE[value]}"
    if _level(frame["recency_days"], median["recency_days"]) == "high":
        return f"Lapsed {'frequent ' if freq == 'high' else ''}{_VALUE[value]}"
    return _ACTIVE[(value, freq)]


def _qualifier(feature: str, diff: float) -> str:
    higher, lower = _PHRASES.get(feature, (f"higher {feature}", f"lower {feature}"))
    for prefix in ("share__", "spend__"):
        if feature.startswith(prefix):
            label = feature.removeprefix(prefix).replace("_", " ")
            higher, lower = f"more {label}", f"less {label}"
    return higher if diff > 0 else lower


def _generate_names(
    frame: pd.DataFrame,
    labels: np.ndarray,
    medians: pd.DataFrame,
    differences: pd.DataFrame,
    *,
    reserved: Collection[str],
) -> dict[int, str]:
    base = {int(c): _rule_name(frame, medians.loc[c], int(c)) for c in medians.index}
    taken = set(reserved)
    groups: dict[str, list[int]] = defaultdict(list)
    for cid, name in base.items():
        groups[name].append(cid)
    names: dict[int, str] = {}
    for name, members in groups.items():
        if len(members) == 1 and name not in taken:
            names[members[0]] = name
            continue
        # Qualify by the feature that separates each member most from the group's average.
        group_diff = differences.loc[members]
        spread = group_diff - group_diff.mean()
        for cid in members:
            row = spread.loc[cid]
            values = row.to_numpy(dtype=np.float64)
            if len(members) > 1 and np.abs(values).max() > 0:
                j = int(np.abs(values).argmax())
                names[cid] = f"{name}, {_qualifier(str(row.index[j]), float(values[j]))}"
            else:
                names[cid] = name
    # Last resort: number whatever still collides (within the model or with reserved names).
    seen = set(taken)
    sizes = pd.Series(labels).value_counts()
    for cid in sorted(names, key=lambda c: (-int(sizes.get(c, 0)), c)):
        name, n = names[cid], 1
        while name in seen:
            n += 1
            name = f"{names[cid]} ({n})"
        names[cid] = name
        seen.add(name)
    return names
