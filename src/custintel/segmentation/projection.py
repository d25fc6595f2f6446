"""2-D coordinates of customers for plotting clusters.

Two projections, both of the model's scaled feature matrix:

* **PCA** for every customer. The basis (mean and the two leading principal axes) is
  learned once at fit time and stored in the model as plain numbers, so the same
  customer lands on the same spot in every plot of a model version and new customers
  can be placed without refitting. Cost: O(n · d²), a fraction of a second per million.
* **t-SNE** on a sample, stratified by cluster so small clusters show up (default 3,000
  customers; t-SNE has no transform for new points and costs about 30 s for 5,000
  customers on 2 cores). Customers outside the sample get NaN in ``tsne_x``/``tsne_y``:
  every customer keeps a row, so the frame can be stored with the assignment as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from custintel.errors import ConfigError
from custintel.segmentation.preprocess import FeatureData, stratified_sample

if TYPE_CHECKING:
    from custintel.segmentation.clustering import CustomerClusterer

__all__ = ["fit_pca", "pca_coordinates", "project", "tsne_coordinates"]

_THREADED_TSNE_ROWS = 2_000


def fit_pca(matrix: np.ndarray) -> dict[str, Any]:
    """The 2-D PCA basis of ``matrix`` (n, d) as JSON-safe lists.

    Keys: mean (d), components (2 × d; a second axis of zeros when d == 1),
    explained_variance_ratio (2). Each axis's sign is fixed so that its largest loading is
    positive, which makes the basis deterministic.
    """
    x = np.asarray(matrix, dtype=np.float64)
    n, d = x.shape
    mean = x.mean(axis=0) if n else np.zeros(d)
    centred = x - mean
    cov = centred.T @ centred / max(n, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:2]
    components = vectors[:, order].T
    values = np.clip(values[order], 0.0, None)
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    if components.shape[0] < 2:
        components = np.vstack([components, np.zeros((2 - components.shape[0], d))])
        values = np.concatenate([values, np.zeros(2 - values.shape[0])])
    total = float(np.trace(cov))
    ratio = values / total if total > 0 else np.zeros(2)
    return {
        "mean": mean.tolist(),
        "components": components.tolist(),
        "explained_variance_ratio": ratio.tolist(),
    }


def pca_coordinates(basis: dict[str, Any], matrix: np.ndarray) -> np.ndarray:
    """Project the scaled ``matrix`` (n, d) on a :func:`fit_pca` basis: (n, 2)."""
    mean = np.asarray(basis["mean"], dtype=np.float64)
    components = np.asarray(basis["components"], dtype=np.float64)
    return (np.asarray(matrix, dtype=np.float64) - mean) @ components.T


def tsne_coordinates(
    matrix: np.ndarray,
    labels: np.ndarray,
    *,
    sample_size: int = 3_000,
    perplexity: float = 30.0,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """t-SNE of a sample of rows stratified by ``labels``: (row indices, (m, 2) coords).

    The perplexity is lowered to (m - 1) / 3 for small samples, as t-SNE needs it below
    the sample size. Fewer than 5 rows give an empty result.
    """
    if sample_size < 5:
        raise ConfigError(f"tsne sample_size={sample_size} should be >= 5")
    n = matrix.shape[0]
    if n < 5:
        return np.arange(0), np.empty((0, 2))
    order = np.random.default_rng(random_state).permutation(n)
    rows = stratified_sample(np.asarray(labels), sample_size, order)
    sample = matrix[rows]
    perp = float(min(perplexity, max((sample.shape[0] - 1) / 3, 1.0)))
    tsne = TSNE(
        n_components=2,
        perplexity=perp,
        init="pca",
        learning_rate="auto",
        random_state=random_state,
    )
    # Below a few thousand rows OpenMP's per-iteration synchronisation costs more than it
    # saves, and on a busy machine far more (80 rows: 1.6 s threaded, 0.5 s on one thread).
    with threadpool_limits(limits=1 if sample.shape[0] < _THREADED_TSNE_ROWS else None):
        return rows, tsne.fit_transform(sample)


def project(
    model: CustomerClusterer,
    features: FeatureData,
    *,
    tsne_sample_size: int | None = 3_000,
    random_state: int = 0,
) -> pd.DataFrame:
    """The assignment of ``features`` with plotting coordinates, one row per customer.

    Columns: customer_id, cluster, cluster_name, pca_x, pca_y, tsne_x, tsne_y (NaN
    outside the t-SNE sample; all NaN when ``tsne_sample_size`` is None).
    """
    matrix = model.feature_matrix(features)
    frame = model.assign(features, matrix=matrix)
    pca = pca_coordinates(model.pca_, matrix)
    frame["pca_x"], frame["pca_y"] = pca[:, 0], pca[:, 1]
    tsne = np.full((matrix.shape[0], 2), np.nan)
    if tsne_sample_size is not None:
        rows, coords = tsne_coordinates(
            matrix,
            frame["cluster"].to_numpy(),
            sample_size=tsne_sample_size,
            random_state=random_state,
        )
        tsne[rows] = coords
    frame["tsne_x"], frame["tsne_y"] = tsne[:, 0], tsne[:, 1]
    return frame
