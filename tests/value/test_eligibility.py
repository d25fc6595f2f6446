"""What each score column rests on: statements built from the validation comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custintel.errors import ConfigError
from custintel.value.eligibility import Statement, assess, chance_caveats, history_too_short
from custintel.value.examples import outlier_spend
from custintel.value.service import ValueSettings, _tier, crowded_risk_note, spend_percentile

CUTOFFS = {
    "validation": "2025-12-02",
    "validation_ends": "2026-01-01",
    "window_days": 30,
    "note": None,
}


def spend(rmse: float) -> dict[str, float]:
    return {"rmse": rmse, "top_decile_capture": 0.4}


def comparison(churn_rate: float, auc: float, customers: float) -> dict:
    return {
        "spend": {"gbm": spend(10.0), "run_rate": spend(14.0)},
        "orders": {"gbm": spend(0.5), "run_rate": spend(0.9)},
        "churn": {
            "gbm": {"roc_auc": auc, "brier": 0.1, "churn_rate": churn_rate, "customers": customers}
        },
        "next_order": {
            name: {"mae_days": days, "customers": customers * (1 - churn_rate)}
            for name, days in (("gbm", 6.0), ("usual_gap", 10.6), ("midpoint", 7.4))
        },
        "spend_by_category": {"home_garden": spend(3.0)},
    }


CHOSEN = {"spend": "gbm", "orders": "gbm", "churn": "gbm", "next_order": "gbm"}


def by_output(statements: list) -> dict:
    return {s.output: s for s in statements}


def assessed(
    table: dict,
    customers: int,
    cutoffs: dict = CUTOFFS,
    outlying: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    **chosen: str,
) -> dict:
    """The statements of a run (of ``categories``), by output column; ``chosen``
    overrides the model chosen for a target; ``outlying`` customers are past 52,000."""
    return by_output(
        assess(
            table,
            CHOSEN | chosen,
            cutoffs,
            validation_customers=customers,
            clv_days=365,
            categories=list(categories),
            outlying=outlying,
            outlier_spend=52_000.0,
        )
    )


def test_measured_columns_name_model_error_and_baseline() -> None:
    out = by_output(
        assess(
            comparison(0.6, 0.8, 5000),
            CHOSEN,
            CUTOFFS,
            validation_customers=5000,
            clv_days=365,
            categories=["Home & Garden", "Toys"],
        )
    )
    note = out["expected_spend"].note
    assert out["expected_spend"].status == "measured" and out["expected_spend"].model == "gbm"
    assert "RMSE 10.00" in note and "14.00" in note and "2025-12-02" in note
    assert "rough" not in note
    assert "ROC-AUC 0.800" in out["churn_probability"].note
    assert out["next_order_date"].status == "measured"
    assert (
        "off by 6.0 days on average for the 2,000 customers who ordered in 2025-12-02 to "
        "2026-01-01, against 10.6 for their usual gap, 7.4 for the middle of the window"
    ) in out["next_order_date"].note
    # when no model times orders better than the middle of the window, the note says so
    table = comparison(0.6, 0.8, 5000)
    midpoint = assessed(table, 5000, next_order="midpoint")["next_order_date"]
    assert midpoint.note.startswith("midpoint (the middle of the window for every customer")
    assert "against 6.0 for gbm, 10.6 for their usual gap" in midpoint.note
    # BTYD's rate says what it is, and its rivals read as words
    table["next_order"]["btyd_rate"] = {"mae_days": 5.5, "customers": 5000.0}
    btyd = assessed(table, 5000, next_order="btyd_rate")["next_order_date"]
    assert btyd.note.startswith("btyd_rate (the median day of a first order within the window")
    assert "off by 5.5 days" in btyd.note and "7.4 for the middle of the window" in btyd.note
    assert out["clv"].status == "not measured"
    assert out["p_active"].status == "not measured" and "churn_probability" in out["p_active"].note
    # categories by their column slug; one without a measured figure says so
    home = out["expected_spend__home_garden"]
    assert home.status == "measured"
    assert "RMSE 3.00" in home.note and "the top 10 % predicted made 40% of its spend" in home.note
    assert out["expected_spend__toys"].status == "not measured"


def test_each_category_column_gets_its_own_statement_other_included() -> None:
    """A category named "Other" is the column other_2 and reads its own figures; the
    column ``other`` (every category not named, and none) says what it holds."""
    table = comparison(0.6, 0.8, 5000)
    table["spend_by_category"] = {"other_2": spend(7.0), "home_garden": spend(3.0)}
    table["spend_by_category"]["other"] = spend(2.0) | {"top_decile_capture": float("nan")}
    named = ("Other", "Home & Garden")
    out = assessed(table, 5000, categories=named)
    categories = [o for o in out if o.startswith("expected_spend__")]
    assert categories == [
        "expected_spend__other_2",
        "expected_spend__home_garden",
        "expected_spend__other",
    ]
    assert "RMSE 7.00" in out["expected_spend__other_2"].note
    # a column whose name does not say its category names it
    assert 'the category "Other"' in out["expected_spend__other_2"].note
    assert 'the category "Home & Garden"' in out["expected_spend__home_garden"].note
    other = out["expected_spend__other"]
    assert "the categories past the 30 with the most sales" in other.note
    assert "without a category" in other.note and "RMSE 2.00" in other.note
    assert other.status == "not measured"
    assert "nobody bought from the other categories in the window" in other.note
    # a shop that sold nothing outside its named categories is told so, not "RMSE 0.00"
    table["spend_by_category"]["other"] = spend(0.0) | {"top_decile_capture": float("nan")}
    none = assessed(table, 5000, categories=named)["expected_spend__other"]
    assert none.status == "not measured" and "RMSE" not in none.note
    assert "nothing was sold outside the named categories before 2026-01-01" in none.note
    # a shop without categories has no category columns, and no statements of them
    assert not [o for o in assessed(table, 5000) if o.startswith("expected_spend__")]


def test_few_customers_or_events_are_flagged_as_rough() -> None:
    out = assessed(comparison(0.97, 0.7, 500), 500)
    # 3 % of 500 customers ordered: 15 on the rarer side
    assert "15 customers on the rarer side" in out["churn_probability"].note
    assert "the 15 customers who ordered" in out["next_order_date"].note
    assert "only 15 customers were there to check it on" in out["next_order_date"].note
    # one customer is one, not "1 customers"
    single = assessed(comparison(0.995, 0.7, 200), 200)["next_order_date"].note
    assert "the 1 customer who ordered" in single
    assert "only 1 customer was there to check it on, so treat it as rough" in single


def test_one_class_validation_cannot_measure_churn_ranking() -> None:
    out = assessed(comparison(1.0, float("nan"), 300), 300)
    assert out["churn_probability"].status == "not measured"
    assert "every customer churned" in out["churn_probability"].note
    assert out["next_order_date"].status == "not available"


def test_a_ranking_that_could_be_chance_is_labelled_so() -> None:
    chance = comparison(0.45, 0.51, 800)
    chance["churn"]["gbm"]["roc_auc_p"] = 0.38
    chance["spend"]["gbm"] |= {"spearman": 0.04, "spearman_p": 0.13, "aggregate_error": -0.47}
    chance["orders"]["gbm"] |= {"spearman": 0.3, "spearman_p": 0.0001}
    out = assessed(chance, 800)
    assert out["churn_probability"].status == "no better than chance"
    assert "p = 0.38" in out["churn_probability"].note
    assert "not which ones" in out["churn_probability"].note
    assert out["expected_spend"].status == "no better than chance"
    assert "Spearman 0.04, p = 0.13" in out["expected_spend"].note
    assert "does not tell who will bring the most spend" in out["expected_spend"].note
    assert "in all 47% below the actual spend" in out["expected_spend"].note
    # a ranking well clear of chance stays measured
    assert out["expected_orders"].status == "measured"
    assert "chance" not in out["expected_orders"].note


def test_the_chosen_models_p_value_allows_for_the_choice() -> None:
    """A ranking that looks clear of chance on its own (p = 0.01) but not as the best of
    the candidates compared on the same window (p = 0.21) is labelled chance; a run
    stored before that p-value was kept is judged by the plain one."""
    table = comparison(0.45, 0.7, 800)
    table["orders"]["gbm"] |= {"spearman": 0.06, "spearman_p": 0.01, "chance_p": 0.21}
    table["churn"]["gbm"] |= {"roc_auc_p": 0.001, "chance_p": 0.004}
    out = assessed(table, 800)
    assert out["expected_orders"].status == "no better than chance"
    assert "Spearman 0.06, p = 0.21, as the best of 2 candidates" in out["expected_orders"].note
    assert out["churn_probability"].status == "measured"
    del table["orders"]["gbm"]["chance_p"]
    assert assessed(table, 800)["expected_orders"].status == "measured"


def test_a_category_whose_ranking_could_be_chance_is_labelled_so() -> None:
    """Superstore's case: the split by category shares ranked no category's buyers better
    than chance (Spearman -0.04, p = 0.84, for furniture)."""
    table = comparison(0.6, 0.8, 5000)
    table["spend_by_category"]["home_garden"] |= {"spearman": -0.04, "spearman_p": 0.84}
    table["spend_by_category"]["toys"] = spend(2.0) | {"spearman": 0.2, "spearman_p": 0.0001}
    out = by_output(
        assess(
            table,
            CHOSEN,
            CUTOFFS,
            validation_customers=5000,
            clv_days=365,
            categories=["Home & Garden", "Toys"],
        )
    )
    home = out["expected_spend__home_garden"]
    assert home.status == "no better than chance"
    assert "Spearman -0.04, p = 0.84" in home.note
    assert "spend the most on Home & Garden" in home.note
    assert out["expected_spend__toys"].status == "measured"
    assert out["expected_spend"].status == "measured"


def test_a_window_without_spend_cannot_measure_spend() -> None:
    """A shop whose orders are free (samples, zero-priced B2B call-offs) has no spend to
    rank: the column says so instead of "the top 10 % made nan% of the spend"."""
    table = comparison(0.6, 0.8, 5000)
    table["spend"]["gbm"] = {"rmse": 0.0, "top_decile_capture": float("nan")}
    out = assessed(table, 5000)
    assert out["expected_spend"].status == "not measured"
    assert "added up to nothing" in out["expected_spend"].note
    assert "nan" not in out["expected_spend"].note
    assert out["expected_orders"].status == "measured"


def test_the_season_says_what_it_rests_on_or_why_there_is_none() -> None:
    def season(note: str, applied: bool) -> Statement:
        cutoffs = CUTOFFS | {"seasons": note, "seasons_applied": applied}
        return assessed(comparison(0.6, 0.8, 5000), 5000, cutoffs)["season"]

    used = season("monthly season of 44 months of repeat orders", True)
    assert used.status == "measured" and "for the horizon's months" in used.note
    none = season("no seasonal adjustment: 20 complete months", False)
    assert none.status == "not available" and "horizon's months" not in none.note
    assert "season" not in assessed(comparison(0.6, 0.8, 5000), 5000)


def test_the_top_factors_say_which_model_they_explain_and_how_it_agrees() -> None:
    table = comparison(0.6, 0.8, 5000)
    table["churn"]["btyd"] = table["churn"]["gbm"] | {"roc_auc": 0.75}

    def factors(chosen: str, rho: float, p: float = 1e-9) -> Statement:
        table["churn"]["gbm"]["roc_auc_p"] = p
        model = {"model": "gbm", "chosen": chosen, "spearman": rho, "customers": 4000}
        statements = assess(
            table,
            CHOSEN | {"churn": chosen},
            CUTOFFS,
            validation_customers=5000,
            clv_days=365,
            categories=[],
            factors=model,
        )
        return by_output(statements)["top_factors"]

    own = factors("gbm", 1.0)
    assert own.status == "measured" and own.model == "gbm"
    assert "ROC-AUC 0.800" in own.note and "the model behind churn_probability" in own.note
    assert "at medium or high risk reads first what raises it" in own.note
    assert "each factor is one reason" in own.note
    other = factors("btyd", 0.83)
    assert other.status == "measured" and other.model == "gbm"
    assert "comes from btyd" in other.note
    assert "Spearman 0.83 (on 4,000 customers)" in other.note
    assert "not why btyd does" in other.note
    flat = factors("btyd", float("nan"))
    assert "nan" not in flat.note and "the same probability" in flat.note
    chance = factors("gbm", 1.0, p=0.4)
    assert chance.status == "no better than chance" and "do not tell who will leave" in chance.note
    # a run without churn learners has no factors to explain, and says so
    missing = assessed(comparison(0.6, 0.8, 5000), 5000)["top_factors"]
    assert missing.status == "not available" and missing.model is None
    assert "no churn tree model was fitted" in missing.note


def test_a_chosen_run_rate_is_not_measured_against_itself() -> None:
    table = comparison(0.6, 0.8, 5000)
    table["spend"]["run_rate"] = spend(9.0)
    statement = assessed(table, 5000, spend="run_rate")["expected_spend"]
    assert "run_rate: RMSE 9.00 spend per customer" in statement.note
    assert "last year's run rate itself: no model did better" in statement.note
    assert "against" not in statement.note


def test_a_short_history_gets_btyd_only_and_says_what_is_missing() -> None:
    reason = "the history is 40 days; checking needs 102"
    out = by_output(history_too_short(reason, 365, customers=5000, repeat_buyers=1200))
    assert {out[c].status for c in ("expected_spend", "expected_orders", "p_active", "clv")} == {
        "not measured"
    }
    assert "(5,000 customers, of whom 1,200 ordered again); not measured" in out["p_active"].note
    assert out["churn_probability"].status == "not available"
    assert "102" in out["churn_probability"].note


@pytest.mark.parametrize(("customers", "repeat_buyers"), [(150, 60), (5000, 12)])
def test_btyd_fitted_on_few_customers_or_repeat_buyers_is_called_rough(
    customers: int, repeat_buyers: int
) -> None:
    reason = "the history is 40 days; checking needs 102"
    out = by_output(history_too_short(reason, 365, customers, repeat_buyers))
    for column in ("expected_spend", "expected_orders", "p_active", "clv"):
        assert "parameters are a guess: treat them as rough" in out[column].note


def test_value_settings_from_toml() -> None:
    settings = ValueSettings.from_options(
        {"risk_thresholds": [0.3, 0.6], "clv_days": 730, "explain_limit": 500}
    )
    assert settings.risk_thresholds == (0.3, 0.6) and settings.clv_days == 730
    assert settings.explain_limit == 500
    assert ValueSettings.from_options(None) == ValueSettings()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"risk_threshold": [0.3, 0.6]}, "unknown keys"),
        ({"risk_thresholds": [0.7, 0.4]}, "medium first"),
        ({"risk_thresholds": [0.4]}, "two churn probabilities"),
        ({"clv_days": 0}, "whole number of days"),
        ({"discount_rate": 10}, "annual rate"),
        ({"explain_limit": "all"}, "whole number of customers"),
    ],
)
def test_value_settings_refuse_bad_values_with_the_key(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ValueSettings.from_options(options)


def test_a_crowded_risk_level_gets_a_note_saying_what_to_change() -> None:
    crowded = pd.Series(["high"] * 87 + ["medium"] * 8 + ["low"] * 5)
    note = crowded_risk_note(crowded, 30)
    assert note is not None
    assert note.startswith("87% of the customers are at high churn risk")
    assert "30 days" in note and "--horizon-days" in note and "risk_thresholds" in note
    low = crowded_risk_note(pd.Series(["low"] * 9 + ["high"]), 90)
    assert low is not None and "lower [value] risk_thresholds" in low
    # a churn ranking at chance is not helped by any threshold, and the note says so
    chance = crowded_risk_note(
        pd.Series(["low"] * 9 + ["high"]), 90, churn_status="no better than chance"
    )
    assert chance is not None and "risk_thresholds" not in chance
    assert "the churn ranking is no better than chance" in chance
    # Spread over the levels, or no churn probability at all (a young shop): no note.
    assert crowded_risk_note(pd.Series(["high"] * 70 + ["low"] * 30), 30) is None
    assert crowded_risk_note(pd.Series([None, None], dtype=object), 30) is None


def test_a_next_order_date_no_better_than_the_middle_of_the_window_is_labelled_so() -> None:
    table = comparison(0.5, 0.8, 1000)
    table["next_order"]["gbm"]["chance_p"] = 0.4
    statement = assessed(table, 1000)["next_order_date"]
    assert statement.status == "no better than chance"
    assert "off by 6.0 days on average" in statement.note
    assert "7.4 for the middle of the window" in statement.note
    assert "could not be told from chance (p = 0.40, as the best of 2 models)" in statement.note
    assert "not as a day to plan for" in statement.note
    # and the API's caveats carry it, as they carry a ranking at chance
    summary = {"eligibility": [statement.to_dict()]}
    assert [c["output"] for c in chance_caveats(summary)] == ["next_order_date"]
    # a lead that is clear of chance stays measured
    table["next_order"]["gbm"]["chance_p"] = 0.001
    assert assessed(table, 1000)["next_order_date"].status == "measured"


def test_a_ranking_that_cannot_be_tested_says_so() -> None:
    """A NaN p-value (every customer got the same prediction, or brought the same) is
    not a ranking that passed: the amounts are measured, the ranking is not; a category
    nobody bought from in the window is not measured."""
    table = comparison(0.5, 0.8, 1000)
    table["spend"]["gbm"] |= {"spearman": float("nan"), "spearman_p": float("nan")}
    table["spend_by_category"]["home_garden"] |= {"top_decile_capture": float("nan")}
    statements = by_output(
        assess(
            table,
            CHOSEN,
            CUTOFFS,
            validation_customers=1000,
            clv_days=365,
            categories=["Home & Garden"],
        )
    )
    spend_note = statements["expected_spend"].note
    assert statements["expected_spend"].status == "measured"
    assert "its ranking could not be tested" in spend_note and "nan" not in spend_note
    home = statements["expected_spend__home_garden"]
    assert home.status == "not measured"
    assert "nobody bought from Home & Garden in the window" in home.note
    # a testable ranking gets no such words
    assert "could not be tested" not in statements["expected_orders"].note


def test_customers_expected_to_spend_nothing_are_the_low_tier_however_many() -> None:
    """Ties rank at the bottom of their group: 60 of 100 customers expected to spend
    nothing are "low", not "medium" as the middle rank of their tie (0.3) made them."""
    spend = np.concatenate([np.zeros(60), np.linspace(10, 400, 40)])
    percentile = spend_percentile(spend)
    assert np.all(percentile[:60] == pytest.approx(0.01))
    assert percentile[-1] == 1.0 and np.all(np.diff(percentile[60:]) > 0)
    tiers = _tier(percentile)
    assert set(tiers[:60]) == {"low"}
    assert list(tiers[-10:]) == ["top"] * 10


def test_outlying_customers_are_named_in_the_spend_note_and_nowhere_else() -> None:
    def notes(outlying: tuple[str, ...]) -> dict:
        return assessed(comparison(0.6, 0.8, 5000), 5000, outlying=outlying)

    assert "median customer" not in notes(())["expected_spend"].note
    one = notes(("TRADE-1",))
    note = one["expected_spend"].note
    assert "RMSE 10.00" in note  # the measure is still given, for the others
    assert "1 customer (TRADE-1) has spent over 52,000.00" in note
    assert "1,000 times the median customer" in note and "BTYD's" in note
    assert "median customer" not in one["expected_orders"].note
    many = notes(tuple(f"T{i}" for i in range(5)))["expected_spend"].note
    assert "5 customers (T0, T1, T2 and 2 more) have spent over" in many


def test_the_outlier_spend_is_a_thousand_medians_of_those_who_spent() -> None:
    assert outlier_spend(np.array([0.0, -5.0, 10.0, 20.0, 30.0])) == 20_000.0
    assert outlier_spend(np.array([0.0, -5.0])) == float("inf")


def test_candidates_within_noise_of_the_chosen_one_are_named_as_ties() -> None:
    table = comparison(0.6, 0.8, 5000)
    table["spend"]["run_rate"]["within_noise"] = 1.0
    table["orders"]["run_rate"]["within_noise"] = 0.0
    table["churn"]["btyd"] = {"roc_auc": 0.78, "brier": 0.1001, "within_noise": 1.0}
    table["churn"]["blend"] = {"roc_auc": 0.79, "brier": 0.1002, "within_noise": 1.0}
    table["next_order"]["midpoint"]["within_noise"] = 1.0
    out = assessed(table, 5000)
    tie = "did as well within the noise of this window, so another window may choose"
    assert f"; run_rate {tie} it" in out["expected_spend"].note
    assert tie not in out["expected_orders"].note  # a clear lead is not called a tie
    assert f"; btyd and blend {tie} one of them" in out["churn_probability"].note
    # The next order's candidates are said in words, as elsewhere in its note.
    assert f"; the middle of the window {tie} it" in out["next_order_date"].note


def test_a_ranking_at_chance_is_not_also_called_a_tie() -> None:
    """At chance the note says the ranking tells nothing; which model won is moot."""
    table = comparison(0.6, 0.8, 5000)
    table["spend"]["run_rate"]["within_noise"] = 1.0
    table["spend"]["gbm"]["chance_p"] = 0.4
    table["spend"]["gbm"]["spearman"] = 0.01
    out = assessed(table, 5000)
    assert "could not be told from chance" in out["expected_spend"].note
    assert "within the noise" not in out["expected_spend"].note


def test_a_mean_of_tied_candidates_is_named_by_its_parts() -> None:
    table = comparison(0.6, 0.8, 5000)
    table["orders"]["gbm"]["averaged"] = 1.0
    for name in ("btyd", "xgboost", "blend"):
        table["orders"][name] = spend(0.51) | {"within_noise": 1.0, "averaged": 1.0}
    table["orders"]["mean_of_ties"] = spend(0.49) | {"aggregate_error": -0.002}
    note = assessed(table, 5000, orders="mean_of_ties")["expected_orders"].note
    # Every part is named, however many.
    assert note.startswith(
        "the mean of gbm, btyd, xgboost and blend, which tied within the noise of this "
        "window: RMSE 0.49"
    )
    # An aggregate that rounds to 0 % is not said to be below the actual orders.
    assert "in all within 0.5% of the actual orders" in note
    # Its parts are averaged, not alternatives another window may choose.
    assert "another window may choose" not in note
