"""Demographic segmentation of B2B retailers and its relation to sales volume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custintel.errors import ConfigError, NotEnoughData
from custintel.segmentation.demographic import demographic_segments, volume_categories


def planted_retailers(n: int = 300, seed: int = 1) -> tuple[pd.DataFrame, pd.Series]:
    """Two kinds of retailer: urban, high-income (big buyers) and rural, low-income."""
    rng = np.random.default_rng(seed)
    urban = rng.random(n) < 0.5
    customers = pd.DataFrame(
        {
            "customer_id": [f"R{i:03d}" for i in range(n)],
            "urban_rural_classification": np.where(urban, "urban", "rural"),
            "customer_income_bracket": np.where(urban, "high", "low"),
            "male_female_ratio": np.where(urban, 0.45, 0.55) + rng.normal(0, 0.01, n),
        }
    )
    sales = pd.Series(
        np.where(urban, 10_000, 1_000) * rng.uniform(0.8, 1.2, n), index=customers["customer_id"]
    )
    return customers, sales


def test_planted_profiles_are_found_and_related_to_volume() -> None:
    customers, sales = planted_retailers()
    result = demographic_segments(customers, sales)
    assert result.k == 2
    urban = result.assignments.merge(customers, on="customer_id")
    # every cluster is pure in the planted attribute
    purity = urban.groupby("demo_cluster")["urban_rural_classification"].nunique()
    assert (purity == 1).all()
    top = result.profiles.index[0]  # sorted by mean sales
    assert "urban" in top or "high" in top
    assert result.profiles.loc[top, "share_high_volume"] > 0.6
    assert result.crosstab.to_numpy().sum() == len(customers)


def test_sales_never_shape_the_clusters() -> None:
    customers, sales = planted_retailers()
    a = demographic_segments(customers, sales).assignments["demo_cluster"]
    b = demographic_segments(customers, sales * 0 + 1).assignments["demo_cluster"]
    assert (a == b).all()


def test_volume_terciles_with_ties_and_thresholds() -> None:
    sales = pd.Series([0, 0, 0, 5, 6, 7, 100, 200, 300.0])
    assert list(volume_categories(sales)) == ["low"] * 3 + ["medium"] * 3 + ["high"] * 3
    tied = pd.Series([1.0, 1.0, 1.0, 1.0, 9.0, 9.0])
    assert list(volume_categories(tied)) == ["low"] * 4 + ["high"] * 2
    fixed = volume_categories(sales, (5.0, 150.0))
    assert list(fixed) == ["low"] * 3 + ["medium"] * 4 + ["high"] * 2
    with pytest.raises(ConfigError, match="must increase"):
        volume_categories(sales, (10.0, 1.0))


def test_customers_without_sales_count_as_zero() -> None:
    customers, sales = planted_retailers(60)
    result = demographic_segments(customers, sales.iloc[:30])
    missing = result.assignments.set_index("customer_id").loc[customers["customer_id"][30:]]
    assert (missing["sales"] == 0).all()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"customer_id": ["a", "b"], "city": ["x", "y"]}), "n_customers=2"),
        (pd.DataFrame({"customer_id": list("abcdef"), "city": ["x"] * 6}), "distinct"),
        (pd.DataFrame({"customer_id": list("abcdef")}), "no demographic attributes"),
    ],
    ids=["too-few", "identical", "no-attributes"],
)
def test_degenerate_retailers_say_why(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(NotEnoughData, match=message):
        demographic_segments(frame, pd.Series(dtype=float))


def test_unknown_attribute_is_named() -> None:
    customers, sales = planted_retailers(30)
    with pytest.raises(ConfigError, match="citty"):
        demographic_segments(customers, sales, attributes=["citty"])
