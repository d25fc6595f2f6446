"""Stable cluster identities across retrains.

A retrained model's clusters come out in arbitrary order. To keep cluster ids (and the
names users have learned) stable, the new centroids are matched one-to-one to the
previous version's by the Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`)
on Euclidean distance in the *new* model's scaled space: the previous centroids are first
unscaled with the previous model's parameters, then scaled with the new ones, so a shift of
the whole population (new scaling) is not mistaken for a change of clusters. Only the
features both versions use take part.

A pair farther apart than ``max_distance`` (in new-data standard deviations, default 1.0)
is not a match. New clusters without a match get fresh ids (never reused: ids of retired
clusters stay retired); previous clusters without one are reported as retired.
Matched clusters keep their id and their name; :func:`change_report` flags a kept name
that the naming rules would now choose differently (``name_stale``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from custintel.errors import ConfigError
from custintel.segmentation.preprocess import FeaturePreprocessor

__all__ = [
    "ClusterMatch",
    "assign_identities",
    "centroids_in_common_space",
    "change_report",
    "match_clusters",
]


@dataclass(frozen=True)
class ClusterMatch:
    """The result of matching new clusters (by row index) to previous ones (by row index).

    ``mapping``: new index -> previous index. ``distances``: new index -> centroid distance
    of its match. ``unmatched_new``: new indices without a match. ``retired``: previous
    indices without a match.
    """

    mapping: dict[int, int]
    distances: dict[int, float] = field(default_factory=dict)
    unmatched_new: list[int] = field(default_factory=list)
    retired: list[int] = field(default_factory=list)


def match_clusters(
    previous_centroids: np.ndarray,
    new_centroids: np.ndarray,
    *,
    max_distance: float | None = 1.0,
) -> ClusterMatch:
    """Match new centroids to previous ones, one to one, minimising total distance.

    Both arrays are (n_clusters, n_features) in the same space. Pairs farther apart than
    ``max_distance`` (None: no limit) are dropped from the matching.
    """
    prev = np.atleast_2d(np.asarray(previous_centroids, dtype=np.float64))
    new = np.atleast_2d(np.asarray(new_centroids, dtype=np.float64))
    if prev.shape[1] != new.shape[1]:
        raise ConfigError(
            f"previous centroids have {prev.shape[1]} features but new ones have {new.shape[1]}"
        )
    if max_distance is not None and max_distance < 0:
        raise ConfigError(f"max_distance={max_distance} should be >= 0")
    if prev.shape[0] == 0 or new.shape[0] == 0:
        return ClusterMatch({}, {}, list(range(new.shape[0])), list(range(prev.shape[0])))
    cost = np.sqrt(((new[:, None, :] - prev[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    mapping, distances = {}, {}
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        if max_distance is None or cost[r, c] <= max_distance:
            mapping[r] = c
            distances[r] = float(cost[r, c])
    unmatched = [i for i in range(new.shape[0]) if i not in mapping]
    matched_prev = set(mapping.values())
    retired = [j for j in range(prev.shape[0]) if j not in matched_prev]
    return ClusterMatch(mapping, distances, unmatched, retired)


def centroids_in_common_space(
    previous: FeaturePreprocessor,
    previous_centroids: np.ndarray,
    new: FeaturePreprocessor,
    new_centroids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Both versions' centroids in the new scaled space, on the features both use.

    Returns (previous, new, feature names); with no common feature the arrays have zero
    columns and nothing will match.
    """
    prev_t = previous.unscale(previous_centroids)  # transformed (log) feature values
    new_names = new.feature_names_
    prev_names = previous.feature_names_
    common = [n for n in new_names if n in prev_names]
    full = np.zeros((prev_t.shape[0], len(new_names)))
    for j, name in enumerate(new_names):
        if name in prev_names:
            full[:, j] = prev_t[:, prev_names.index(name)]
    prev_scaled = new.scale(full)
    idx = [new_names.index(n) for n in common]
    return prev_scaled[:, idx], np.asarray(new_centroids)[:, idx], common


def assign_identities(
    match: ClusterMatch,
    previous_ids: Sequence[int],
    previous_names: Sequence[str],
    n_new: int,
    next_id: int,
) -> tuple[list[int], dict[int, str], int]:
    """Ids for the new clusters (by index), the names they keep, and the next free id.

    Matched clusters take the previous id and name; the others get ids from ``next_id``
    upwards in index order (the caller orders new clusters by size, largest first).
    """
    ids: list[int] = []
    kept: dict[int, str] = {}
    for i in range(n_new):
        if i in match.mapping:
            j = match.mapping[i]
            ids.append(int(previous_ids[j]))
            kept[int(previous_ids[j])] = previous_names[j]
        else:
            ids.append(next_id)
            next_id += 1
    return ids, kept, next_id


def change_report(
    *,
    previous_ids: Sequence[int],
    previous_names: Sequence[str],
    previous_shares: Sequence[float],
    ids: Sequence[int],
    names: Sequence[str],
    generated_names: Sequence[str],
    shares: Sequence[float],
    match: ClusterMatch,
) -> pd.DataFrame:
    """One row per cluster id of either version: what happened to it.

    Columns: cluster, status ("kept", "new" or "retired"), name, previous_name,
    name_stale (kept name that the rules would now give differently), previous_share,
    share, share_change (shares of customers, 0..1), centroid_shift (distance between
    the matched centroids, in new-data standard deviations).
    """
    rows = []
    for i, cid in enumerate(ids):
        if i in match.mapping:
            j = match.mapping[i]
            rows.append(
                {
                    "cluster": int(cid),
                    "status": "kept",
                    "name": names[i],
                    "previous_name": previous_names[j],
                    "name_stale": generated_names[i] != names[i],
                    "previous_share": float(previous_shares[j]),
                    "share": float(shares[i]),
                    "centroid_shift": match.distances[i],
                }
            )
        else:
            rows.append(
                {
                    "cluster": int(cid),
                    "status": "new",
                    "name": names[i],
                    "previous_name": None,
                    "name_stale": False,
                    "previous_share": 0.0,
                    "share": float(shares[i]),
                    "centroid_shift": np.nan,
                }
            )
    for j in match.retired:
        rows.append(
            {
                "cluster": int(previous_ids[j]),
                "status": "retired",
                "name": None,
                "previous_name": previous_names[j],
                "name_stale": False,
                "previous_share": float(previous_shares[j]),
                "share": 0.0,
                "centroid_shift": np.nan,
            }
        )
    report = pd.DataFrame(rows)
    report["share_change"] = report["share"] - report["previous_share"]
    return report.sort_values("cluster", kind="stable").reset_index(drop=True)
