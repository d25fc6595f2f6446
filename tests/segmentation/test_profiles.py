"""Cluster profiles and names on tiny populations whose answers are computed by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custintel.errors import InputError
from custintel.segmentation.profiles import cluster_names, profile_clusters

# Four clusters with constant features. Mid-rank percentiles of their medians (600
# customers): monetary C .25, D .58, A .75, B .92; frequency C .25, B .58, D .75, A .92;
# recency A .08, D .25, C .58, B .92; tenure C .25, D .58, A .75, B .92.
CLUSTERS = {
    # label: (size, recency_days, frequency, monetary, tenure_days)
    0: (100, 5, 20, 2000.0, 900),  # A: recent, frequent, high value
    1: (100, 400, 2, 3000.0, 1000),  # B: long ago, high value
    2: (300, 10, 1, 30.0, 20),  # C: new, low value
    3: (100, 8, 3, 400.0, 600),  # D: recent, frequent, mid value
}


def population(
    clusters: dict[int, tuple[int, int, int, float, int]] = CLUSTERS,
) -> tuple[pd.DataFrame, np.ndarray]:
    rows, labels = [], []
    for label, (size, recency, frequency, monetary, tenure) in clusters.items():
        rows += [(recency, frequency, monetary, tenure, 2.0)] * size
        labels += [label] * size
    frame = pd.DataFrame(
        rows,
        columns=["recency_days", "frequency", "monetary", "tenure_days", "avg_basket_lines"],
    )
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    return frame, np.array(labels)


def test_sizes_shares_means_and_medians() -> None:
    frame, labels = population()
    profiles = profile_clusters(frame, labels)
    summary = profiles.summary
    assert summary["size"].tolist() == [100, 100, 300, 100]
    assert summary["share_customers"].tolist() == pytest.approx([1 / 6, 1 / 6, 1 / 2, 1 / 6])
    revenue = [200_000, 300_000, 9_000, 40_000]
    assert summary["share_revenue"].tolist() == pytest.approx([r / 549_000 for r in revenue])
    assert profiles.means.loc[1, "monetary"] == 3000.0
    assert profiles.medians.loc[2, "tenure_days"] == 20.0
    assert "customer_id" not in profiles.means.columns


def test_standardised_difference_and_top_features() -> None:
    frame, labels = population()
    profiles = profile_clusters(frame, labels, top_n=2)
    monetary = frame["monetary"]
    expected = (3000.0 - monetary.mean()) / monetary.std(ddof=0)
    assert profiles.differences.loc[1, "monetary"] == pytest.approx(expected)
    assert profiles.differences.loc[0, "avg_basket_lines"] == 0.0  # constant feature
    top = profiles.distinguishing[profiles.distinguishing["cluster"] == 1]
    assert top["rank"].tolist() == [1, 2]
    assert top.iloc[0]["feature"] == "recency_days"
    assert top.iloc[0]["direction"] == "higher"
    assert str(profiles.summary.loc[1, "top_features"]).startswith("recency_days +")


def test_generated_names_follow_the_rules() -> None:
    frame, labels = population()
    assert cluster_names(frame, labels) == {
        0: "High-value frequent",
        1: "Lapsed big spenders",
        2: "New low spenders",
        3: "Frequent mid-value",
    }


def test_net_refunders_and_names_without_rfm_columns() -> None:
    clusters = dict(CLUSTERS)
    clusters[3] = (100, 30, 0, -50.0, 600)
    frame, labels = population(clusters)
    assert cluster_names(frame, labels)[3] == "Net refunders"
    plain = frame[["customer_id", "tenure_days"]]
    assert cluster_names(plain, labels) == {i: f"Cluster {i}" for i in range(4)}


def test_colliding_names_get_a_qualifier() -> None:
    frame, labels = population()
    # Split cluster C in two that differ only in basket size: same rule name.
    c_rows = np.flatnonzero(labels == 2)
    labels[c_rows[:150]] = 4
    frame.loc[c_rows[:150], "avg_basket_lines"] = 1.0
    frame.loc[c_rows[150:], "avg_basket_lines"] = 5.0
    names = cluster_names(frame, labels)
    assert names[4] == "New low spenders, smaller baskets"
    assert names[2] == "New low spenders, bigger baskets"
    assert len(set(names.values())) == 5


def test_identical_colliding_clusters_are_numbered() -> None:
    frame, labels = population()
    c_rows = np.flatnonzero(labels == 2)
    labels[c_rows[:100]] = 4  # C split in two identical halves (200 and 100 rows)
    names = cluster_names(frame, labels)
    assert names[2] == "New low spenders"
    assert names[4] == "New low spenders (2)"


def test_reserved_names_are_not_reused() -> None:
    frame, labels = population()
    names = cluster_names(frame, labels, reserved={"New low spenders"})
    assert names[2] == "New low spenders (2)"


def test_given_names_override_generated_ones() -> None:
    frame, labels = population()
    profiles = profile_clusters(frame, labels, names={2: "Newcomers"})
    assert profiles.summary["name"].tolist() == [
        "High-value frequent",
        "Lapsed big spenders",
        "Newcomers",
        "Frequent mid-value",
    ]


def test_revenue_share_is_nan_when_total_revenue_is_not_positive() -> None:
    frame, labels = population()
    frame["monetary"] = -1.0
    assert profile_clusters(frame, labels).summary["share_revenue"].isna().all()


def test_records_are_json_and_arrow_input_is_accepted() -> None:
    frame, labels = population()
    frame.loc[0, "tenure_days"] = np.nan
    records = profile_clusters(pa.Table.from_pandas(frame), labels).to_records()
    text = json.dumps(records, allow_nan=False)
    assert json.loads(text)[1]["name"] == "Lapsed big spenders"
    assert [len(r["top_features"]) for r in records] == [3, 3, 3, 3]


def test_labels_must_match_rows() -> None:
    frame, labels = population()
    with pytest.raises(InputError, match="len\\(labels\\)=599 should equal n_rows=600"):
        profile_clusters(frame, labels[:-1])


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_profiles_do_not_depend_on_row_order(rnd: object) -> None:
    frame, labels = population()
    order = np.array(rnd.sample(range(len(frame)), len(frame)))  # type: ignore[attr-defined]
    shuffled = profile_clusters(frame.iloc[order], labels[order])
    base = profile_clusters(frame, labels)
    pd.testing.assert_frame_equal(shuffled.summary, base.summary)
    pd.testing.assert_frame_equal(shuffled.means, base.means, check_exact=False)
