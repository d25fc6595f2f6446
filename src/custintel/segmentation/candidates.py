"""Candidate clusterings and their scores, for :class:`~.clustering.CustomerClusterer`.

Every method ends in the same shape, a set of centroids in the scaled feature space:
k-means directly; Ward agglomerative and HDBSCAN as the mean of each cluster found on a
sample. Every customer is then assigned to the nearest centroid, and each candidate is
scored the same way on that assignment, so the methods compete on equal terms:

* silhouette on a stratified sample of ``sample_size`` customers (proportional by the
  candidate's own clusters, drawn with the same random order for every candidate). The
  full silhouette costs O(n²) distances: 10¹² for a million customers, hours. On a
  sample of 20,000 the standard error is around 0.005.
* Davies–Bouldin (lower is better) and Calinski–Harabasz (higher is better) on *all*
  customers: both are linear in n.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import cdist
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from threadpoolctl import threadpool_limits

from custintel.errors import NotEnoughData
from custintel.segmentation.preprocess import stratified_sample

__all__ = [
    "AGGLOMERATIVE_MAX_ROWS",
    "Candidate",
    "agglomerative_candidates",
    "choose_k",
    "choose_method",
    "count_distinct",
    "hdbscan_candidate",
    "kmeans_candidates",
    "nearest_centroid",
    "refine_kmeans",
    "score_candidate",
    "silhouette_sample_score",
]

# Ward linkage needs the condensed distance matrix: n²/2 doubles, 100 MB at 5,000 rows.
AGGLOMERATIVE_MAX_ROWS = 5_000


@dataclass
class Candidate:
    """One clustering tried: its method, number of clusters, centroids and scores."""

    method: str
    k: int
    centroids: np.ndarray | None
    silhouette: float = math.nan
    davies_bouldin: float = math.nan
    calinski_harabasz: float = math.nan
    noise_share: float | None = None
    note: str = ""

    @property
    def valid(self) -> bool:
        """Whether it produced a scored clustering."""
        return self.centroids is not None and math.isfinite(self.silhouette)

    def row(self) -> dict[str, Any]:
        """The comparison-table row (JSON-safe: NaN as None)."""

        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "method": self.method,
            "k": self.k,
            "silhouette": num(self.silhouette),
            "davies_bouldin": num(self.davies_bouldin),
            "calinski_harabasz": num(self.calinski_harabasz),
            "noise_share": num(self.noise_share),
            "note": self.note,
        }


def nearest_centroid(matrix: np.ndarray, centroids: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Index of the nearest centroid (Euclidean) of every row; ties go to the lower index.

    Computed row by row as plain squared differences (no dot-product trick), so a row's
    result never depends on which other rows are in the batch: ``fit(X).predict(X)``
    equals ``labels_`` exactly.
    """
    n = matrix.shape[0]
    out = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk):
        block = matrix[start : start + chunk]
        dist = np.empty((block.shape[0], centroids.shape[0]))
        for j, c in enumerate(centroids):
            diff = block - c
            dist[:, j] = np.einsum("ij,ij->i", diff, diff)
        out[start : start + chunk] = dist.argmin(axis=1)
    return out


def count_distinct(matrix: np.ndarray) -> int:
    """Number of distinct rows (exact byte equality after scaling)."""
    if matrix.shape[0] == 0:
        return 0
    rows = np.ascontiguousarray(matrix + 0.0)  # + 0.0 turns -0.0 into 0.0
    return int(np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))).size)


def silhouette_sample_score(
    matrix: np.ndarray, labels: np.ndarray, *, chunk_elements: int = 1_000_000
) -> float:
    """Mean silhouette of ``matrix`` rows under ``labels`` (equals sklearn's silhouette_score).

    Rows are sorted by label once; each chunk of rows then gets its exact distances to
    all rows (``cdist``) and the sum per cluster with one ``np.add.reduceat``. Chunks run
    on one thread per core (both release the GIL), and memory stays at about
    ``chunk_elements`` doubles per thread. Measured on 20,000 rows and 2 cores: 0.7 s,
    against 7.5 s for sklearn's ``silhouette_score``.
    """
    order = np.argsort(labels, kind="stable")
    x = np.ascontiguousarray(matrix[order], dtype=np.float64)
    _, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    m, k = x.shape[0], counts.size
    if not 2 <= k <= m - 1:
        raise ValueError(f"silhouette needs 2 <= n_labels <= n_samples - 1, got {k} and {m}")
    inverse = np.repeat(np.arange(k), counts)
    step = max(1, chunk_elements // m)

    def chunk_sum(start: int) -> float:
        stop = min(start + step, m)
        rows = np.arange(stop - start)
        sums = np.add.reduceat(cdist(x[start:stop], x), starts, axis=1)
        own = inverse[start:stop]
        own_count = counts[own]
        a = sums[rows, own] / np.maximum(own_count - 1, 1)
        means = sums / counts
        means[rows, own] = np.inf
        b = means.min(axis=1)
        denom = np.maximum(a, b)
        s = np.divide(b - a, denom, out=np.zeros_like(a), where=denom > 0)
        return float(s[own_count > 1].sum())  # a singleton's silhouette is 0

    with ThreadPoolExecutor(max_workers=_n_threads()) as pool:
        total = sum(pool.map(chunk_sum, range(0, m, step)))
    return total / m


def _n_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def score_candidate(
    cand: Candidate, matrix: np.ndarray, order: np.ndarray, sample_size: int
) -> Candidate:
    """Assign all rows to the candidate's centroids and score it (in place; returns it).

    Centroids that attract no customer are dropped (and noted). Scores are left NaN with
    a note when fewer than two clusters remain.
    """
    if cand.centroids is None:
        return cand
    idx = nearest_centroid(matrix, cand.centroids)
    counts = np.bincount(idx, minlength=cand.centroids.shape[0])
    if (counts == 0).any():
        keep = counts > 0
        cand.note = _join(cand.note, f"{int((~keep).sum())} empty cluster(s) dropped")
        remap = np.cumsum(keep) - 1
        cand.centroids, idx = cand.centroids[keep], remap[idx]
        cand.k = int(keep.sum())
    if cand.k < 2 or cand.k > matrix.shape[0] - 1:
        cand.note = _join(cand.note, f"{cand.k} cluster(s) cannot be scored")
        return cand
    rows = stratified_sample(idx, sample_size, order)
    if np.unique(idx[rows]).size < 2:
        cand.note = _join(cand.note, "the sample holds a single cluster")
        return cand
    cand.silhouette = silhouette_sample_score(matrix[rows], idx[rows])
    cand.davies_bouldin = float(davies_bouldin_score(matrix, idx))
    cand.calinski_harabasz = float(calinski_harabasz_score(matrix, idx))
    return cand


def _join(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


def kmeans_candidates(matrix: np.ndarray, ks: range, seed: int) -> list[Candidate]:
    """K-means (Lloyd, k-means++ seeding, best of 4 starts) for each k on ``matrix``.

    Runs on one thread: on these sample sizes (<= 100k rows, few features) OpenMP's
    per-iteration synchronisation costs more than it saves, and when another process
    holds a core it makes the fit up to 100 times slower (measured at 3,000 rows).
    """
    out = []
    for k in ks:
        try:
            with warnings.catch_warnings(), threadpool_limits(limits=1):
                warnings.simplefilter("error", ConvergenceWarning)
                km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(matrix)
            out.append(Candidate("kmeans", k, np.asarray(km.cluster_centers_, dtype=np.float64)))
        except ConvergenceWarning as exc:  # fewer distinct points than k
            out.append(Candidate("kmeans", k, None, note=f"k-means did not converge: {exc}"))
    return out


def refine_kmeans(matrix: np.ndarray, centroids: np.ndarray, seed: int) -> np.ndarray:
    """Lloyd iterations on all rows from centroids fitted on a sample (few are needed)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            km = KMeans(
                n_clusters=centroids.shape[0],
                init=centroids,
                n_init=1,
                max_iter=100,
                random_state=seed,
            ).fit(matrix)
    except ConvergenceWarning:
        return centroids
    return np.asarray(km.cluster_centers_, dtype=np.float64)


def _centroids(sample: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.vstack([sample[labels == c].mean(axis=0) for c in keep])


def agglomerative_candidates(sample: np.ndarray, ks: range) -> list[Candidate]:
    """Ward's agglomerative clustering of ``sample``, the tree cut at each k."""
    tree = linkage(sample, method="ward")
    out = []
    for k in ks:
        labels = fcluster(tree, t=k, criterion="maxclust")
        found = np.unique(labels)
        if found.size != k:
            out.append(
                Candidate("agglomerative", k, None, note=f"the tree has {found.size} clusters here")
            )
        else:
            out.append(Candidate("agglomerative", k, _centroids(sample, labels, found)))
    return out


def hdbscan_candidate(
    sample: np.ndarray, *, min_clusters: int, max_clusters: int, min_cluster_size: int
) -> Candidate:
    """HDBSCAN on ``sample``; the share of noise points is kept in ``noise_share``.

    When it finds more than ``max_clusters`` clusters, the largest ``max_clusters`` are
    kept (the others' members join the nearest kept cluster later, like noise).
    """
    labels = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit(sample).labels_
    noise = float(np.mean(labels < 0))
    found, sizes = np.unique(labels[labels >= 0], return_counts=True)
    plural = "" if found.size == 1 else "s"
    note = f"found {found.size} cluster{plural}, {noise:.1%} noise"
    if found.size > max_clusters:
        found = found[np.argsort(-sizes, kind="stable")[:max_clusters]]
        note += f"; the {max_clusters} largest kept"
    if found.size < min_clusters:
        return Candidate(
            "hdbscan",
            int(found.size),
            None,
            noise_share=noise,
            note=f"{note}; fewer than min_clusters={min_clusters}",
        )
    return Candidate(
        "hdbscan", int(found.size), _centroids(sample, labels, found), noise_share=noise, note=note
    )


def choose_k(candidates: list[Candidate], tolerance: float) -> Candidate | None:
    """The smallest-k valid candidate within ``tolerance`` of the best silhouette."""
    valid = [c for c in candidates if c.valid]
    if not valid:
        return None
    best = max(c.silhouette for c in valid)
    return min((c for c in valid if c.silhouette >= best - tolerance), key=lambda c: c.k)


def choose_method(
    winners: Mapping[str, Candidate | None],
    tried: list[Candidate],
    ks: range,
    *,
    tolerance: float,
    sample_size: int,
) -> tuple[Candidate, str]:
    """The winning candidate across methods, and a sentence saying why.

    ``winners`` maps each method tried (in preference order) to its best candidate
    (:func:`choose_k`). The best silhouette wins; within ``tolerance`` of it, the first
    method in preference order. Raises :class:`NotEnoughData` when no method produced a
    scored clustering, listing each candidate's note.
    """
    valid = {m: c for m, c in winners.items() if c is not None}
    if not valid:
        notes = "; ".join(f"{c.method} k={c.k}: {c.note}" for c in tried if c.note)
        raise NotEnoughData(
            f"no clustering could be scored ({notes or 'no candidate'})",
            where="clustering",
            hint="use the RFM segments for this shop, or lower min_clusters",
        )
    best = max(c.silhouette for c in valid.values())
    chosen = next(c for m, c in valid.items() if c.silhouette >= best - tolerance)
    span = f"k={ks.start}..{ks.stop - 1}" if len(ks) > 1 else f"k={ks.start}"
    same = [c for c in tried if c.method == chosen.method and c.valid]
    top = max(same, key=lambda c: c.silhouette)
    reason = f"{chosen.method} with k={chosen.k}: silhouette {chosen.silhouette:.3f}"
    if chosen.method != "hdbscan":
        reason += f", the best over {span}"
        if top is not chosen:
            reason = (
                f"{chosen.method} with k={chosen.k}: silhouette {chosen.silhouette:.3f}; "
                f"k={top.k} scored {top.silhouette:.3f}, within k_tolerance="
                f"{tolerance}, and fewer segments are easier to act on"
            )
    reason += f" (silhouette on a stratified sample of up to {sample_size:,} customers)"
    others = []
    for m in winners:
        if m == chosen.method:
            continue
        c = winners[m]
        if c is None:
            why = sorted({x.note for x in tried if x.method == m and x.note})
            others.append(f"{m} not usable ({'; '.join(why) or 'no valid k'})")
        else:
            others.append(f"{m} k={c.k} silhouette {c.silhouette:.3f}")
    if others:
        reason += "; chosen over " + ", ".join(others)
        if best > chosen.silhouette:
            reason += f" (within k_tolerance={tolerance}, {chosen.method} preferred)"
    return chosen, reason
