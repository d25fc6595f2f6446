"""Expected spend per category: each customer's shares shrunk towards the shop's mix by a
prior chosen on the validation window, adding up to the total."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from custintel.value.models import (
    CATEGORY_PRIORS,
    ValueModels,
    category_shares,
    category_spend,
    choose_category_prior,
    describe_category_prior,
    realised_by_category,
    shop_mix,
)
from custintel.value.persist import models_from_dict, models_to_dict


def three_customers() -> pd.DataFrame:
    """One loyal to books after 9 orders, one who bought toys once, one without sales."""
    return pd.DataFrame(
        {
            "frequency": [9, 1, 0],
            "share__books": [1.0, 0.0, np.nan],
            "share__toys": [0.0, 1.0, np.nan],
        }
    )


def test_no_prior_keeps_each_customers_own_shares_and_the_mix_for_those_without_sales() -> None:
    shares = category_shares(three_customers(), 0.0)
    np.testing.assert_allclose(shares.to_numpy(), [[1, 0], [0, 1], [0.5, 0.5]])


def test_a_prior_of_k_orders_weighs_the_shop_mix_as_k_more_orders() -> None:
    shares = category_shares(three_customers(), 3.0)
    # the mix is the customers' average share: books 0.5, toys 0.5
    np.testing.assert_allclose(shares.iloc[0], [(9 * 1 + 3 * 0.5) / 12, (3 * 0.5) / 12])
    np.testing.assert_allclose(shares.iloc[1], [(3 * 0.5) / 4, (1 + 3 * 0.5) / 4])
    np.testing.assert_allclose(shares.iloc[2], [0.5, 0.5])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    # the one-order customer moves further towards the mix than the nine-order one
    assert shares.iloc[1]["share__toys"] < 1 - shares.iloc[0]["share__toys"]


def test_an_infinite_prior_gives_everyone_the_shop_mix_and_the_split_adds_up() -> None:
    frame = three_customers()
    np.testing.assert_allclose(category_shares(frame, math.inf).to_numpy(), 0.5)
    spend = np.array([90.0, 10.0, 4.0])
    for prior in CATEGORY_PRIORS:
        split = category_spend(frame, spend, prior)
        assert list(split.columns) == ["expected_spend__books", "expected_spend__toys"]
        np.testing.assert_allclose(split.sum(axis=1), spend)


def test_with_the_fitted_mix_a_customers_split_does_not_depend_on_who_else_is_scored() -> None:
    frame = three_customers()
    mix = shop_mix(frame)
    assert mix == {"share__books": 0.5, "share__toys": 0.5}
    whole = category_shares(frame, 3.0, mix)
    alone = category_shares(frame.iloc[[1]], 3.0, mix)
    np.testing.assert_allclose(alone.to_numpy(), whole.iloc[[1]].to_numpy())
    # without it, the mix is the batch's own: the toy buyer alone is their own mix
    np.testing.assert_allclose(category_shares(frame.iloc[[1]], 3.0).to_numpy(), [[0, 1]])


def test_other_is_realised_spend_less_the_kept_categories() -> None:
    frame = pd.DataFrame(
        {
            "spend": [50.0, 0.0],
            "share__books": [0.5, 0.2],
            "share__other": [0.5, 0.8],
            "next_spend__books": [20.0, 0.0],
        }
    )
    realised = realised_by_category(frame)
    assert list(realised.columns) == ["next_spend__books", "next_spend__other"]
    np.testing.assert_allclose(realised["next_spend__other"], [30.0, 0.0])
    with pytest.raises(KeyError, match="next_spend__books"):
        realised_by_category(frame.drop(columns="next_spend__books"))
    # spend all in kept categories is exactly 0 in other, not the subtraction's residue
    kept = pd.DataFrame(
        {
            "spend": [0.3],  # summed in another order than 0.1 + 0.2
            "share__books": [1.0],
            "share__toys": [0.0],
            "share__other": [0.0],
            "next_spend__books": [0.1],
            "next_spend__toys": [0.2],
        }
    )
    assert 0.3 - (0.1 + 0.2) != 0  # what the subtraction alone leaves
    assert realised_by_category(kept)["next_spend__other"].tolist() == [0.0]


def validation_window(rng: np.random.Generator, n: int, loyal: bool) -> pd.DataFrame:
    """Customers with 1 to 5 orders so far in three categories; over the window they
    spend either in their own past shares (``loyal``) or in the shop's mix whatever they
    bought before."""
    orders = rng.integers(1, 6, n)
    own = rng.dirichlet([0.3, 0.3, 0.3], n)
    mix = np.array([0.5, 0.3, 0.2])
    spend = rng.gamma(2.0, 30.0, n)
    future = own if loyal else np.tile(mix, (n, 1))
    frame = pd.DataFrame({"frequency": orders, "spend": spend})
    for i, name in enumerate(("a", "b", "other")):
        frame[f"share__{name}"] = own[:, i]
    for i, name in enumerate(("a", "b")):
        frame[f"next_spend__{name}"] = spend * future[:, i]
    return frame


def test_the_prior_is_chosen_by_how_well_it_splits_the_realised_totals() -> None:
    rng = np.random.default_rng(3)
    assert choose_category_prior(validation_window(rng, 2000, loyal=True)) == 0.0
    assert choose_category_prior(validation_window(rng, 2000, loyal=False)) == math.inf
    # no categories: nothing to choose
    assert choose_category_prior(pd.DataFrame({"spend": [1.0], "frequency": [1]})) == 0.0


@pytest.mark.parametrize("prior", [0.0, 3.0, math.inf])
def test_the_chosen_prior_and_mix_survive_a_json_round_trip(prior: float) -> None:
    mix = {"share__books": 0.25, "share__other": 0.75}
    models = ValueModels(features=["frequency"], category_prior=prior, category_mix=mix)
    stored = json.loads(json.dumps(models_to_dict(models), allow_nan=False))
    restored = models_from_dict(stored)
    assert restored.category_prior == prior and restored.category_mix == mix
    del stored["category_prior"], stored["category_mix"]  # stored before the split had them
    restored = models_from_dict(stored)
    assert restored.category_prior == 0.0 and restored.category_mix == {}


def test_the_split_is_described_in_words() -> None:
    assert "own category shares" in describe_category_prior(0.0)
    assert "as if it were 10 more orders" in describe_category_prior(10.0)
    assert "the same for every customer" in describe_category_prior(math.inf)
