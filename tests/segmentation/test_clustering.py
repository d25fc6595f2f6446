"""CustomerClusterer: planted clusters are recovered, the contract holds, bad data is refused.

Synthetic customers are seeded gaussian blobs in log-RFM space (the space the clusterer
works in), turned back into days, orders and money.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

from custintel.errors import ConfigError, InputError, MissingColumns, NotEnoughData
from custintel.segmentation.candidates import (
    Candidate,
    choose_k,
    nearest_centroid,
    silhouette_sample_score,
)
from custintel.segmentation.clustering import CustomerClusterer
from custintel.segmentation.preprocess import (
    FeaturePreprocessor,
    FeatureValueWarning,
    stratified_sample,
)
from custintel.segmentation.projection import fit_pca, project

# log1p(recency_days), log1p(frequency), log1p(monetary) of four planted segments.
CENTERS = np.array([[2.5, 2.5, 6.5], [5.5, 0.7, 4.0], [3.0, 1.0, 4.2], [5.8, 1.8, 6.8]])


def blobs(n: int = 1200, seed: int = 0, scale: float = 0.25) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers drawn around CENTERS; returns the features and the planted labels."""
    rng = np.random.default_rng(seed)
    planted = rng.integers(0, len(CENTERS), n)
    z = CENTERS[planted] + rng.normal(scale=scale, size=(n, 3))
    recency = np.expm1(z[:, 0])
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency_days": recency,
            "frequency": np.expm1(z[:, 1]),
            "monetary": np.expm1(z[:, 2]),
            "tenure_days": recency + rng.exponential(300, n),
            "avg_basket_lines": 1.0 + rng.poisson(2, n),
        }
    )
    return frame, planted


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return blobs()


@pytest.fixture(scope="module")
def fitted(data: tuple[pd.DataFrame, np.ndarray]) -> CustomerClusterer:
    return CustomerClusterer(method="kmeans").fit(data[0])


# -- recovery and the estimator contract ------------------------------------------------


@pytest.mark.parametrize("method", ["kmeans", "agglomerative", "hdbscan", "auto"])
def test_recovers_planted_clusters(method: str, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, planted = data
    model = CustomerClusterer(method=method).fit(frame)
    assert model.n_clusters_ == 4
    assert adjusted_rand_score(planted, model.labels_) > 0.9
    np.testing.assert_array_equal(model.predict(frame), model.labels_)


def test_fit_predict_equals_fit_then_labels(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = data
    labels = CustomerClusterer(method="kmeans").fit_predict(frame)
    np.testing.assert_array_equal(labels, CustomerClusterer(method="kmeans").fit(frame).labels_)


def test_arrow_table_gives_the_same_model(
    data: tuple[pd.DataFrame, np.ndarray], fitted: CustomerClusterer
) -> None:
    model = CustomerClusterer(method="kmeans").fit(pa.Table.from_pandas(data[0]))
    np.testing.assert_array_equal(model.labels_, fitted.labels_)
    assert model.names_ == fitted.names_


def test_ids_are_ordered_by_size_and_names_unique(fitted: CustomerClusterer) -> None:
    sizes = [int((fitted.labels_ == cid).sum()) for cid in fitted.cluster_ids_]
    assert fitted.cluster_ids_ == [0, 1, 2, 3]
    assert sizes == sorted(sizes, reverse=True)
    assert len(set(fitted.names_)) == len(fitted.names_)
    assert fitted.version_ == 1


def test_comparison_reports_every_k_and_the_choice(fitted: CustomerClusterer) -> None:
    table = fitted.comparison_
    assert list(table["k"]) == list(range(2, 11))
    assert table["silhouette"].notna().all()
    assert table["davies_bouldin"].notna().all()
    assert table["calinski_harabasz"].notna().all()
    chosen = table[table["chosen"]]
    assert list(chosen["k"]) == [4]
    assert "kmeans with k=4" in fitted.selection_reason_


def test_auto_explains_the_methods_it_did_not_choose(
    data: tuple[pd.DataFrame, np.ndarray],
) -> None:
    model = CustomerClusterer(method="auto").fit(data[0])
    assert set(model.comparison_["method"]) == {"kmeans", "agglomerative", "hdbscan"}
    assert "chosen over" in model.selection_reason_
    assert model.comparison_["chosen"].sum() == 1


def test_assign_gives_ids_and_names_per_customer(
    data: tuple[pd.DataFrame, np.ndarray], fitted: CustomerClusterer
) -> None:
    out = fitted.assign(data[0])
    assert list(out.columns) == ["customer_id", "cluster", "cluster_name"]
    assert out["customer_id"].tolist() == data[0]["customer_id"].tolist()
    names = fitted.names_by_id
    assert all(names[c] == n for c, n in zip(out["cluster"], out["cluster_name"], strict=True))


def test_round_trip_through_json_predicts_identically(
    data: tuple[pd.DataFrame, np.ndarray], fitted: CustomerClusterer
) -> None:
    text = json.dumps(fitted.to_dict(), allow_nan=False)
    loaded = CustomerClusterer.from_dict(json.loads(text))
    np.testing.assert_array_equal(loaded.predict(data[0]), fitted.labels_)
    assert loaded.names_ == fitted.names_
    assert loaded.selection_reason_ == fitted.selection_reason_
    assert len(loaded.segments_) == fitted.n_clusters_


def test_from_dict_refuses_another_format(fitted: CustomerClusterer) -> None:
    data = fitted.to_dict() | {"format_version": 99}
    with pytest.raises(ConfigError, match="format_version=99"):
        CustomerClusterer.from_dict(data)


def test_predict_before_fit_is_refused(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    with pytest.raises(ConfigError, match="not fitted"):
        CustomerClusterer().predict(data[0])


# -- k choice and scoring ---------------------------------------------------------------


def _cand(k: int, silhouette: float) -> Candidate:
    return Candidate("kmeans", k, np.zeros((k, 1)), silhouette=silhouette)


@pytest.mark.parametrize(
    ("scores", "tolerance", "expected"),
    [
        ({2: 0.50, 3: 0.70, 4: 0.60}, 0.01, 3),
        ({2: 0.50, 3: 0.695, 4: 0.70}, 0.01, 3),  # within tolerance: fewer clusters win
        ({2: 0.50, 3: 0.68, 4: 0.70}, 0.01, 4),
        ({2: 0.695, 3: 0.70}, 0.0, 3),
    ],
    ids=["clear-best", "near-tie-smaller-k", "outside-tolerance", "zero-tolerance"],
)
def test_choose_k(scores: dict[int, float], tolerance: float, expected: int) -> None:
    chosen = choose_k([_cand(k, s) for k, s in scores.items()], tolerance)
    assert chosen is not None and chosen.k == expected


def test_choose_k_skips_invalid_candidates() -> None:
    assert choose_k([Candidate("kmeans", 2, None, note="x")], 0.01) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_silhouette_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 3))
    labels = rng.integers(0, 4, 400)
    labels[7] = 9  # a singleton cluster scores 0
    assert silhouette_sample_score(x, labels) == pytest.approx(silhouette_score(x, labels), 1e-9)


def test_stratified_sample_is_proportional_and_keeps_small_strata() -> None:
    labels = np.array([0] * 900 + [1] * 99 + [2])
    order = np.random.default_rng(0).permutation(labels.size)
    rows = stratified_sample(labels, 100, order)
    counts = np.bincount(labels[rows])
    assert counts.tolist() == [90, 10, 1]  # 9.9 rounds up; the lone row joins anyway
    assert np.all(np.diff(rows) > 0)
    assert stratified_sample(labels, 5000, order).tolist() == list(range(1000))


def test_nearest_centroid_breaks_ties_to_the_lower_index() -> None:
    centroids = np.array([[1.0, 0.0], [-1.0, 0.0]])
    points = np.array([[0.0, 5.0], [-0.5, 0.0], [0.9, 0.0]])
    assert nearest_centroid(points, centroids).tolist() == [0, 1, 0]


# -- preprocessing ----------------------------------------------------------------------


def test_preprocessor_logs_clips_and_scales() -> None:
    frame = pd.DataFrame(
        {"recency_days": [0.0, 1.0, 3.0], "frequency": [1, 1, 3], "monetary": [-5.0, 0.0, 3.0]}
    )
    pre = FeaturePreprocessor()
    matrix = pre.fit_transform(frame)
    params = {c.name: c for c in pre.columns_}
    # monetary -5 is clipped to 0 before log1p: the first two customers are equal on it.
    assert matrix[0, 2] == matrix[1, 2]
    assert params["monetary"].mean == pytest.approx(math.log(4) / 3)
    np.testing.assert_allclose(matrix.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(matrix.std(axis=0), 1.0)
    again = FeaturePreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(again.transform(frame), matrix)


def test_glob_group_weighs_as_one_feature() -> None:
    frame = pd.DataFrame(
        {
            "recency_days": [1.0, 2.0, 3.0, 4.0],
            "share__a": [0.0, 1.0, 0.5, 0.2],
            "share__b": [1.0, 0.0, 0.5, 0.8],
            "share__c": [0.0, 0.0, 1.0, 0.5],
            "share__d": [0.3, 0.1, 0.0, 0.9],
        }
    )
    pre = FeaturePreprocessor(("recency_days", "share__*"))
    matrix = pre.fit_transform(frame)
    assert pre.feature_names_ == ["recency_days", "share__a", "share__b", "share__c", "share__d"]
    assert [c.weight for c in pre.columns_] == [1.0, 0.5, 0.5, 0.5, 0.5]
    assert [c.transform for c in pre.columns_] == ["log1p"] + ["identity"] * 4
    assert matrix[:, 1:].var(axis=0).sum() == pytest.approx(1.0)


def test_missing_ipi_is_filled_with_the_median_silently() -> None:
    frame, _ = blobs(300)
    frame["ipi_mean_days"] = np.where(np.arange(300) % 3 == 0, np.nan, 20.0 + np.arange(300))
    pre = FeaturePreprocessor(("recency_days", "frequency", "monetary", "ipi_mean_days"))
    matrix = pre.fit_transform(frame)  # no warning: NaN ipi is expected for one-order customers
    assert np.isfinite(matrix).all()
    assert pre.columns_[3].fill == pytest.approx(np.nanmedian(np.log1p(frame["ipi_mean_days"])))


# -- degenerate data --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "min_clusters", "message"),
    [
        (1, 2, "n_customers=1 should be >= 3"),
        (3, 5, "n_customers=3 should be >= 6 .min_clusters=5"),
        (2, 2, "n_customers=2 should be >= 3"),
    ],
    ids=["one-customer", "fewer-than-min-clusters", "as-many-as-min-clusters"],
)
def test_too_few_customers(n: int, min_clusters: int, message: str) -> None:
    frame, _ = blobs(n)
    model = CustomerClusterer(method="kmeans", min_clusters=min_clusters, max_clusters=8)
    with pytest.raises(NotEnoughData, match=message):
        model.fit(frame)


def test_all_customers_identical() -> None:
    frame = pd.DataFrame(
        {"customer_id": range(50), "recency_days": 10, "frequency": 1, "monetary": 25.0}
    )
    with pytest.raises(NotEnoughData, match="all n_customers=50 have identical"):
        CustomerClusterer().fit(frame)


def test_fewer_distinct_customers_than_min_clusters() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": range(40),
            "recency_days": [5, 300] * 20,
            "frequency": [3, 1] * 20,
            "monetary": [200.0, 20.0] * 20,
        }
    )
    with pytest.raises(NotEnoughData, match="n_distinct_customers=2 should be >= min_clusters=3"):
        CustomerClusterer(min_clusters=3).fit(frame)
    model = CustomerClusterer(method="kmeans").fit(frame)  # k=2 is possible, larger k skipped
    assert model.n_clusters_ == 2
    skipped = model.comparison_[model.comparison_["k"] > 2]
    assert skipped["note"].str.contains("only 2 distinct customers").all()


def test_single_order_and_all_refund_customers() -> None:
    rng = np.random.default_rng(3)
    frame, _ = blobs(600, seed=3)
    frame["frequency"] = 1.0  # every customer ordered once
    refunds = pd.DataFrame(
        {
            "customer_id": [f"r{i}" for i in range(120)],
            "recency_days": rng.uniform(20, 60, 120),
            "frequency": 0.0,
            "monetary": -rng.uniform(10, 90, 120),  # refunds exceed purchases
            "tenure_days": rng.uniform(200, 400, 120),
            "avg_basket_lines": 1.0,
        }
    )
    both = pd.concat([frame, refunds], ignore_index=True)
    model = CustomerClusterer(method="kmeans").fit(both)
    refund_ids = set(model.labels_[-120:].tolist())
    assert len(refund_ids) == 1
    assert model.names_by_id[refund_ids.pop()] == "Net refunders"


def test_nan_and_infinite_values_warn_and_are_replaced(
    data: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame = data[0].copy()
    frame.loc[0, "monetary"] = np.nan
    frame.loc[1, "monetary"] = np.inf
    frame.loc[2, "recency_days"] = -np.inf
    with pytest.warns(FeatureValueWarning) as caught:
        model = CustomerClusterer(method="kmeans").fit(frame)
    messages = " ".join(str(w.message) for w in caught)
    assert "1 of 1200 values are missing" in messages
    assert "1 of 1200 values are infinite" in messages
    top = model.labels_[frame["monetary"].fillna(0).nlargest(5).index[1:]]
    # +inf monetary is clipped to the largest finite value: it joins the top spenders.
    assert model.labels_[1] in set(top.tolist())
    with pytest.warns(FeatureValueWarning, match="infinite"):
        assert model.predict(frame.iloc[[1]]).shape == (1,)


def test_hdbscan_without_structure_is_refused_and_auto_falls_back() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(loc=[3.0, 1.0, 4.0], scale=0.3, size=(600, 3))
    frame = pd.DataFrame(
        {
            "recency_days": np.expm1(z[:, 0]),
            "frequency": np.expm1(z[:, 1]),
            "monetary": np.expm1(z[:, 2]),
        }
    )
    with pytest.raises(NotEnoughData, match="hdbscan"):
        CustomerClusterer(method="hdbscan", hdbscan_min_cluster_size=30).fit(frame)
    model = CustomerClusterer(method="auto", hdbscan_min_cluster_size=30).fit(frame)
    assert model.method_ != "hdbscan"
    assert "hdbscan not usable" in model.selection_reason_


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"method": "dbscan"}, "method='dbscan'"),
        ({"min_clusters": 1}, "min_clusters=1 should be >= 2"),
        ({"min_clusters": 5, "max_clusters": 3}, "max_clusters=3 should be >= min_clusters=5"),
        ({"sample_size": 10}, "sample_size=10"),
        ({"features": ()}, "features=()"),
        ({"k_tolerance": -0.1}, "k_tolerance=-0.1"),
    ],
    ids=["method", "min-clusters", "max-below-min", "sample-size", "no-features", "tolerance"],
)
def test_bad_options_are_config_errors(
    params: dict[str, Any], message: str, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CustomerClusterer(**params).fit(data[0])


def test_missing_and_non_numeric_features(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    with pytest.raises(MissingColumns, match="recency_dayz"):
        CustomerClusterer(features=("recency_dayz", "monetary")).fit(data[0])
    with pytest.raises(InputError, match="'customer_id' has dtype"):
        CustomerClusterer(features=("customer_id", "monetary")).fit(data[0])


# -- projection -------------------------------------------------------------------------


def test_pca_basis_is_deterministic_and_orders_variance() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * [3.0, 1.0, 0.1]
    basis = fit_pca(x)
    np.testing.assert_allclose(np.abs(basis["components"][0]), [1, 0, 0], atol=0.05)
    assert basis["explained_variance_ratio"][0] > basis["explained_variance_ratio"][1]
    assert fit_pca(x) == basis
    assert fit_pca(x[:, :1])["components"][1] == [0.0]


def test_projection_keeps_every_customer(
    data: tuple[pd.DataFrame, np.ndarray], fitted: CustomerClusterer
) -> None:
    out = project(fitted, data[0], tsne_sample_size=80)
    assert len(out) == len(data[0])
    assert out[["pca_x", "pca_y"]].notna().all().all()
    sampled = out["tsne_x"].notna()
    assert sampled.sum() == 80
    assert set(out.loc[sampled, "cluster"]) == set(fitted.cluster_ids_)
    assert project(fitted, data[0], tsne_sample_size=None)["tsne_x"].isna().all()
