"""Churn explanations: LightGBM's own TreeSHAP equals the shap package's, in words."""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from custintel.value.explain import (
    PATTERN_ROWS,
    _in_words,
    _lightgbm_by_pattern,
    _shap_values,
    _top_factors,
    describe,
    explain_churn,
)


def churn_data(n: int = 2000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "recency_days": rng.uniform(0, 300, n),
            "frequency": rng.poisson(3, n).astype(float),
            "monetary": rng.gamma(2, 50, n),
        }
    )
    logit = frame["recency_days"] / 60 - frame["frequency"] / 2 - 1
    churned = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, churned


def test_lightgbm_contributions_are_the_shap_packages_values() -> None:
    frame, churned = churn_data()
    model = lgb.LGBMClassifier(n_estimators=50, num_leaves=7, verbose=-1).fit(frame, churned)
    ours = _shap_values(model, frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import shap

        reference = np.asarray(shap.TreeExplainer(model).shap_values(frame), float)
    if reference.ndim == 3:
        reference = reference[:, :, 1]
    np.testing.assert_allclose(ours, reference, atol=1e-6)


def test_top_factors_name_the_strongest_feature_with_its_direction() -> None:
    frame, churned = churn_data()
    model = lgb.LGBMClassifier(n_estimators=50, num_leaves=7, verbose=-1).fit(frame, churned)
    late = frame.assign(recency_days=290.0, frequency=1.0).head(1)
    texts, importance = explain_churn(model, late, list(frame.columns))
    assert texts[0].startswith("last order 290 days ago (raises churn risk)")
    assert next(iter(importance)) in {"recency_days", "frequency"}


def test_an_at_risk_customer_reads_first_what_raises_the_risk() -> None:
    frame, churned = churn_data()
    model = lgb.LGBMClassifier(n_estimators=50, num_leaves=7, verbose=-1).fit(frame, churned)
    # 12 orders lower the risk far more than a 200-day silence and the spend raise it
    row = frame.head(1).assign(recency_days=200.0, frequency=12.0)
    values = _shap_values(model, row)[0]
    assert values[1] < -abs(values[0]) and values[0] > 0 and values[2] > 0
    columns = list(frame.columns)
    by_size, _ = explain_churn(model, row, columns)
    assert by_size[0].startswith("12 orders so far (lowers churn risk)")
    leaving, _ = explain_churn(model, row, columns, at_risk=np.array([True]))
    parts = leaving[0].split("; ")
    # both raising factors first, the larger of them first, then the lowering one
    assert [p.endswith("(raises churn risk)") for p in parts] == [True, True, False]
    assert parts[0] == describe(
        columns[int(np.argmax(values))], row.iloc[0, int(np.argmax(values))]
    ) + (" (raises churn risk)")
    staying, _ = explain_churn(model, row, columns, at_risk=np.array([False]))
    assert staying == by_size  # the one lowering factor is also the largest
    # with one factor to show, an at-risk customer's is the largest raising one
    one, _ = explain_churn(model, row, columns, top=1, at_risk=np.array([True]))
    assert one[0] == parts[0]


def test_features_missing_for_one_reason_are_named_once() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    one_day = rng.uniform(size=n) < 0.4  # bought on one day: no gaps to measure
    gap = np.where(one_day, np.nan, rng.uniform(5, 90, n))
    recency = rng.uniform(0, 300, n).round()
    frame = pd.DataFrame(
        {
            "ipi_mean_days": gap,
            "ipi_std_days": np.where(one_day, np.nan, gap / 3),
            "recency_vs_usual": np.where(one_day, np.nan, rng.uniform(0, 5, n)),
            "recency_days": recency,
            "frequency": np.where(one_day, 1.0, rng.poisson(4, n) + 2.0),
            "monetary": rng.gamma(2, 50, n),
            # the first order of a customer who bought on one day was their last
            "tenure_days": np.where(one_day, recency, recency + rng.uniform(10, 700, n)),
        }
    )
    churned = (rng.uniform(size=n) < np.where(one_day, 0.8, 0.3)).astype(int)
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=7, verbose=-1).fit(frame, churned)
    texts, _ = explain_churn(model, frame, list(frame.columns))
    for text, single in zip(texts, one_day, strict=True):
        parts = text.split("; ")
        assert len(parts) == 3
        phrases = [p.rsplit(" (", 1)[0] for p in parts]
        assert len(set(phrases)) == 3  # no reason said twice
        # the five timing features are one reason, led by the last order and usual gap
        timing = [p for p in phrases if "last order" in p or "gap" in p or "customer for" in p]
        assert len(timing) <= 1
        if single:
            assert text.count("no repeat purchase yet") <= 1
            assert all(p.startswith("last order ") for p in timing)
            # and the tenure, equal to the last order's days, is not said again
            assert all(p.endswith(", no repeat purchase yet") for p in timing)
    assert any("no repeat purchase yet" in t for t in texts)
    assert any("customer for" in t for t in texts)


def test_a_reason_is_named_once_with_its_figures_pointing_its_way() -> None:
    features = ["btyd_p_alive", "btyd_orders_rate", "btyd_spend_rate", "tenure_days", "frequency"]
    data = np.array([[0.2, 0.001, 0.5, 700.0, 5.0]])
    # by feature, BTYD's outputs fill two of three places; by reason, one
    values = np.array([[0.3, 0.25, -0.05, 0.2, 0.1]])
    (by_feature,) = _in_words(values, data, features, 3, by_reason=False)
    assert by_feature == (
        "P(active) 20% by the BTYD model (raises churn risk); 0.03 expected orders a month "
        "by the BTYD model (raises churn risk); customer for 700 days (raises churn risk)"
    )
    (by_reason,) = _in_words(values, data, features, 3)
    assert by_reason == (
        "P(active) 20%, 0.03 expected orders a month by the BTYD model (raises churn risk); "
        "customer for 700 days (raises churn risk); 5 orders so far (raises churn risk)"
    )
    # a reason is named at its largest feature, with that feature's direction, and its
    # words leave out the figure pointing the other way (the spend a month lowers it)
    (staying,) = _in_words(values, data, features, 3, np.array([False]))
    assert staying.startswith("15.00 expected spend a month by the BTYD model (lowers churn risk)")
    factors = _top_factors(values, data, features, 3)[0]
    assert [f.named for f in factors] == [(0, 1), (3,), (4,)]
    assert [f.raises for f in factors] == [True, True, True]


def test_timing_reads_as_the_last_order_and_the_usual_gap() -> None:
    features = ["recency_days", "recency_vs_usual", "ipi_mean_days", "ipi_std_days", "monetary"]
    data = np.array([[94.0, 94 / 31, 31.0, 12.0, 300.0]])
    # the multiple of the usual gap contributes most; the lead figures say it already
    values = np.array([[0.2, 0.6, 0.1, 0.0, -0.1]])
    (text,) = _in_words(values, data, features, 1)
    assert text == "last order 94 days ago, usual gap between orders 31 days (raises churn risk)"
    # a spread of the gaps that raises the risk is said after them
    values = np.array([[0.2, 0.1, 0.1, 0.5, -0.1]])
    (text,) = _in_words(values, data, features, 1)
    assert text == (
        "last order 94 days ago, usual gap between orders 31 days, gaps between orders "
        "vary by 12 days (raises churn risk)"
    )


def test_the_tenure_of_a_one_day_buyer_is_said_by_the_last_order() -> None:
    features = ["tenure_days", "recency_days", "ipi_mean_days", "monetary"]
    one_day = [300.0, 300.0, np.nan, 50.0]
    repeat = [700.0, 300.0, 90.0, 50.0]
    values = np.array([[0.6, 0.3, 0.1, 0.2]] * 2)
    factors = _top_factors(values, np.array([one_day, repeat]), features, 2)
    assert [f.words for f in factors[0]] == [
        "last order 300 days ago, no repeat purchase yet",
        "spent 50.00 so far",
    ]
    # the words say the tenure without naming it: it counts among the figures named
    assert factors[0][0].named == (1, 2, 0)
    assert factors[1][0].words == (
        "last order 300 days ago, usual gap between orders 90 days, customer for 700 days"
    )
    assert factors[1][0].named == (1, 2, 0)


def test_a_customer_without_a_purchase_still_reads_three_reasons() -> None:
    # only cancelled orders: every share is missing and reads "no completed purchase yet";
    # the twenty shares contribute most, so two of the three reasons lie past them
    shares = [f"share__c{k}" for k in range(20)]
    features = [*shares, "recency_days", "frequency", "tenure_days"]
    data = np.array([[np.nan] * 20 + [40.0, 0.0, 90.0]])
    values = np.array([[*np.linspace(0.9, 0.5, 20), 0.3, 0.2, -0.1]])
    (text,) = _in_words(values, data, features, 3, np.array([True]))
    assert text == (
        "no completed purchase yet (raises churn risk); last order 40 days ago (raises "
        "churn risk); no orders so far (raises churn risk)"
    )


def test_a_zero_reads_as_none_and_refunds_beyond_spend_as_such() -> None:
    assert describe("orders_90d", 0.0) == "no orders in the last 90 days"
    assert describe("spend_90d", 0.0) == "no spend in the last 90 days"
    assert describe("spend__beauty", 0.0) == "no spend on beauty"
    assert describe("share__beauty", 0.0) == "no spend on beauty"
    assert describe("cancelled_count", 0.0) == "no cancelled orders"
    assert describe("spend_90d", -31.99) == "refunded 31.99 more than spent in the last 90 days"
    assert describe("monetary", -5.0) == "refunded 5.00 more than spent so far"
    assert describe("monetary", 1234.5) == "spent 1,234.50 so far"
    # a reason's figures that read alike at 0 are said once
    features = ["refund_count", "refund_amount", "tenure_days"]
    data = np.array([[0.0, 0.0, 300.0]])
    (text,) = _in_words(np.array([[0.5, 0.4, 0.1]]), data, features, 2)
    assert text == "no refunds (raises churn risk); customer for 300 days (raises churn risk)"


def test_a_zero_that_stands_for_another_figure_reads_as_that_figure() -> None:
    features = ["order_value_std", "monetary_mean", "trend_90d", "spend_90d", "frequency"]
    # one order: its values cannot vary; two empty 90-day windows: no trend to speak of
    one_order = [0.0, 40.0, 0.0, 0.0, 1.0]
    # three orders of one value, and as much spent in both windows
    alike = [0.0, 40.0, 0.0, 40.0, 3.0]
    values = np.array([[0.5, 0.3, 0.4, 0.1, 0.05]] * 2)
    texts = _in_words(values, np.array([one_order, alike]), features, 2)
    assert texts == [
        "a single order so far, 40.00 per order on average (raises churn risk); "
        "no spend in the last 180 days (raises churn risk)",
        "order values vary by 0.00, 40.00 per order on average (raises churn risk); "
        "spent as much in the last 90 days as in the 90 before, spent 40.00 in the last "
        "90 days (raises churn risk)",
    ]
    # an empty window says every shorter one of its kind is empty too
    features = ["orders_90d", "orders_365d", "spend_30d", "tenure_days"]
    data = np.array([[0.0, 0.0, 0.0, 400.0], [0.0, 2.0, 0.0, 400.0]])
    values = np.array([[0.5, 0.4, 0.3, 0.1]] * 2)
    assert _in_words(values, data, features, 2) == [
        "no orders in the last 365 days (raises churn risk); no spend in the last 30 days "
        "(raises churn risk)",
        "no orders in the last 90 days, 2 orders in the last 365 days (raises churn risk); "
        "no spend in the last 30 days (raises churn risk)",
    ]
    assert describe("ipi_std_days", 0.0, context=2.0) == "a single gap between orders so far"
    assert describe("ipi_std_days", 0.0) == "gaps between orders vary by 0 days"


def test_other_tree_models_are_explained_by_the_shap_package() -> None:
    frame, churned = churn_data(500)
    forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    forest.fit(frame, churned)
    values = _shap_values(forest, frame.head(20))
    assert values.shape == (20, 3)
    # SHAP values add up to the prediction minus one base value shared by every row
    predicted = forest.predict_proba(frame.head(20))[:, 1]
    assert np.ptp(predicted - values.sum(axis=1)) < 1e-6


def test_a_limit_explains_the_rows_of_highest_priority_only() -> None:
    frame, churned = churn_data()
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=7, verbose=-1).fit(frame, churned)
    priority = np.arange(len(frame), dtype=float)[::-1]  # the first rows matter most
    texts, importance = explain_churn(
        model, frame, list(frame.columns), priority=priority, limit=25, importance_rows=300
    )
    assert all(text for text in texts[:25])
    assert texts[25:] == [None] * (len(frame) - 25)
    # the same words as explaining those rows alone
    alone, _ = explain_churn(model, frame.head(25), list(frame.columns))
    assert texts[:25] == alone
    # importance still covers every feature, from the uniform sample of 300 rows
    assert set(importance) == set(frame.columns) and all(v >= 0 for v in importance.values())
    sample = np.sort(np.random.default_rng(0).choice(len(frame), 300, replace=False))
    _, of_sample = explain_churn(model, frame.iloc[sample], list(frame.columns))
    assert importance == pytest.approx(of_sample)


def test_each_factor_reads_as_its_own_description_missing_values_included() -> None:
    frame, churned = awkward_data(3000)
    frame["recency_days"] = frame["recency_days"].round()  # repeated values, described once
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=7, verbose=-1).fit(frame, churned)
    features = list(frame.columns)
    texts, _ = explain_churn(model, frame, features, top=2)
    values = _shap_values(model, frame)
    assert any("no gap days yet" in text for text in texts)
    for i in (0, 1, 2, 500, 2999):
        order = np.argsort(-np.abs(values[i]))[:2]
        expected = "; ".join(
            f"{describe(features[j], frame.iloc[i, j])} "
            f"({'raises' if values[i, j] > 0 else 'lowers'} churn risk)"
            for j in order
        )
        assert texts[i] == expected


def awkward_data(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn data with what LightGBM routes apart from the thresholds: missing values
    seen in training, missing values only at prediction, and exact zeros."""
    frame, churned = churn_data(n)
    rng = np.random.default_rng(1)
    frame["gap_days"] = np.where(rng.uniform(size=n) < 0.3, np.nan, rng.gamma(2, 20, n))
    frame["refunds"] = np.where(rng.uniform(size=n) < 0.5, 0.0, rng.poisson(2, n))
    return frame, churned


def test_contributions_by_split_pattern_equal_lightgbms_on_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame, churned = awkward_data(6000)
    train, scored = frame.iloc[:3000].copy(), frame.iloc[3000:].copy()
    train["monetary"] = train["monetary"].fillna(0)  # no missing values in training...
    scored.loc[scored.index[::7], "monetary"] = np.nan  # ...but some at prediction
    model = lgb.LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1)
    model.fit(train, churned[:3000])
    expected = model.booster_.predict(scored, pred_contrib=True)
    trees_asked = []
    predict = lgb.Booster.predict

    def recorded(self: lgb.Booster, data: object, **kwargs: object) -> object:
        trees_asked.append(kwargs.get("start_iteration"))
        return predict(self, data, **kwargs)

    monkeypatch.setattr(lgb.Booster, "predict", recorded)
    by_pattern = _lightgbm_by_pattern(model.booster_, scored)
    assert trees_asked == list(range(model.booster_.num_trees()))  # one tree at a time
    np.testing.assert_allclose(by_pattern, expected, rtol=0, atol=1e-9)
    # explaining a scoring run's many rows takes this way, with the same values
    assert len(scored) >= PATTERN_ROWS
    np.testing.assert_allclose(_shap_values(model, scored), expected[:, :-1], atol=1e-9)


def test_trees_a_pattern_key_cannot_hold_are_explained_row_by_row() -> None:
    frame, churned = awkward_data(3000)
    frame["region"] = pd.Categorical(np.resize(["north", "south", "east"], len(frame)))
    for model in (
        # categorical splits
        lgb.LGBMClassifier(n_estimators=20, num_leaves=7, min_child_samples=5, verbose=-1),
        # more splits a tree than one 64-bit key holds
        lgb.LGBMClassifier(n_estimators=20, num_leaves=40, min_child_samples=5, verbose=-1),
    ):
        model.fit(frame, churned)
        expected = model.booster_.predict(frame, pred_contrib=True)
        np.testing.assert_allclose(_lightgbm_by_pattern(model.booster_, frame), expected)


class TwoChurnModels:
    """A fitted-models stand-in for ``factor_agreement``: the churn probability of
    the explained model ("gbm") is a fixed function of recency, and the chosen one
    ("btyd") is the served probability itself."""

    window_days = 30
    explained = "gbm"

    def __init__(self, chosen: str, explained_churn: object) -> None:
        self.chosen = {"churn": chosen}
        self.explained_churn = explained_churn

    def predict(
        self, frame: pd.DataFrame, target: str, horizon_days: int, *, only: str
    ) -> dict[str, np.ndarray]:
        assert target == "churn" and only == "gbm"
        return {"gbm": self.explained_churn(frame["recency_days"].to_numpy(float))}


@pytest.mark.parametrize(("direction", "expected"), [(1, 1.0), (-1, -1.0)])
def test_factor_agreement_ranks_the_sample_against_the_same_customers(
    direction: int, expected: float
) -> None:
    """Sampled customers are compared with their own served probabilities: a served
    ranking the explained model shares gives +1, a reversed one -1 (misaligned rows
    would give about 0)."""
    from custintel.value.service import factor_agreement

    frame, _ = churn_data(5000)
    served = 1 / (1 + np.exp(-direction * (frame["recency_days"].to_numpy() / 60 - 2)))
    models = TwoChurnModels("btyd", lambda recency: recency / 300)
    out = factor_agreement(
        models,
        frame,
        pd.DataFrame(),
        None,
        30,
        served,
        sample=1000,
    )
    assert out is not None and out["spearman"] == pytest.approx(expected)
    assert (out["model"], out["chosen"], out["customers"]) == ("gbm", "btyd", 1000)


def test_factor_agreement_is_one_when_the_explained_model_is_the_chosen() -> None:
    from custintel.value.service import factor_agreement

    frame, _ = churn_data(50)
    models = TwoChurnModels("gbm", lambda recency: pytest.fail("nothing to compare"))
    out = factor_agreement(models, frame, pd.DataFrame(), None, 30, np.zeros(50))
    assert out == {"model": "gbm", "chosen": "gbm", "spearman": 1.0, "customers": 50}
