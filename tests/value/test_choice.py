"""The choice step picks the candidate that the data favours, by the stated metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custintel.value.models import compare, fit_candidates

WINDOW = 30


def frame(rng: np.random.Generator, n: int, btyd_knows: bool) -> pd.DataFrame:
    """Examples where spend depends on one feature, ``signal``. With ``btyd_knows`` the
    BTYD rate is exactly the true rate (BTYD should win or tie); without, it is noise
    and only the trees can find the signal."""
    signal = rng.uniform(0, 1, n)
    true_rate = 3 * signal**2
    spend = rng.poisson(true_rate * WINDOW / 10) * 10.0
    orders = (spend > 0).astype(float) + (spend > 20)
    btyd_rate = true_rate if btyd_knows else rng.uniform(0, 3, n)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "signal": signal,
            "recency_days": rng.integers(1, 300, n).astype(float),
            "frequency": rng.integers(1, 10, n).astype(float),
            "tenure_days": rng.integers(30, 900, n).astype(float),
            "spend_365d": rng.uniform(0, 500, n),
            "orders_365d": rng.integers(0, 10, n).astype(float),
            "ipi_mean_days": rng.uniform(10, 90, n),
            "btyd_spend_rate": btyd_rate,
            "btyd_orders_rate": btyd_rate / 10,
            "btyd_p_alive": rng.uniform(0, 1, n),
            "window_days": WINDOW,
            "spend": spend,
            "orders": orders,
            "spend_rate": spend / WINDOW,
            "orders_rate": orders / WINDOW,
            "churned": orders == 0,
            "days_to_next_order": np.where(orders > 0, rng.integers(0, WINDOW, n), np.nan),
        }
    )


@pytest.mark.parametrize("btyd_knows", [False, True])
def test_choice_follows_the_validation_error(btyd_knows: bool) -> None:
    rng = np.random.default_rng(5)
    train, calibration, validation = (frame(rng, 3000, btyd_knows) for _ in range(3))
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
        assert rmse["gbm"] < 0.9 * rmse["btyd"]
        assert models.chosen["spend"] == "gbm"
    brier = {name: m["brier"] for name, m in table["churn"].items()}
    assert models.chosen["churn"] == min(brier, key=brier.get)


def test_churn_probabilities_are_calibrated_on_new_data() -> None:
    """Reliability table on a later sample: in each decile of predicted churn
    probability the observed churn rate is within 0.06 of the mean prediction (3,000
    customers: about 300 a bin, a binomial SD of at most 0.029)."""
    rng = np.random.default_rng(9)
    train, calibration, validation = (frame(rng, 3000, False) for _ in range(3))
    models = fit_candidates(train, calibration, n_jobs=1)
    probability = models.predict(validation, "churn", WINDOW)["gbm"]
    churned = validation["churned"].to_numpy(float)
    bins = np.array_split(np.argsort(probability, kind="stable"), 10)
    gaps = [abs(probability[b].mean() - churned[b].mean()) for b in bins]
    assert max(gaps) < 0.06, gaps
