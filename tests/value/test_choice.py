"""The choice step picks the candidate that the data favours, by the stated metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import WINDOW, examples_frame

from custintel.errors import ConfigError
from custintel.value.metrics import spend_metrics
from custintel.value.models import TIES_MEAN, compare, fit_candidates
from custintel.value.persist import models_from_dict, models_to_dict


@pytest.mark.parametrize("btyd_knows", [False, True])
def test_choice_follows_the_validation_error(btyd_knows: bool) -> None:
    rng = np.random.default_rng(5)
    train, calibration, validation = (
        examples_frame(rng, 3000, btyd_knows=btyd_knows) for _ in range(3)
    )
    models = fit_candidates(train, calibration, n_jobs=1)
    table = compare(models, validation, WINDOW)
    rmse = {name: m["rmse"] for name, m in table["spend"].items()}
    assert models.chosen["spend"] == min(rmse, key=rmse.get)
    if btyd_knows:
        # BTYD's rate is the truth: the trees can at best match it.
        assert rmse["btyd"] <= rmse["gbm"] * 1.02
        assert models.chosen["spend"] in ("btyd", "blend")
    else:
        # BTYD's rate is noise; the trees find the signal and win clearly.
        trees = ("gbm", "xgboost", "random_forest")
        assert max(rmse[t] for t in trees) < 0.9 * rmse["btyd"]
        assert models.chosen["spend"] in trees
        # A lead that large is no tie.
        assert table["spend"]["btyd"]["within_noise"] == 0.0
    # Every candidate but the chosen one says whether it ties with it.
    for target in ("spend", "orders", "churn", "next_order"):
        marked = {n for n, m in table[target].items() if "within_noise" in m}
        assert marked == set(table[target]) - {models.chosen[target]}, target
    brier = {name: m["brier"] for name, m in table["churn"].items()}
    assert models.chosen["churn"] == min(brier, key=brier.get)


def test_churn_probabilities_are_calibrated_on_new_data() -> None:
    """Reliability table on a later sample: in each decile of predicted churn
    probability the observed churn rate is within 0.06 of the mean prediction (3,000
    customers: about 300 a bin, a binomial SD of at most 0.029)."""
    rng = np.random.default_rng(9)
    train, calibration, validation = (examples_frame(rng, 3000) for _ in range(3))
    models = fit_candidates(train, calibration, n_jobs=1)
    probability = models.predict(validation, "churn", WINDOW)["gbm"]
    churned = validation["churned"].to_numpy(float)
    bins = np.array_split(np.argsort(probability, kind="stable"), 10)
    gaps = [abs(probability[b].mean() - churned[b].mean()) for b in bins]
    assert max(gaps) < 0.06, gaps


def order_values_known(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Examples where each order is worth the customer's own amount, spread over a wide
    range, which BTYD's Gamma-Gamma knows (its spend rate over its order rate), and how
    often a customer orders follows ``signal``, which BTYD's order rate knows only
    roughly (the true rate times log-normal noise). The spend trees must learn a
    product that they see only as a ratio of two features; orders times BTYD's order
    value needs the learners only for how often."""
    frame = examples_frame(rng, n)
    value = np.exp(rng.normal(np.log(40), 0.8, n))
    rate = 3 * frame["signal"].to_numpy() ** 2 / 10
    orders = rng.poisson(rate * WINDOW).astype(float)
    frame["orders"], frame["spend"] = orders, orders * value
    frame["orders_rate"], frame["spend_rate"] = orders / WINDOW, orders * value / WINDOW
    frame["churned"] = orders == 0
    frame["btyd_orders_rate"] = rate * np.exp(rng.normal(0, 0.3, n))
    frame["btyd_spend_rate"] = frame["btyd_orders_rate"] * value
    return frame


def test_orders_times_order_value_is_chosen_where_the_amounts_are_btyds_to_know() -> None:
    rng = np.random.default_rng(11)
    train, calibration, validation = (order_values_known(rng, 3000) for _ in range(3))
    models = fit_candidates(train, calibration, n_jobs=1)
    table = compare(models, validation, WINDOW)
    rmse = {name: m["rmse"] for name, m in table["spend"].items()}
    assert models.chosen["spend"] == "orders_x_value", rmse
    # Clearly, not by a hair: the blend of the same learners' spend is 6 % worse here.
    assert rmse["orders_x_value"] < 0.97 * rmse["blend"], rmse


def test_orders_that_tie_on_the_window_are_served_as_their_mean() -> None:
    """On 60 validation customers the trees' orders tie (bench/tied_mean.py: the mean of
    the ties served orders better than the lowest error alone); spend and churn stay
    the lowest error."""
    rng = np.random.default_rng(5)
    train, calibration = (examples_frame(rng, 3000, btyd_knows=True) for _ in range(2))
    validation = examples_frame(rng, 60, btyd_knows=True)
    models = fit_candidates(train, calibration, n_jobs=1)
    table = compare(models, validation, WINDOW)["orders"]
    assert models.chosen["orders"] == TIES_MEAN
    candidates = {n: m for n, m in table.items() if n != TIES_MEAN}
    best = min(candidates, key=lambda n: candidates[n]["rmse"])
    tied = [n for n, m in candidates.items() if m.get("within_noise")]
    assert tied and models.averaged == {"orders": [best, *tied]}
    assert {n for n, m in table.items() if m.get("averaged")} == {best, *tied}
    predicted = models.predict(validation, "orders", WINDOW)
    mean = np.mean([predicted[n] for n in [best, *tied]], axis=0)
    np.testing.assert_allclose(predicted[TIES_MEAN], mean)
    served = models.predict(validation, "orders", WINDOW, only=TIES_MEAN)
    np.testing.assert_allclose(served[TIES_MEAN], mean)
    actual = validation["orders"].to_numpy(float)
    assert table[TIES_MEAN]["rmse"] == pytest.approx(spend_metrics(actual, mean)["rmse"])
    assert 0 <= table[TIES_MEAN]["chance_p"] <= 1
    # A served version averages the same candidates.
    restored = models_from_dict(models_to_dict(models))
    again = restored.predict(validation, "orders", WINDOW, only=TIES_MEAN)[TIES_MEAN]
    np.testing.assert_allclose(again, mean)
    assert models.chosen["spend"] != TIES_MEAN and models.chosen["churn"] != TIES_MEAN
    with pytest.raises(ConfigError, match="no spend candidates were averaged"):
        models.predict(validation, "spend", WINDOW, only=TIES_MEAN)
