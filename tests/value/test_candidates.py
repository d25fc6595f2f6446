"""Every learner fits and predicts, the choice follows the data, and class imbalance is
handled on the training rows only.

Fits use one thread (``n_jobs=1``): the frames are tiny, and OpenMP threads on a busy
machine spend far longer waiting on each other than working."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from synthetic import WINDOW
from synthetic import examples_frame as frame

from custintel.errors import ConfigError
from custintel.value import learners
from custintel.value import models as value_models
from custintel.value.models import (
    CANDIDATES,
    LEARNERS,
    TIES_MEAN,
    compare,
    fit_candidates,
    fit_churn,
)
from custintel.value.service import _needed, _next_order_dates


def splits(seed: int, n: int, **kwargs: Any) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    return tuple(frame(rng, n, **kwargs) for _ in range(3))


@pytest.mark.parametrize("learner", LEARNERS)
def test_each_learner_fits_and_predicts_non_negative_rates(learner: str) -> None:
    train, calibration, validation = splits(1, 800)
    models = fit_candidates(train, calibration, candidates=[learner], n_jobs=1)
    assert list(models.regressors["spend"]) == [learner]
    for target in ("spend", "orders"):
        predicted = models.predict(validation, target, WINDOW)
        assert list(predicted) == [learner]
        assert predicted[learner].shape == (len(validation),)
        assert np.isfinite(predicted[learner]).all()
        assert (predicted[learner] >= 0).all()
    churn = models.predict(validation, "churn", WINDOW)
    assert list(churn) == [learner]
    assert ((churn[learner] >= 0) & (churn[learner] <= 1)).all()
    assert models.classifier is models.churn.models[learner]  # type: ignore[union-attr]


def test_default_fits_every_candidate_and_compare_reports_them_all() -> None:
    train, calibration, validation = splits(2, 800)
    models = fit_candidates(train, calibration, n_jobs=1)
    assert models.candidates == CANDIDATES
    table = compare(models, validation, WINDOW)
    assert list(table["spend"]) == list(CANDIDATES)
    assert list(table["churn"]) == ["btyd", *LEARNERS, "blend"]
    spend = models.predict(validation, "spend", WINDOW)
    # Half BTYD, half the mean of the three tree learners; the same for churn.
    trees = (spend["gbm"] + spend["xgboost"] + spend["random_forest"]) / 3
    np.testing.assert_allclose(spend["blend"], (spend["btyd"] + trees) / 2)
    churn = models.predict(validation, "churn", WINDOW)
    trees = (churn["gbm"] + churn["xgboost"] + churn["random_forest"]) / 3
    np.testing.assert_allclose(churn["blend"], (churn["btyd"] + trees) / 2)
    # SHAP explains the LightGBM churn model.
    assert models.classifier is models.churn.models["gbm"]  # type: ignore[union-attr]


@pytest.mark.parametrize("learner", ["xgboost", "random_forest"])
@pytest.mark.parametrize("btyd_knows", [False, True], ids=["btyd_noise", "btyd_truth"])
def test_compare_chooses_the_candidate_built_to_be_better(learner: str, btyd_knows: bool) -> None:
    train, calibration, validation = splits(5, 3000, btyd_knows=btyd_knows)
    models = fit_candidates(train, calibration, candidates=["btyd", learner, "run_rate"], n_jobs=1)
    table = compare(models, validation, WINDOW)
    assert list(table["spend"]) == ["btyd", learner, "run_rate"]
    rmse = {name: m["rmse"] for name, m in table["spend"].items()}
    if btyd_knows:
        # BTYD's rate is the truth: the trees can at best match it.
        assert rmse["btyd"] <= rmse[learner] * 1.02
        assert models.chosen["spend"] == "btyd"
    else:
        # BTYD's rate is noise and the run rate is unrelated: the trees find the signal.
        assert rmse[learner] < 0.9 * min(rmse["btyd"], rmse["run_rate"])
        assert models.chosen["spend"] == learner
        # BTYD's churn score is noise too: its calibrated Brier is the base rate's.
        assert models.chosen["churn"] == learner


def test_order_days_nothing_foretells_are_timed_by_the_middle_of_the_window() -> None:
    """In the synthetic examples the day of the next order is drawn evenly over the
    window whatever the features: the trees cannot beat the midpoint baseline, which is
    off by about a quarter of the window, and the choice says so by choosing it."""
    train, calibration, validation = splits(3, 3000)
    models = fit_candidates(train, calibration, candidates=["btyd", "gbm"], n_jobs=1)
    table = compare(models, validation, WINDOW)
    assert set(table["next_order"]) == {"gbm", "btyd_rate", "usual_gap", "midpoint"}
    days = models.next_order_days(validation, WINDOW)["midpoint"]
    assert (days == (WINDOW - 1) / 2).all()
    assert table["next_order"]["midpoint"]["mae_days"] == pytest.approx(WINDOW / 4, abs=0.5)
    assert models.chosen["next_order"] == "midpoint"


def test_the_run_rate_is_last_years_spend_scaled_whatever_the_tenure() -> None:
    """A customer whose first order was yesterday is not handed that order as a daily
    rate: the baseline divides the last 365 days' spend by 365 for everyone."""
    train, calibration, validation = splits(3, 200)
    models = fit_candidates(train, calibration, candidates=["btyd", "gbm", "run_rate"], n_jobs=1)
    rows = validation.head(3).copy()
    rows["tenure_days"] = [1, 200, 2000]
    rows["spend_365d"] = [100.0, 100.0, 100.0]
    rows["orders_365d"] = [1, 1, 1]
    spend = models.predict(rows, "spend", 73, only="run_rate")["run_rate"]
    orders = models.predict(rows, "orders", 73, only="run_rate")["run_rate"]
    season = models.season(rows, "spend", 73)
    np.testing.assert_allclose(spend, 100.0 * 73 / 365 * season)
    np.testing.assert_allclose(orders, 73 / 365 * models.season(rows, "orders", 73))


def test_options_are_checked_with_named_values() -> None:
    train, calibration, _ = splits(3, 200)
    with pytest.raises(ConfigError, match="catboost"):
        fit_candidates(train, calibration, candidates=["gbm", "catboost"])
    with pytest.raises(ConfigError, match="'oversample'"):
        fit_candidates(train, calibration, imbalance="oversample")
    with pytest.raises(ConfigError, match="blend"):
        fit_candidates(train, calibration, candidates=["btyd", "blend"])
    with pytest.raises(ConfigError, match="blend"):
        fit_candidates(train, calibration, candidates=["xgboost", "blend"])
    with pytest.raises(ConfigError, match="no churn model"):
        fit_candidates(train, calibration, candidates=["run_rate", "rfm_cell"])


class Spy:
    """A stand-in churn classifier that records the rows it is fitted and asked on."""

    fitted: ClassVar[list[np.ndarray]] = []
    missing: ClassVar[list[bool]] = []
    asked: ClassVar[list[int]] = []

    def fit(self, features: pd.DataFrame, churned: np.ndarray) -> Spy:
        Spy.fitted.append(np.asarray(churned))
        Spy.missing.append(bool(features.isna().any().any()))
        self.rate = float(np.mean(churned))
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        Spy.asked.append(len(features))
        p = np.clip(features["signal"].to_numpy(float), 0, 1)
        return np.column_stack([1 - p, p])


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> type[Spy]:
    Spy.fitted, Spy.missing, Spy.asked = [], [], []
    monkeypatch.setattr(learners, "classifier", lambda *args, **kwargs: Spy())
    return Spy


def test_smote_balances_the_training_rows_and_nothing_else(spy: type[Spy]) -> None:
    train, calibration, validation = splits(4, 600)
    before = calibration.copy(), validation.copy()
    churned = train["churned"].to_numpy(bool)
    majority = max(churned.sum(), (~churned).sum())
    models = fit_candidates(
        train, calibration, candidates=["btyd", "gbm"], imbalance="smote", n_jobs=1
    )
    (seen,) = spy.fitted
    assert len(seen) == 2 * majority  # every original row, plus synthetic minority rows
    assert seen.sum() == majority  # balanced
    assert spy.missing == [False]  # SMOTE's rows are filled, and so are the others
    assert spy.asked == [len(calibration)]  # calibrated on the calibration rows, as given
    churn = models.predict(validation, "churn", WINDOW)
    assert spy.asked[-1] == len(validation)
    assert all(len(p) == len(validation) for p in churn.values())
    pd.testing.assert_frame_equal(calibration, before[0])
    pd.testing.assert_frame_equal(validation, before[1])
    assert models.churn is not None and "ipi_mean_days" in models.churn.fill


@pytest.mark.parametrize("imbalance", ["class_weight", "none"])
def test_without_smote_the_classifiers_see_the_training_rows(
    spy: type[Spy], imbalance: str
) -> None:
    train, calibration, _ = splits(4, 600)
    fit_candidates(train, calibration, candidates=["xgboost"], imbalance=imbalance, n_jobs=1)
    (seen,) = spy.fitted
    np.testing.assert_array_equal(seen, train["churned"].to_numpy(int))
    assert spy.missing == [True]  # missing values go to the trees as they are


def test_smote_rows_are_the_originals_plus_points_between_minority_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(6)
    train = frame(rng, 500)
    features = train[["signal", "recency_days", "ipi_mean_days"]]
    churned = train["churned"].to_numpy(bool)
    # A small neighbour pool, as a shop with a million customers gets.
    monkeypatch.setattr(learners, "SMOTE_POOL", 40)
    rows, labels, fill = learners.smote(features, churned, seed=0)
    assert np.bincount(labels).tolist() == [max(np.bincount(churned))] * 2
    filled = features.fillna(fill)
    pd.testing.assert_frame_equal(rows.iloc[: len(train)], filled.reset_index(drop=True))
    minority = int(np.argmin(np.bincount(churned)))
    synthetic = rows.iloc[len(train) :]
    assert (labels[len(train) :] == minority).all()
    own = filled[churned == minority]
    assert (synthetic.min() >= own.min() - 1e-9).all()
    assert (synthetic.max() <= own.max() + 1e-9).all()
    assert fill["ipi_mean_days"] == pytest.approx(features["ipi_mean_days"].median())


def test_class_weights_balance_each_learner() -> None:
    churned = np.array([1] * 80 + [0] * 20)
    xgb = learners.classifier("xgboost", churned, True)
    assert xgb.get_params()["scale_pos_weight"] == pytest.approx(20 / 80)
    assert learners.classifier("gbm", churned, True).get_params()["class_weight"] == ("balanced")
    forest = learners.classifier("random_forest", churned, True).get_params()
    assert forest["class_weight"] == "balanced"
    assert forest["max_samples"] == len(churned)  # at most FOREST_ROWS rows a tree
    assert learners.classifier("xgboost", churned, False).get_params()[
        "scale_pos_weight"
    ] == pytest.approx(1.0)


def test_smote_fit_churn_predicts_from_rows_with_missing_values() -> None:
    train, _, validation = splits(7, 600)
    fitted = fit_churn(
        train, value_models.feature_columns(train), learners=["gbm"], imbalance="smote", n_jobs=1
    )
    assert not fitted.inputs(validation).isna().any().any()
    scores = fitted.scores(validation)
    churned = validation["churned"].to_numpy(bool)
    # Churn falls with the signal; the raw score ranks customers that way.
    assert scores["gbm"][churned].mean() > scores["gbm"][~churned].mean()


@pytest.mark.parametrize("churned", [False, True])
def test_training_rows_of_one_class_fit_no_churn_learner(churned: bool) -> None:
    """Nobody churned in training (or everybody did): the learners would fail or
    mislead (LightGBM gives the one class seen a probability of 1e-15), so none is
    fitted, churn rests on BTYD, and there is no blend of learners to make. Where
    everybody churned nobody ordered, and the next order is timed by the baselines."""
    train, calibration, validation = splits(7, 600)
    train = train.assign(churned=churned)
    if churned:  # and so nobody ordered: no timing to learn either
        train = train.assign(days_to_next_order=np.nan)
    assert fit_churn(train, value_models.feature_columns(train), n_jobs=1).models == {}
    models = fit_candidates(train, calibration, n_jobs=1)
    assert set(models.predict(validation, "churn", WINDOW)) == {"btyd"}
    assert models.classifier is None
    timing = {"btyd_rate", "usual_gap", "midpoint"} | (set() if churned else {"gbm"})
    assert set(models.next_order_days(validation, WINDOW)) == timing
    compare(models, validation, WINDOW)  # the choice is made among what was fitted
    assert models.chosen["next_order"] in timing and models.chosen["churn"] == "btyd"


def test_the_regressors_learn_from_regression_rows_and_churn_from_train() -> None:
    train, calibration, validation = splits(7, 1500)
    later = train.assign(spend_rate=train["spend_rate"] * 3, orders_rate=train["orders_rate"] * 3)
    plain = fit_candidates(train, calibration, candidates=["btyd", "gbm"], n_jobs=1)
    refit = fit_candidates(
        train, calibration, candidates=["btyd", "gbm"], n_jobs=1, regression_rows=later
    )
    for target in ("spend", "orders"):
        ratio = (
            refit.predict(validation, target, WINDOW)["gbm"].sum()
            / plain.predict(validation, target, WINDOW)["gbm"].sum()
        )
        assert ratio == pytest.approx(3, rel=0.05)
    # The churn learners and their calibration do not see the regression rows.
    np.testing.assert_array_equal(
        refit.predict(validation, "churn", WINDOW)["gbm"],
        plain.predict(validation, "churn", WINDOW)["gbm"],
    )


def test_a_large_shop_blend_is_btyd_and_lightgbm() -> None:
    train, calibration, validation = splits(4, 800)
    models = fit_candidates(train, calibration, candidates=["btyd", "gbm", "blend"], n_jobs=1)
    spend = models.predict(validation, "spend", WINDOW)
    np.testing.assert_allclose(spend["blend"], (spend["btyd"] + spend["gbm"]) / 2)


def test_the_refit_keeps_every_candidate_the_chosen_one_averages() -> None:
    chosen = {"spend": "blend", "orders": "btyd", "churn": "btyd", "next_order": "gbm"}
    assert _needed(chosen, CANDIDATES) == ("btyd", *LEARNERS, "blend")
    assert _needed(chosen, ("btyd", "gbm", "blend", "run_rate")) == ("btyd", "gbm", "blend")
    plain = {"spend": "btyd", "orders": "btyd", "churn": "random_forest", "next_order": "gbm"}
    assert _needed(plain, CANDIDATES) == ("btyd", "gbm", "random_forest")
    # A mean of tied orders candidates needs each of them.
    mean = {"orders": TIES_MEAN, "churn": "btyd"}
    averaged = {"orders": ["random_forest", "run_rate"]}
    assert _needed(mean, CANDIDATES, averaged) == ("btyd", "gbm", "random_forest", "run_rate")


def test_predicting_the_chosen_candidate_asks_only_the_learners_it_rests_on() -> None:
    train, calibration, validation = splits(8, 800)
    models = fit_candidates(train, calibration, n_jobs=1)
    asked: list[str] = []
    for target in ("spend", "orders"):
        for name, model in models.regressors[target].items():
            original = model.predict

            def recorded(frame: pd.DataFrame, _name: str = name, _f: Any = original) -> Any:
                asked.append(_name)
                return _f(frame)

            model.predict = recorded
    everything = models.predict(validation, "spend", WINDOW)
    asked.clear()
    btyd = models.predict(validation, "spend", WINDOW, only="btyd")
    assert list(btyd) == ["btyd"] and asked == []
    np.testing.assert_array_equal(btyd["btyd"], everything["btyd"])
    blend = models.predict(validation, "spend", WINDOW, only="blend")
    assert sorted(asked) == sorted(LEARNERS)
    np.testing.assert_allclose(blend["blend"], everything["blend"])
    churn = models.predict(validation, "churn", WINDOW)
    assert models.predict(validation, "churn", WINDOW, only="random_forest").keys() == {
        "random_forest"
    }
    np.testing.assert_allclose(
        models.predict(validation, "churn", WINDOW, only="blend")["blend"], churn["blend"]
    )
    with pytest.raises(ConfigError, match="catboost"):
        models.predict(validation, "spend", WINDOW, only="catboost")


def with_outliers(frame: pd.DataFrame, rows: int, *, marked: bool = True) -> pd.DataFrame:
    """``frame`` whose first ``rows`` customers each spent a million in the window (a
    wholesale account in a retail shop), marked ``outlying`` as examples() marks
    customers past 1,000 times the median's spend (or not, with ``marked=False``)."""
    out = frame.copy()
    out["outlying"] = False
    whales = out.index[:rows]
    out.loc[whales, "spend"] = 1e6
    out.loc[whales, "spend_rate"] = 1e6 / WINDOW
    out.loc[whales, "btyd_spend_rate"] = 0.9e6 / WINDOW
    out.loc[whales, "spend_365d"] = 1e7
    out.loc[whales, "outlying"] = marked
    return out


def test_outlying_customers_are_left_to_btyd_and_out_of_the_spend_choice() -> None:
    """A few customers spending a million among customers spending tens: the spend
    learners do not learn from them, every candidate gives them BTYD's spend, and the
    spend comparison (and so the choice) is the one made without them. Unmarked, the
    same rows pull the learners' predictions for everyone else."""
    train, calibration, validation = splits(5, 3000)
    ordinary = validation.iloc[5:]
    candidates = ["btyd", "gbm", "blend", "run_rate", "rfm_cell"]
    plain = fit_candidates(train.iloc[20:], calibration, candidates=candidates, n_jobs=1)
    marked = fit_candidates(with_outliers(train, 20), calibration, candidates=candidates, n_jobs=1)
    unmarked = fit_candidates(
        with_outliers(train, 20, marked=False), calibration, candidates=candidates, n_jobs=1
    )
    assert "outlying" not in marked.features
    learnt = marked.predict(ordinary, "spend", WINDOW)
    np.testing.assert_allclose(learnt["gbm"], plain.predict(ordinary, "spend", WINDOW)["gbm"])
    pulled = unmarked.predict(ordinary, "spend", WINDOW)
    assert np.abs(pulled["gbm"] - learnt["gbm"]).max() > 1.0
    # The cells' edges still count every customer; their spend rates leave the outliers out.
    assert learnt["rfm_cell"].max() < 100 < pulled["rfm_cell"].max()
    # The orders models still learn from every row: an outlier's orders are ordinary.
    np.testing.assert_allclose(
        marked.predict(ordinary, "orders", WINDOW)["gbm"],
        unmarked.predict(ordinary, "orders", WINDOW)["gbm"],
    )
    checked = with_outliers(validation, 5)
    spend = marked.predict(checked, "spend", WINDOW)
    for name in candidates:
        np.testing.assert_allclose(spend[name][:5], spend["btyd"][:5])
    assert spend["btyd"][:5] == pytest.approx(0.9e6)
    table = compare(marked, checked, WINDOW)
    alone = compare(marked, ordinary, WINDOW)
    assert table["spend"] == alone["spend"]
    assert table["spend"]["gbm"]["rmse"] < 100  # the million-spenders' errors are not in it
    assert marked.chosen["spend"] == "gbm"


def test_orders_times_value_is_the_blends_orders_at_btyds_order_value() -> None:
    """Spend as how often times how much: the blend's expected orders times BTYD's
    expected spend over its expected orders (0 where BTYD expects no orders); for spend
    only, and outlying customers keep BTYD's spend as every candidate gives them."""
    train, calibration, validation = splits(12, 800)
    validation = validation.copy()
    validation.loc[:4, "btyd_orders_rate"] = 0.0
    validation["outlying"] = False
    validation.loc[10, "outlying"] = True
    models = fit_candidates(train, calibration, n_jobs=1)
    spend = models.predict(validation, "spend", WINDOW)
    orders = models.predict(validation, "orders", WINDOW)
    assert "orders_x_value" not in orders
    value = validation["btyd_spend_rate"] / validation["btyd_orders_rate"]
    expected = np.where(validation["btyd_orders_rate"] > 0, orders["blend"] * value, 0.0)
    expected[10] = spend["btyd"][10]
    np.testing.assert_allclose(spend["orders_x_value"], expected)
    assert (spend["orders_x_value"][:5] == 0).all()
    alone = models.predict(validation, "spend", WINDOW, only="orders_x_value")
    np.testing.assert_allclose(alone["orders_x_value"], spend["orders_x_value"])
    with pytest.raises(ConfigError, match="orders_x_value"):
        fit_candidates(train, calibration, candidates=["btyd", "orders_x_value"])


def test_the_refit_keeps_every_learner_orders_times_value_rests_on() -> None:
    chosen = {"spend": "orders_x_value", "orders": "btyd", "churn": "btyd", "next_order": "gbm"}
    assert _needed(chosen, CANDIDATES) == ("btyd", *LEARNERS, "orders_x_value")


def test_next_order_dates_are_predicted_only_for_the_likely_buyers() -> None:
    """A date for each customer more likely than not to order within the horizon, the
    same as predicting everyone would give them; None for the others, whose rows are
    not predicted at all."""
    train, calibration, validation = splits(13, 800)
    models = fit_candidates(train, calibration, candidates=["btyd", "gbm"], n_jobs=1)
    models.chosen = {"next_order": "gbm"}
    churn = np.linspace(0, 1, len(validation))
    starts = [date(2024, 1, 1) + timedelta(days=i % 7) for i in range(len(validation))]
    dates = _next_order_dates(models, validation, starts, WINDOW, churn)
    everyone = models.next_order_days(validation, WINDOW)["gbm"]
    likely = churn < 0.5
    assert all(d is None for d in dates[~likely])
    assert list(dates[likely]) == [
        (start + timedelta(days=round(float(days)))).isoformat()
        for start, days, ok in zip(starts, everyone, likely, strict=True)
        if ok
    ]
    nobody = _next_order_dates(models, validation, starts, WINDOW, np.ones(len(validation)))
    assert all(d is None for d in nobody)


def _along(frame: pd.DataFrame, column: str, values: np.ndarray) -> pd.DataFrame:
    """Each row of ``frame`` repeated once per value of ``column`` (rows in blocks)."""
    rows = frame.loc[frame.index.repeat(len(values))].reset_index(drop=True)
    rows[column] = np.tile(values, len(frame))
    return rows


@pytest.mark.parametrize("learner", ["gbm", "xgboost"])
def test_spend_and_orders_only_rise_with_orders_so_far_and_fall_with_silence(
    learner: str,
) -> None:
    """Spend here depends on ``signal`` alone: frequency and recency are noise, which an
    unconstrained tree follows up and down. The regressors may only rise with the orders
    so far and BTYD's rates and only fall with the days since the last order."""
    train, calibration, validation = splits(7, 1500)
    models = fit_candidates(train, calibration, candidates=["btyd", learner], n_jobs=1)
    customers = validation.head(40)
    for column, values, way in (
        ("frequency", np.arange(1.0, 10.0), 1),
        ("btyd_spend_rate", np.linspace(0, 3, 9), 1),
        ("recency_days", np.linspace(1, 300, 9), -1),
    ):
        rows = _along(customers, column, values)
        for target in ("spend", "orders"):
            if target == "orders" and column == "btyd_spend_rate":
                continue  # orders are free to go either way with spend
            predicted = models.predict(rows, target, WINDOW, only=learner)[learner]
            steps = np.diff(predicted.reshape(len(customers), len(values)), axis=1) * way
            assert (steps >= -1e-9).all(), (column, target)


def test_monotone_directions_name_each_feature_and_leave_the_rest_free() -> None:
    features = ["frequency", "recency_days", "monetary", "tenure_days", "btyd_p_alive"]
    assert learners.monotone_directions(features, "spend") == [1, -1, 1, 0, 1]
    assert learners.monotone_directions(features, "orders") == [1, -1, 0, 0, 1]
    assert learners.monotone_directions(features, "next_order") is None


def test_the_next_order_is_learnt_by_its_median() -> None:
    # Skewed times to a next order: two kinds of customer, each waiting an exponential
    # share of the window. The dates are judged by mean absolute error, which the median
    # of each kind's share minimises, not its mean (1.44 times the median).
    rng = np.random.default_rng(3)
    n = 20_000
    frequent = rng.uniform(size=n) < 0.5
    share = np.clip(rng.exponential(np.where(frequent, 0.1, 0.3)), 0, 1)
    rows = pd.DataFrame({"frequent": frequent.astype(float), "noise": rng.normal(size=n)})
    model = learners.regressor("gbm", n, seed=0, objective=value_models.NEXT_ORDER_OBJECTIVE).fit(
        rows, share
    )
    for kind in (True, False):
        guess = model.predict(pd.DataFrame({"frequent": [float(kind)], "noise": [0.0]}))[0]
        median = np.median(share[frequent == kind])
        assert guess == pytest.approx(median, rel=0.1)
        assert guess < 0.85 * share[frequent == kind].mean()


def _first_order_days(rng: np.random.Generator, rate: np.ndarray, horizon: int) -> np.ndarray:
    """The day of each customer's first order at ``rate`` a day, drawn until it falls
    within the horizon: what an order inside the window looks like at that rate."""
    days = np.floor(rng.exponential(1 / rate))
    late = days >= horizon
    while late.any():
        days[late] = np.floor(rng.exponential(1 / rate[late]))
        late = days >= horizon
    return days


@pytest.mark.parametrize("rate", [0.005, 0.05, 0.3])
def test_btyds_next_order_day_is_the_median_of_a_first_order_at_its_rate(rate: float) -> None:
    # Active with probability 0.4 and ordering at ``rate`` a day while active: BTYD's
    # expected rate is 0.4 x rate. The median day minimises the mean absolute error.
    rng = np.random.default_rng(11)
    days = _first_order_days(rng, np.full(50_000, rate), WINDOW)
    rows = pd.DataFrame({"btyd_orders_rate": [0.4 * rate], "btyd_p_alive": [0.4]})
    guess = value_models.btyd_next_order_days(rows, WINDOW)[0]
    best = np.mean(np.abs(days - np.median(days)))
    assert np.mean(np.abs(days - guess)) <= best + 0.05
    assert 0 <= guess <= (WINDOW - 1) / 2


def test_btyd_gives_no_timing_where_it_knows_nothing_of_the_customer() -> None:
    rows = pd.DataFrame(
        {"btyd_orders_rate": [np.nan, 0.0, 0.1], "btyd_p_alive": [np.nan, 1.0, 0.0]}
    )
    days = value_models.btyd_next_order_days(rows, WINDOW)
    assert (days == (WINDOW - 1) / 2).all()


def test_the_choice_times_orders_by_btyd_where_they_come_at_its_rate() -> None:
    """The trees learn from training windows whose order days are spread evenly; in the
    validation window each customer's first order comes at BTYD's rate while active,
    and the choice follows the validation."""
    train, calibration, validation = splits(17, 3000)
    ordered = validation["days_to_next_order"].notna().to_numpy()
    rate = (validation["btyd_orders_rate"] / validation["btyd_p_alive"]).to_numpy(float)
    rng = np.random.default_rng(17)
    days = validation["days_to_next_order"].to_numpy(float, copy=True)
    days[ordered] = _first_order_days(rng, rate[ordered], WINDOW)
    validation = validation.assign(days_to_next_order=days)
    models = fit_candidates(train, calibration, candidates=["btyd", "gbm"], n_jobs=1)
    table = compare(models, validation, WINDOW)
    mae = {name: measured["mae_days"] for name, measured in table["next_order"].items()}
    assert models.chosen["next_order"] == "btyd_rate"
    assert mae["btyd_rate"] < 0.8 * mae["midpoint"]
