"""Labels see only their window; value metrics on hand-computed cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from custintel.errors import NotEnoughData
from custintel.features.customer import OTHER, category_slugs
from custintel.value.labels import labels, plan_cutoffs
from custintel.value.metrics import (
    chosen_ranking_p,
    churn_metrics,
    normalised_gini,
    reliability_table,
    spearman,
    spend_metrics,
    timing_p,
    within_noise,
)
from custintel.value.models import realised_by_category


def orders_con(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE orders (customer_id VARCHAR, order_id VARCHAR, ordered_at TIMESTAMP, "
        "amount DOUBLE, net_amount DOUBLE, kind VARCHAR, category VARCHAR)"
    )
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return con


ROWS = [
    ("a", "o1", datetime(2024, 1, 5), 10.0, 10.0, "sale", "books"),
    ("a", "o2", datetime(2024, 2, 1, 0, 0), 20.0, 20.0, "sale", "books"),  # on the cutoff
    ("a", "o3", datetime(2024, 2, 10), 5.0, 5.0, "sale", "toys"),
    ("a", "o3", datetime(2024, 2, 10), 7.0, 7.0, "sale", "books"),  # same order, 2 lines
    ("a", "o4", datetime(2024, 3, 1, 23, 59), 99.0, 99.0, "sale", "toys"),  # after window
    ("b", "o5", datetime(2024, 1, 20), 30.0, 30.0, "sale", "toys"),
    ("b", "o6", datetime(2024, 2, 15), -30.0, -30.0, "return", "toys"),
    ("c", "o7", datetime(2024, 2, 20), 50.0, 50.0, "sale", "toys"),  # new after the cutoff
]


def test_labels_count_only_the_window_after_the_cutoff() -> None:
    con = orders_con(ROWS)
    out = labels(con, [date(2024, 2, 1)], 29, categories=["books", "toys"]).set_index("customer_id")
    # c first ordered after the cutoff: not a known customer, no row.
    assert list(out.index) == ["a", "b"]
    # a: o2 (on the cutoff day, inside), o3 (two lines, one order); o4 is day 29: outside.
    assert out.loc["a", "spend"] == pytest.approx(32.0)
    assert out.loc["a", "orders"] == 2
    assert out.loc["a", "days_to_next_order"] == 0
    assert out.loc["a", "next_spend__books"] == pytest.approx(27.0)
    assert out.loc["a", "next_spend__toys"] == pytest.approx(5.0)
    assert not out.loc["a", "churned"]
    # b only returned something: spend -30, no order, churned.
    assert out.loc["b", "spend"] == pytest.approx(-30.0)
    assert out.loc["b", "orders"] == 0
    assert out.loc["b", "churned"]
    assert pd.isna(out.loc["b", "days_to_next_order"])


def test_labels_name_the_categories_as_the_features_do() -> None:
    """A category named "Other", and two whose names slug alike, get the feature
    columns' slugs (other_2, home_garden_2): ``other`` is the rest, lines without a
    category included, the realised total less the named categories."""
    named = ["Other", "Home & Garden", "Home - Garden"]
    rows = [
        ("a", "o1", datetime(2024, 1, 5), 10.0, 10.0, "sale", "Other"),
        ("a", "o2", datetime(2024, 2, 3), 4.0, 4.0, "sale", "Other"),
        ("a", "o2", datetime(2024, 2, 3), 6.0, 6.0, "sale", "Home & Garden"),
        ("a", "o2", datetime(2024, 2, 3), 8.0, 8.0, "sale", "Home - Garden"),
        ("a", "o2", datetime(2024, 2, 3), 3.0, 3.0, "sale", None),
    ]
    out = labels(orders_con(rows), [date(2024, 2, 1)], 29, categories=named)
    slugs = category_slugs(named)
    assert slugs == ["other_2", "home_garden", "home_garden_2"]
    assert [c for c in out if c.startswith("next_spend__")] == [f"next_spend__{x}" for x in slugs]
    assert out.loc[
        0, ["next_spend__other_2", "next_spend__home_garden", "next_spend__home_garden_2"]
    ].tolist() == [4.0, 6.0, 8.0]
    shares = pd.DataFrame({f"share__{x}": [0.25] for x in [*slugs, OTHER]})
    realised = realised_by_category(pd.concat([out, shares], axis=1))
    assert realised.loc[0].tolist() == pytest.approx([4.0, 6.0, 8.0, 3.0])


def test_a_row_moved_across_the_window_end_changes_the_label() -> None:
    inside = labels(orders_con(ROWS), [date(2024, 2, 1)], 30).set_index("customer_id")
    assert inside.loc["a", "spend"] == pytest.approx(32.0 + 99.0)  # o4 now on day 29
    later = [r if r[1] != "o2" else (*r[:2], datetime(2024, 3, 5), *r[3:]) for r in ROWS]
    moved = labels(orders_con(later), [date(2024, 2, 1)], 29).set_index("customer_id")
    assert moved.loc["a", "spend"] == pytest.approx(12.0)


def test_plan_keeps_every_training_window_before_calibration_and_validation() -> None:
    plan = plan_cutoffs(date(2023, 1, 1), date(2024, 1, 1), 30)
    assert plan.window_days == 30 and plan.note is None
    assert plan.validation == (date(2023, 12, 2), 30)
    assert plan.calibration == (date(2023, 11, 2), 30)
    assert len(plan.train) == 4 and plan.train == sorted(plan.train)
    for cutoff, window in plan.train:
        assert cutoff + timedelta(days=window) <= plan.calibration[0]


def test_plan_shortens_windows_on_a_short_history_and_says_so() -> None:
    # CDNOW's calibration period: 273 days of history, a 273-day horizon asked for.
    plan = plan_cutoffs(date(1997, 1, 1), date(1997, 10, 1), 273)
    assert plan.window_days == (273 - 60) // 3
    assert plan.note and "71-day" in plan.note
    assert plan.validation[0] + timedelta(days=plan.window_days) == date(1997, 10, 1)
    assert all(c >= date(1997, 3, 2) for c, _ in plan.train)
    with pytest.raises(NotEnoughData, match="too short"):
        plan_cutoffs(date(2023, 11, 1), date(2024, 1, 1), 30)


def test_a_horizon_shorter_than_two_weeks_is_checked_on_windows_of_its_length() -> None:
    """`score --horizon-days 7` (the CLI's least) on a year of history: 7-day windows,
    not the refusal "history too short" it got until 2026-11-30."""
    plan = plan_cutoffs(date(2023, 1, 1), date(2024, 1, 1), 7)
    assert plan.window_days == 7 and plan.note is None
    assert plan.validation == (date(2023, 12, 25), 7)
    assert len(plan.train) == 4


def test_spend_metrics_by_hand() -> None:
    actual = np.array([0.0, 0.0, 10.0, 30.0] + [0.0] * 6)
    predicted = np.array([1.0, 0.0, 8.0, 20.0] + [0.0] * 6)
    m = spend_metrics(actual, predicted)
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 4 + 100) / 10))
    assert m["mae"] == pytest.approx(13 / 10)
    assert m["top_decile_capture"] == pytest.approx(30 / 40)  # top 1 of 10: the 30
    assert m["aggregate_error"] == pytest.approx(29 / 40 - 1)
    assert normalised_gini(actual, actual) == pytest.approx(1.0)
    assert normalised_gini(actual, predicted) == pytest.approx(1.0)  # same ordering
    assert normalised_gini(actual, -actual) < 0
    # every customer spent the same: nothing to rank (until 2026-11-30, a ZeroDivisionError)
    assert np.isnan(normalised_gini(np.full(5, 4.0), np.arange(5.0)))
    assert np.isnan(spend_metrics(np.full(5, 4.0), np.arange(5.0))["normalised_gini"])


def test_churn_metrics_by_hand() -> None:
    churned = np.array([True, True, False, False])
    perfect = churn_metrics(churned, np.array([0.9, 0.8, 0.2, 0.1]))
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == 1.0
    assert perfect["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    backwards = churn_metrics(churned, np.array([0.1, 0.2, 0.8, 0.9]))
    assert backwards["roc_auc"] == 0.0
    # of the 6 ways to pick which 2 of 4 churn, only 1 ranks them all on top
    assert perfect["roc_auc_p"] == pytest.approx(1 / 6)
    assert backwards["roc_auc_p"] == pytest.approx(1.0)


def test_ranking_p_values_tell_signal_from_chance() -> None:
    rng = np.random.default_rng(7)
    churned = rng.random(400) < 0.4
    unrelated = rng.random(400)
    informed = np.clip(0.4 + 0.3 * churned + rng.normal(0, 0.2, 400), 0, 1)
    assert churn_metrics(churned, unrelated)["roc_auc_p"] > 0.05
    assert churn_metrics(churned, informed)["roc_auc_p"] < 1e-6
    spend = rng.gamma(2.0, 50.0, 400)
    assert spend_metrics(spend, rng.random(400))["spearman_p"] > 0.05
    assert spend_metrics(spend, spend + rng.normal(0, 30, 400))["spearman_p"] < 1e-6
    # a constant prediction has no ranking to test
    assert np.isnan(spend_metrics(spend, np.full(400, 3.0))["spearman_p"])


def _noise_candidates(rng: np.random.Generator, n: int, k: int) -> dict[str, np.ndarray]:
    return {f"m{j}": rng.gamma(2.0, 50.0, n) for j in range(k)}


def _pass_rates(
    draw: Callable[[], tuple[np.ndarray, dict[str, np.ndarray]]],
    plain_of: Callable[[np.ndarray, np.ndarray], float],
    measure: Literal["spearman", "roc_auc"],
    shops: int = 100,
) -> tuple[float, float]:
    """Over ``shops`` drawn by ``draw`` (outcomes, and candidates that know nothing of
    them), how often the candidate with the lowest squared error passes at 0.05: by its
    plain p-value, and by the p-value that allows for the choice."""
    plain, allowed = [], []
    for _ in range(shops):
        actual, candidates = draw()
        chosen = min(candidates, key=lambda n: np.mean((candidates[n] - actual) ** 2))
        plain_p = plain_of(actual, candidates[chosen])
        plain.append(plain_p < 0.05)
        p = chosen_ranking_p(
            actual, candidates, chosen, measure=measure, plain_p=plain_p, settled_below=0.05
        )
        allowed.append(p < 0.05)
    return float(np.mean(plain)), float(np.mean(allowed))


def test_the_best_of_many_unrelated_predictions_is_not_taken_for_skill() -> None:
    """Ten predictions unrelated to the outcomes: the one with the lowest RMSE looks
    better than chance far more often than one time in twenty by its plain p-value,
    and about one time in twenty once the choice is allowed for."""
    rng = np.random.default_rng(11)

    def draw() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        spend = rng.gamma(2.0, 50.0, 300)
        return spend, _noise_candidates(rng, 300, 10)

    plain, allowed = _pass_rates(draw, lambda y, p: spearman(y, p)[1], "spearman")
    assert plain > 0.15  # measured here: 0.20 and 0.26 on two seeds
    assert allowed <= 0.1  # 0.06 and 0.05


def test_the_choice_costs_nothing_to_a_clear_signal() -> None:
    rng = np.random.default_rng(3)
    spend = rng.gamma(2.0, 50.0, 400)
    candidates = _noise_candidates(rng, 400, 5) | {"good": spend + rng.normal(0, 30, 400)}
    plain_p = spearman(spend, candidates["good"])[1]
    p = chosen_ranking_p(
        spend, candidates, "good", measure="spearman", plain_p=plain_p, settled_below=0.05
    )
    # the Bonferroni bound: six times the plain p-value, far below any threshold
    assert p == pytest.approx(6 * spearman(spend, candidates["good"])[1])
    assert p < 1e-6


def test_shuffles_stop_once_the_verdict_is_chance() -> None:
    """Besag and Clifford's sequential p-value: at the 50th shuffle that ranks as well
    (50 = 0.05 x 1,000), the answer is 50 / the shuffles run, at least 0.05."""
    rng = np.random.default_rng(2)
    spend = rng.gamma(2.0, 50.0, 5000)
    candidates = _noise_candidates(rng, 5000, 7)
    plain_p = spearman(spend, candidates["m0"])[1]
    p = chosen_ranking_p(
        spend, candidates, "m0", measure="spearman", plain_p=plain_p, settled_below=0.05
    )
    assert p >= 0.05
    shuffles = 50 / p
    assert shuffles == pytest.approx(round(shuffles)) and shuffles < 999


def test_one_candidate_gets_its_plain_p_value_back() -> None:
    """With nothing to choose between, the shuffles test the plain hypothesis, so they
    agree with scipy's Spearman and Mann-Whitney p-values within their Monte Carlo error
    (about 0.01 at p = 0.1 over 999 shuffles)."""
    rng = np.random.default_rng(5)
    spend = rng.gamma(2.0, 50.0, 200)
    weak = spend + rng.normal(0, 600, 200)
    plain_p = spearman(spend, weak)[1]
    p = chosen_ranking_p(
        spend, {"weak": weak}, "weak", measure="spearman", plain_p=plain_p, settled_below=0
    )
    assert p == pytest.approx(spearman(spend, weak)[1], abs=0.03)
    churned = rng.random(200) < 0.3
    score = 0.1 * churned + rng.random(200)
    plain_p = churn_metrics(churned, score)["roc_auc_p"]
    p = chosen_ranking_p(
        churned, {"s": score}, "s", measure="roc_auc", plain_p=plain_p, settled_below=0
    )
    assert p == pytest.approx(churn_metrics(churned, score)["roc_auc_p"], abs=0.03)
    assert 0.02 < p < 0.5  # a weak signal, where the shuffles decide


def test_churn_chosen_by_brier_among_unrelated_scores_is_not_taken_for_skill() -> None:
    rng = np.random.default_rng(13)

    def draw() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        churned = rng.random(300) < 0.4
        return churned, {f"m{j}": rng.random(300) for j in range(8)}

    plain, allowed = _pass_rates(draw, lambda y, p: churn_metrics(y, p)["roc_auc_p"], "roc_auc")
    assert plain > 0.2  # measured here: 0.34 and 0.35 on two seeds
    assert allowed <= 0.1  # 0.03 and 0.06
    assert np.isnan(
        chosen_ranking_p(
            np.zeros(50),
            {"a": rng.random(50)},
            "a",
            measure="spearman",
            plain_p=spearman(np.zeros(50), rng.random(50))[1],
            settled_below=0.05,
        )
    )


def test_factors_read_as_words() -> None:
    from custintel.value.explain import describe

    assert describe("recency_days", 94.0) == "last order 94 days ago"
    assert describe("ipi_mean_days", 31.2) == "usual gap between orders 31 days"
    assert describe("orders_90d", 2.0) == "2 orders in the last 90 days"
    assert describe("spend_365d", 1234.5) == "spent 1,234.50 in the last 365 days"
    assert describe("share__grocery", 0.25) == "25% of spend on grocery"
    assert describe("ipi_mean_days", float("nan")) == "no repeat purchase yet"
    assert describe("share__grocery", float("nan")) == "no completed purchase yet"
    assert describe("btyd_orders_rate", 0.0106 / 30) == (
        "0.011 expected orders a month by the BTYD model"
    )
    assert describe("btyd_spend_rate", 0.5) == "15.00 expected spend a month by the BTYD model"
    # a month's rate too small to print in two decimals reads as under 0.01, never 8.4e-06
    assert describe("btyd_orders_rate", 8.4e-6 / 30) == (
        "under 0.01 expected orders a month by the BTYD model"
    )
    assert describe("btyd_spend_rate", 0.003 / 30) == (
        "under 0.01 expected spend a month by the BTYD model"
    )
    assert describe("btyd_orders_rate", 0.0) == "0 expected orders a month by the BTYD model"
    assert describe("trend_90d", 0.25).startswith("spent more in the last 90 days")
    assert describe("trend_90d", -0.5).startswith("spent less in the last 90 days")
    assert describe("trend_90d", 0.0) == "spent as much in the last 90 days as in the 90 before"


def test_every_feature_the_trees_learn_from_reads_in_words_of_its_own() -> None:
    from custintel.features.customer import FEATURE_COLUMNS
    from custintel.value.explain import describe

    learnt = [*FEATURE_COLUMNS[2:], "btyd_p_alive", "btyd_orders_rate", "btyd_spend_rate"]
    for feature in learnt:
        words = describe(feature, 2345.678)
        # not the fallback "<column name> <number>", nor a number in e-notation
        assert not words.startswith(feature.replace("_", " ")), words
        assert "e+" not in words and "e-" not in words, words
    assert describe("order_value_max", 2700.0) == "largest order 2,700.00"
    # a wholesale account's 120 orders a month is not 1.2e+02
    assert describe("btyd_orders_rate", 4.0) == "120 expected orders a month by the BTYD model"
    assert describe("weekend_share", 0.25) == "25% of purchase days at the weekend"


def test_a_count_of_one_reads_in_the_singular() -> None:
    from custintel.value.explain import describe

    assert describe("recency_days", 1.0) == "last order 1 day ago"
    assert describe("recency_days", 21.0) == "last order 21 days ago"
    assert describe("frequency", 1.0) == "1 order so far"
    assert describe("orders_30d", 1.0) == "1 order in the last 30 days"
    assert describe("refund_count", 1.0) == "1 refund"
    assert describe("btyd_orders_rate", 1 / 30) == "1 expected order a month by the BTYD model"
    assert describe("btyd_orders_rate", 0.1 / 30) == "0.1 expected orders a month by the BTYD model"
    assert describe("tenure_days", 1.0) == "customer for 1 day"
    assert describe("cancelled_count", 1.0) == "1 cancelled order"
    assert describe("distinct_products", 1.0) == "1 different product bought"
    assert describe("distinct_categories", 1.0) == "bought in 1 category"
    assert describe("distinct_categories", 11.0) == "bought in 11 categories"
    assert describe("distinct_stores", 1.0) == "bought in 1 store"
    assert describe("orders_365d", 11.0) == "11 orders in the last 365 days"


def test_a_reliability_table_bins_every_customer_and_compares_the_means() -> None:
    rng = np.random.default_rng(3)
    probability = rng.uniform(0, 1, 20_000)
    churned = rng.uniform(0, 1, 20_000) < probability  # calibrated by construction
    table = reliability_table(churned, probability)
    assert [(b["low"], b["high"]) for b in table] == [(k / 10, (k + 1) / 10) for k in range(10)]
    assert sum(b["customers"] for b in table) == 20_000
    for b in table:
        assert b["low"] <= b["predicted"] <= b["high"]
        assert abs(b["observed"] - b["predicted"]) < 0.03
    # Probabilities twice too high show up bin by bin; empty bins are left out; 1.0
    # falls in the last bin.
    skewed = reliability_table(churned, np.clip(probability * 2, 0, 1))
    assert all(b["observed"] < b["predicted"] - 0.1 for b in skewed if b["predicted"] > 0.3)
    few = reliability_table(np.array([True, False, True]), np.array([0.05, 0.05, 1.0]))
    assert [(b["low"], b["customers"], b["observed"]) for b in few] == [
        (0.0, 2.0, 0.5),
        (0.9, 1.0, 1.0),
    ]


def _middle_and_two_guesses(
    rng: np.random.Generator, days: np.ndarray, horizon: int
) -> dict[str, np.ndarray]:
    """The middle of the window, and two guesses near it that know nothing of ``days``."""
    middle = np.full(len(days), (horizon - 1) / 2)
    noise = {name: middle + rng.normal(0, 1.5, len(days)) for name in ("gbm", "usual_gap")}
    return {"midpoint": middle, **noise}


def test_a_next_order_guess_that_knows_nothing_is_not_taken_for_skill() -> None:
    """Order days drawn evenly over a 30-day window and two guesses that know nothing of
    them: the better of the three is often not the middle, beating it by a little on the
    window; timing_p lets that pass as skill about one time in twenty at most."""
    rng = np.random.default_rng(5)
    chosen_guess, passed = 0, 0
    for _ in range(200):
        days = rng.integers(0, 30, 150).astype(float)
        timing = _middle_and_two_guesses(rng, days, 30)
        chosen = min(timing, key=lambda n: np.mean(np.abs(timing[n] - days)))
        if chosen != "midpoint":
            chosen_guess += 1
            passed += timing_p(days, timing, chosen) < 0.05
    assert chosen_guess > 50  # measured here: 93 and 70 of 200 on two seeds
    assert passed / 200 <= 0.05  # 0 and 2 of 200


def test_a_next_order_model_that_knows_the_timing_passes() -> None:
    rng = np.random.default_rng(6)
    days = rng.integers(0, 30, 150).astype(float)
    timing = _middle_and_two_guesses(rng, days, 30)
    timing["gbm"] = np.clip(days + rng.normal(0, 3, 150), 0, 29)
    assert timing_p(days, timing, "gbm") < 1e-6
    # the middle itself is not tested, and one customer cannot be
    assert np.isnan(timing_p(days, timing, "midpoint"))
    assert timing_p(days[:1], {n: v[:1] for n, v in timing.items()}, "gbm") == 1.0


def test_a_few_customers_get_the_exact_spearman_p_value() -> None:
    """Three customers predicted in the right order: one ordering of six does that by
    chance, so p = 1/6, not the t approximation's 0 that let such a column pass."""
    rho, p = spearman(np.array([1.0, 5.0, 9.0]), np.array([0.1, 0.2, 0.3]))
    assert rho == pytest.approx(1.0) and p == pytest.approx(1 / 6)
    # five in order: 1 of 120; reversed: every ordering is at least as good
    assert spearman(np.arange(5.0), np.arange(5.0))[1] == pytest.approx(1 / 120)
    assert spearman(np.arange(5.0), -np.arange(5.0))[1] == pytest.approx(1.0)
    # from nine customers on, scipy's t approximation
    rng = np.random.default_rng(0)
    actual, predicted = rng.normal(size=12), rng.normal(size=12)
    expected = spearmanr(actual, predicted, alternative="greater").pvalue
    assert spearman(actual, predicted)[1] == pytest.approx(expected)


def test_within_noise_names_the_leads_a_window_cannot_tell_from_chance() -> None:
    rng = np.random.default_rng(3)
    best = rng.exponential(1.0, 2000)
    losses = {
        "best": best,
        # A lead of 0.01 against a standard error of about 0.022: a tie.
        "close": best + rng.normal(0.01, 1.0, 2000),
        # A lead of 0.2, about nine standard errors: a real one.
        "clear": best + rng.normal(0.2, 1.0, 2000),
        # Worse by 0.05 on every customer: small beside the losses' own spread of 1, but
        # the difference is paired, and it never varies.
        "shifted": best + 0.05,
        "same": best.copy(),
    }
    assert sorted(within_noise(losses, "best")) == ["close", "same"]
    assert within_noise({"best": best[:1], "other": best[:1] + 5}, "best") == ["other"]
