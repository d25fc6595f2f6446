"""The backtest's plan (windows, spacing, horizon per history length), its scale, sMAPE."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from custintel.forecasting.backtest import plan_backtest, series_scale, smape


def test_a_long_history_gets_three_windows_a_horizon_apart() -> None:
    # 72 months, 12 ahead: 24 months of first training leave 48 = 12 + 36 spare, enough
    # for two more full-horizon steps.
    plan = plan_backtest(72, 12, seasonal=True, freq="M")
    assert (plan.windows, plan.step, plan.horizon, plan.min_train) == (3, 12, 12, 24)
    assert plan.warning is None


def test_a_medium_history_moves_the_origins_closer() -> None:
    # 40 months: 40 - 24 = 16 available, one 12-month window leaves 4 spare periods, so
    # three windows have to start 4 // 2 = 2 months apart.
    plan = plan_backtest(40, 12, seasonal=True, freq="M")
    assert (plan.windows, plan.step, plan.horizon) == (3, 2, 12)
    assert plan.warning is None


def test_exactly_one_full_window_fits() -> None:
    plan = plan_backtest(36, 12, seasonal=True, freq="M")
    assert (plan.windows, plan.horizon) == (1, 12)
    assert plan.warning is None


def test_a_short_history_is_backtested_on_a_shorter_horizon_with_a_warning() -> None:
    # 30 months: 6 after the 24 of training; 6 is half the horizon, still accepted.
    plan = plan_backtest(30, 12, seasonal=True, freq="M")
    assert (plan.windows, plan.horizon) == (1, 6)
    assert plan.warning is not None
    assert "12-period" in plan.warning and "6 periods ahead" in plan.warning


@pytest.mark.parametrize(
    ("length", "horizon", "seasonal", "needs"),
    [(28, 12, True, 30), (3, 6, False, 7)],
    ids=["seasonal-28", "plain-3"],
)
def test_a_history_too_short_gets_no_backtest_and_a_warning(
    length: int, horizon: int, seasonal: bool, needs: int
) -> None:
    plan = plan_backtest(length, horizon, seasonal=seasonal, freq="M")
    assert plan.windows == 0
    assert plan.warning is not None
    assert "accuracy unknown" in plan.warning
    assert f"needs {needs} periods, has {length}" in plan.warning


@pytest.mark.parametrize(("freq", "seasonal"), [("M", True), ("W", True), ("D", False)])
def test_every_plan_fits_inside_the_history(freq: str, seasonal: bool) -> None:
    """For every length and horizon: the first origin keeps min_train periods of
    training, the last window ends at the last period, nothing is longer than asked."""
    for length in range(1, 160):
        for horizon in (1, 2, 6, 12, 13):
            plan = plan_backtest(length, horizon, seasonal=seasonal, freq=freq)
            if plan.windows == 0:
                assert plan.warning and "accuracy unknown" in plan.warning
                continue
            assert 1 <= plan.windows <= 3
            assert plan.step >= 1
            assert math.ceil(horizon / 2) <= plan.horizon <= horizon
            used = plan.min_train + plan.horizon + (plan.windows - 1) * plan.step
            assert used <= length, (length, horizon, plan)
            assert (plan.warning is None) == (plan.horizon == horizon), (length, horizon)


def test_the_number_of_windows_follows_the_request() -> None:
    assert plan_backtest(200, 12, seasonal=True, freq="M", windows=5).windows == 5
    assert plan_backtest(200, 12, seasonal=True, freq="M", windows=1).windows == 1


def _panel(**series: list[float]) -> pd.DataFrame:
    parts = []
    for name, values in series.items():
        dates = pd.date_range("2020-01-01", periods=len(values), freq="MS")
        parts.append(pd.DataFrame({"unique_id": name, "ds": dates, "y": values}))
    return pd.concat(parts, ignore_index=True)


def test_series_scale_is_the_mean_absolute_difference_before_the_first_origin() -> None:
    panel = _panel(a=[1.0, 3.0, 2.0, 6.0, 100.0], flat=[5.0, 5.0, 5.0], zero=[0.0, 0.0])
    cutoff = pd.Series(
        {
            "a": pd.Timestamp("2020-04-01"),  # the fourth point; 100 is after the origin
            "flat": pd.Timestamp("2020-03-01"),
            "zero": pd.Timestamp("2020-02-01"),
        }
    )
    scale = series_scale(panel, cutoff, "M")
    assert scale["a"] == pytest.approx((2 + 1 + 4) / 3)  # lag 1: under two seasons
    assert scale["flat"] == pytest.approx(5.0)  # no change: the mean absolute value
    assert scale["zero"] == 1.0  # nothing at all: 1


def test_series_scale_uses_the_seasonal_lag_on_two_seasons_and_more() -> None:
    # y = t: every lag-1 difference is 1, every lag-12 difference 12.
    values = [float(t) for t in range(30)]
    panel = _panel(s=values)
    cutoff = pd.Series({"s": pd.Timestamp("2022-06-01")})  # the 30th (last) month
    assert series_scale(panel, cutoff, "M")["s"] == pytest.approx(12.0)
    short = pd.Series({"s": pd.Timestamp("2021-12-01")})  # 24 points: not more than 2m
    assert series_scale(panel, short, "M")["s"] == pytest.approx(1.0)


def test_smape_on_hand_computed_points() -> None:
    actual = np.array([100.0, 0.0, 0.0, -50.0, 30.0])
    predicted = np.array([110.0, 0.0, 10.0, 50.0, 30.0])
    expected = [200 * 10 / 210, 0.0, 200.0, 200.0, 0.0]
    np.testing.assert_allclose(smape(actual, predicted), expected)
