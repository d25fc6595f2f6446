"""Churn probabilities calibrated on a short label window, carried to a longer horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custintel.value.btyd import BTYDModel
from custintel.value.eligibility import assess
from custintel.value.examples import BTYD_FEATURES, btyd_rates
from custintel.value.service import churn_inputs, churn_over_horizon

MODEL = BTYDModel(r=0.243, alpha=4.414, a=0.793, b=2.426, mean_order_value=30.0)
SUMMARY = pd.DataFrame(
    {
        "customer_id": ["new", "steady", "lapsed"],
        "frequency": [0, 8, 3],
        "recency": [0.0, 30.0, 5.0],
        "T": [10.0, 32.0, 40.0],
        "monetary_value": [0.0, 25.0, 20.0],
    }
)
# A customer with only a cancelled order is scored but has no BTYD summary row.
CURRENT = pd.DataFrame({"customer_id": ["steady", "ghost", "new", "lapsed"]})
WINDOW_CHURN = np.array([0.3, 0.8, 0.6, 0.9])


def test_the_window_probability_times_the_chance_of_staying_silent_after_it() -> None:
    out = churn_over_horizon(WINDOW_CHURN, CURRENT, SUMMARY, MODEL, 71, 273)
    longer = MODEL.p_no_orders(SUMMARY, 273).set_axis(SUMMARY["customer_id"])
    shorter = MODEL.p_no_orders(SUMMARY, 71).set_axis(SUMMARY["customer_id"])
    for i, customer in enumerate(CURRENT["customer_id"]):
        if customer == "ghost":
            assert out[i] == WINDOW_CHURN[i]  # nothing known to carry it with
            continue
        expected = WINDOW_CHURN[i] * longer[customer] / shorter[customer]
        assert out[i] == pytest.approx(expected, rel=1e-12)
        assert out[i] < WINDOW_CHURN[i]  # a longer horizon leaves fewer without an order
    # The steady buyer is far likelier to order in the extra 202 days than the lapsed one.
    steady, lapsed = out[0] / WINDOW_CHURN[0], out[3] / WINDOW_CHURN[3]
    assert steady < lapsed


def test_a_horizon_the_window_covers_is_left_as_calibrated() -> None:
    same = churn_over_horizon(WINDOW_CHURN, CURRENT, SUMMARY, MODEL, 30, 30)
    assert same is WINDOW_CHURN


def test_the_churn_learners_read_btyd_rates_over_the_window_they_were_calibrated_on() -> None:
    over_horizon = CURRENT.merge(btyd_rates(SUMMARY, MODEL, 273), on="customer_id", how="left")
    over_horizon["recency_days"] = [3.0, 9.0, 1.0, 40.0]
    inputs = churn_inputs(over_horizon, SUMMARY, MODEL, 71, 273)
    window = btyd_rates(SUMMARY, MODEL, 71).set_index("customer_id")
    # same customers in the same order, other features untouched
    assert list(inputs["customer_id"]) == list(CURRENT["customer_id"])
    assert list(inputs.columns) == list(over_horizon.columns)
    assert inputs["recency_days"].tolist() == over_horizon["recency_days"].tolist()
    for column in BTYD_FEATURES:
        for i, customer in enumerate(inputs["customer_id"]):
            if customer == "ghost":
                assert np.isnan(inputs[column].iloc[i])
            else:
                assert inputs[column].iloc[i] == pytest.approx(window.loc[customer, column])
    # a customer who may drop out orders less per day over 273 days than over 71
    lapsed = inputs["customer_id"] == "lapsed"
    assert (
        inputs.loc[lapsed, "btyd_orders_rate"].item()
        > over_horizon.loc[lapsed, "btyd_orders_rate"].item()
    )
    assert churn_inputs(over_horizon, SUMMARY, MODEL, 273, 273) is over_horizon


def test_the_churn_statement_says_when_it_is_carried_to_a_longer_horizon() -> None:
    measured = {"rmse": 1.0, "top_decile_capture": 0.5}
    comparison = {
        "spend": {"btyd": measured},
        "orders": {"btyd": measured},
        "churn": {"btyd": {"roc_auc": 0.7, "brier": 0.2, "churn_rate": 0.8}},
    }
    cutoffs = {"validation": "2025-01-01", "validation_ends": "2025-03-13", "window_days": 71}
    chosen = {"spend": "btyd", "orders": "btyd", "churn": "btyd"}

    def note(horizon: int) -> str:
        statements = assess(
            comparison,
            chosen,
            cutoffs,
            validation_customers=5000,
            clv_days=365,
            categories=[],
            horizon_days=horizon,
        )
        return next(s.note for s in statements if s.output == "churn_probability")

    assert "carried to the 273-day horizon" in note(273)
    assert "carried" not in note(71)
