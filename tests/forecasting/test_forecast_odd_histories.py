"""Odd histories: each gets a sensible forecast and a warning saying why, never a crash."""

from __future__ import annotations

import numpy as np
import pandas as pd

from custintel.forecasting import FORECAST_COLUMNS, ForecastResult, forecast_panel
from custintel.forecasting.panel import build_panel

HORIZON = 6
VALUES = ["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]


def frame_of(series: dict[str, np.ndarray], start: str = "2021-01-01") -> pd.DataFrame:
    parts = []
    for name, values in series.items():
        dates = pd.date_range(start, periods=len(values), freq="MS")
        parts.append(pd.DataFrame({"series": name, "period": dates, "value": values}))
    return pd.concat(parts, ignore_index=True)


def sensible(result: ForecastResult, frame: pd.DataFrame, series: str) -> pd.DataFrame:
    """The series' forecast rows, after checking the contract: HORIZON finite rows on the
    months following the frame's last one, ordered bounds."""
    out = result.forecasts
    assert list(out.columns) == FORECAST_COLUMNS
    rows = out[out["series"] == series]
    last = pd.Timestamp(frame["period"].max())
    expected = pd.date_range(last, periods=HORIZON + 1, freq="MS")[1:]
    assert list(pd.to_datetime(rows["date"])) == list(expected)
    assert np.isfinite(rows[VALUES].to_numpy()).all()
    assert (rows["lower_95"] <= rows["forecast"]).all()
    assert (rows["forecast"] <= rows["upper_95"]).all()
    return rows


def warned(result: ForecastResult, series: str, words: str) -> None:
    """The series has a warning containing ``words``, and its note column shows it."""
    notes = result.warnings.get(series, [])
    assert any(words in note for note in notes), notes
    note_column = set(result.forecasts.loc[result.forecasts["series"] == series, "note"])
    assert len(note_column) == 1
    assert words in note_column.pop()


def test_fewer_points_than_a_season() -> None:
    rng = np.random.default_rng(41)
    frame = frame_of({"new-shop": 100 + rng.normal(0, 5, 8)})
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    rows = sensible(result, frame, "new-shop")
    warned(result, "new-shop", "fewer than two seasons")
    assert not rows["model"].str.contains("SeasonalNaive|MSTL").any()
    assert rows["forecast"].between(80, 120).all()  # around its level
    assert not result.profiles["new-shop"].seasonal


def test_a_series_that_starts_late_is_cut_to_its_first_sale() -> None:
    rng = np.random.default_rng(42)
    frame = frame_of(
        {
            "old": 100 + rng.normal(0, 5, 48),
            # a new category: 20 empty months (the panel's shared calendar), then ~50
            "new": np.r_[np.zeros(20), 50 + rng.normal(0, 3, 28)],
        }
    )
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    rows = sensible(result, frame, "new")
    sensible(result, frame, "old")
    warned(result, "new", "starts late")
    assert "old" not in result.warnings
    assert "20 empty periods" in " ".join(result.warnings["new"])
    profile = result.profiles["new"]
    assert profile.length == 28 and str(profile.start) == "2022-09-01"
    # fitted on its sales only, not dragged down by the empty months before them
    assert rows["forecast"].between(40, 60).all(), rows["forecast"].tolist()


def test_a_constant_series_forecasts_the_constant() -> None:
    frame = frame_of({"subscription": np.full(30, 42.0)})
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    rows = sensible(result, frame, "subscription")
    warned(result, "subscription", "constant at 42")
    assert (rows[VALUES] == 42.0).all(axis=None)


def test_an_all_zero_series_forecasts_zero() -> None:
    frame = frame_of({"closed": np.zeros(30)})
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    rows = sensible(result, frame, "closed")
    warned(result, "closed", "no sales")
    assert (rows[VALUES] == 0.0).all(axis=None)


def test_a_single_huge_outlier_is_capped_and_named() -> None:
    rng = np.random.default_rng(43)
    values = 100 + rng.normal(0, 5, 40)
    values[-3] = 10_000.0  # one bulk order, a hundred months' sales
    frame = frame_of({"s": values})
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    rows = sensible(result, frame, "s")
    warned(result, "s", "outlier")
    assert "2024-02-01" in result.warnings["s"][0]  # names the month
    # With the outlier, the mean of the history is ~350; capped, the level stays ~100.
    assert (rows["forecast"] < 150).all(), rows["forecast"].tolist()
    assert (rows["upper_95"] < 300).all()


def test_a_recurring_peak_is_not_an_outlier() -> None:
    # every December at 20 times the rest: a pattern (a twelfth of the months), kept
    values = np.full(48, 100.0) + np.random.default_rng(44).normal(0, 5, 48)
    values[11::12] = 2_000.0
    panel, profiles = build_panel(frame_of({"s": values}), "M")
    assert not any("outlier" in w for w in profiles["s"].warnings)
    assert panel["y"].max() == 2_000.0


def test_a_series_too_short_to_backtest_gets_the_floor_model() -> None:
    frame = frame_of({"tiny": np.array([5.0, 7.0, 6.0])})
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    rows = sensible(result, frame, "tiny")
    warned(result, "tiny", "accuracy unknown")
    assert set(rows["model"]) == {"Naive"}
    assert (rows["forecast"] == 6.0).all()  # the last value
    assert result.backtest.empty
    assert result.accuracy() == {"series_backtested": 0}


def test_every_odd_case_together_in_one_panel() -> None:
    """As the store gives them: one shared calendar, several odd series at once."""
    rng = np.random.default_rng(45)
    n = 30
    spiky = 80 + rng.normal(0, 4, n)
    spiky[10] = 9_000.0
    series = {
        "total": 300 + rng.normal(0, 10, n),
        "late": np.r_[np.zeros(n - 5), [5.0, 6.0, 5.0, 7.0, 6.0]],
        "flat": np.full(n, 10.0),
        "zero": np.zeros(n),
        "spiky": spiky,
    }
    frame = frame_of(series)
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    for name in series:
        sensible(result, frame, name)
    assert len(result.forecasts) == HORIZON * len(series)
    warned(result, "late", "starts late")
    warned(result, "late", "accuracy unknown")  # 5 months after the cut
    warned(result, "flat", "constant at 10")
    warned(result, "zero", "no sales")
    warned(result, "spiky", "outlier")
    assert "total" not in result.warnings


def test_a_negative_constant_series_forecasts_the_constant() -> None:
    frame = frame_of({"refund": np.full(12, -5.0)})
    result = forecast_panel(frame, freq="M", horizon=HORIZON)
    warned(result, "refund", "constant at -5")
    rows = result.forecasts
    assert (rows["forecast"] == -5.0).all(), rows["forecast"].tolist()
