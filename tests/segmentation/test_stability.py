"""Stable cluster identities: matching, id assignment and retrains on changed data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custintel.errors import ConfigError
from custintel.segmentation.clustering import CustomerClusterer
from custintel.segmentation.preprocess import FeaturePreprocessor
from custintel.segmentation.stability import (
    ClusterMatch,
    assign_identities,
    centroids_in_common_space,
    match_clusters,
)

CENTERS = np.array(
    [[2.5, 2.5, 6.5], [5.5, 0.7, 4.0], [3.0, 1.0, 4.2], [5.8, 1.8, 6.8], [1.5, 2.2, 3.0]]
)


def customers(
    planted: np.ndarray, seed: int, scale: float = 0.25, shift: float = 0.0
) -> pd.DataFrame:
    """Customers around CENTERS[planted] (log-RFM space), optionally all shifted."""
    rng = np.random.default_rng(seed)
    z = CENTERS[planted] + shift + rng.normal(scale=scale, size=(planted.size, 3))
    return pd.DataFrame(
        {
            "customer_id": np.arange(planted.size),
            "recency_days": np.expm1(z[:, 0]),
            "frequency": np.expm1(z[:, 1]),
            "monetary": np.expm1(z[:, 2]),
        }
    )


def test_match_clusters_by_hand() -> None:
    previous = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    new = np.array([[0.2, 9.9], [0.1, 0.0], [9.0, 0.0]])
    match = match_clusters(previous, new, max_distance=1.5)
    assert match.mapping == {0: 2, 1: 0, 2: 1}
    assert match.distances[1] == pytest.approx(0.1)
    assert match.unmatched_new == [] and match.retired == []


def test_far_clusters_are_new_and_unmatched_previous_ones_retired() -> None:
    previous = np.array([[0.0, 0.0], [10.0, 0.0]])
    new = np.array([[0.0, 0.3], [5.0, 5.0], [20.0, 20.0]])
    match = match_clusters(previous, new, max_distance=1.0)
    assert match.mapping == {0: 0}
    assert match.unmatched_new == [1, 2]
    assert match.retired == [1]
    unlimited = match_clusters(previous, new, max_distance=None)
    assert len(unlimited.mapping) == 2


def test_match_clusters_refuses_mismatched_shapes() -> None:
    with pytest.raises(ConfigError, match="2 features but new ones have 3"):
        match_clusters(np.zeros((2, 2)), np.zeros((2, 3)))


def test_assign_identities_keeps_ids_and_never_reuses_retired_ones() -> None:
    match = ClusterMatch(mapping={0: 1, 2: 0}, distances={0: 0.1, 2: 0.2}, unmatched_new=[1])
    ids, kept, next_id = assign_identities(
        match, previous_ids=[3, 7], previous_names=["Old A", "Old B"], n_new=3, next_id=9
    )
    assert ids == [7, 9, 3]
    assert kept == {7: "Old B", 3: "Old A"}
    assert next_id == 10


def test_common_space_undoes_a_change_of_scaling() -> None:
    small = customers(np.array([0, 1, 2, 3] * 50), seed=0)
    large = customers(np.array([0, 0, 0, 1, 2, 3] * 50), seed=1, shift=0.3)
    pre_a, pre_b = FeaturePreprocessor(), FeaturePreprocessor()
    pre_a.fit(small)
    pre_b.fit(large)
    point = pd.DataFrame({"recency_days": [30.0], "frequency": [4.0], "monetary": [250.0]})
    a, b, names = centroids_in_common_space(
        pre_a, pre_a.transform(point), pre_b, pre_b.transform(point)
    )
    assert names == ["recency_days", "frequency", "monetary"]
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("as_dict", [False, True], ids=["model", "dict"])
def test_retrain_on_resampled_perturbed_data_keeps_ids_and_names(as_dict: bool) -> None:
    planted = np.random.default_rng(0).integers(0, 4, 1500)
    first = customers(planted, seed=0)
    v1 = CustomerClusterer(method="kmeans", random_state=0).fit(first)
    # Next month: a bootstrap of the customers, every feature nudged, another seed.
    rows = np.random.default_rng(1).integers(0, 1500, 1500)
    second = customers(planted[rows], seed=2, shift=0.05)
    previous = v1.to_dict() if as_dict else v1
    v2 = CustomerClusterer(method="kmeans", random_state=7).fit(second, previous=previous)
    assert v2.version_ == 2
    kept = np.mean(v1.predict(first) == v2.predict(first))
    assert kept >= 0.95
    assert v2.names_by_id == v1.names_by_id
    changes = v2.changes_
    assert changes is not None
    assert changes["status"].tolist() == ["kept"] * 4
    assert (changes["centroid_shift"] < 0.5).all()
    assert not changes["name_stale"].any()


def test_retired_and_new_clusters_with_fresh_ids() -> None:
    planted = np.random.default_rng(0).integers(0, 4, 1200)
    v1 = CustomerClusterer(method="kmeans").fit(customers(planted, seed=0))
    lost = int(v1.predict(customers(np.array([3]), seed=9))[0])  # the id of segment 3

    v2_planted = np.where(planted == 3, 0, planted)  # segment 3 disappears
    v2 = CustomerClusterer(method="kmeans", max_clusters=8).fit(
        customers(v2_planted, seed=1), previous=v1
    )
    changes = v2.changes_
    assert changes is not None
    retired = changes[changes["status"] == "retired"]
    assert retired["cluster"].tolist() == [lost]
    assert retired["share"].tolist() == [0.0]
    assert lost not in v2.cluster_ids_

    v3_planted = np.where(np.arange(1200) % 4 == 0, 4, v2_planted)  # a new segment appears
    v3 = CustomerClusterer(method="kmeans").fit(customers(v3_planted, seed=2), previous=v2)
    changes = v3.changes_
    assert changes is not None
    new = changes[changes["status"] == "new"]
    assert new["cluster"].tolist() == [4]  # next id after 0..3; retired id is not reused
    assert new["name"].iloc[0] not in set(v2.names_)
    assert v3.version_ == 3
    assert len(set(v3.names_)) == len(v3.names_)
