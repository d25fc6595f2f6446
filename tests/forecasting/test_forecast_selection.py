"""The backtest picks a model of the family that generated the series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custintel.forecasting import ForecastResult, forecast_panel

N = 72  # six years of months
INTERMITTENT = {"CrostonOptimized", "ADIDA", "IMAPA"}


def seasonal_walk(rng: np.random.Generator) -> np.ndarray:
    """y_t = y_{t-12} + small noise: last year's month is the best guess."""
    y = list(100 + 20 * np.sin(2 * np.pi * np.arange(12) / 12) + rng.normal(0, 10, 12))
    for t in range(12, N):
        y.append(y[t - 12] + rng.normal(0, 3))
    return np.array(y)


def white_noise(rng: np.random.Generator) -> np.ndarray:
    """A constant plus noise: last year's month is a noisy guess, the mean a good one."""
    return 100 + rng.normal(0, 10, N)


def trending_season(rng: np.random.Generator) -> np.ndarray:
    """A trend under a strong season: last year's month is a year of trend too low."""
    t = np.arange(N)
    return 100 + 2 * t + 30 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, N)


def members(label: str) -> set[str]:
    """``Ensemble(A+B)`` -> {A, B}; a single model's name -> {name}."""
    if label.startswith("Ensemble(") and label.endswith(")"):
        return set(label[len("Ensemble(") : -1].split("+"))
    return {label}


@pytest.fixture(scope="module")
def chosen() -> tuple[pd.Series, ForecastResult]:
    """Two series of each kind, one run with the default candidates (they share a group,
    so the same candidates compete on each)."""
    rng = np.random.default_rng(11)
    dates = pd.date_range("2019-01-01", periods=N, freq="MS")
    parts = [
        pd.DataFrame({"series": f"{kind}{i}", "period": dates, "value": make(rng)})
        for kind, make in (
            ("walk", seasonal_walk),
            ("noise", white_noise),
            ("trend", trending_season),
        )
        for i in range(2)
    ]
    result = forecast_panel(pd.concat(parts, ignore_index=True), freq="M", horizon=12)
    return result.forecasts.groupby("series")["model"].first(), result


def test_a_seasonal_random_walk_chooses_seasonal_naive(chosen) -> None:
    labels, _ = chosen
    for series in ("walk0", "walk1"):
        assert "SeasonalNaive" in members(labels[series]), labels[series]


def test_noise_around_a_constant_does_not_choose_seasonal_naive(chosen) -> None:
    labels, result = chosen
    for series in ("noise0", "noise1"):
        assert "SeasonalNaive" not in members(labels[series]), labels[series]
        scores = result.backtest[result.backtest["series"] == series].set_index("model")
        # Repeating last year's noise is the worst of the candidates here.
        assert scores["mase"].idxmax() == "SeasonalNaive"


def test_a_trending_season_chooses_a_model_with_trend_and_season(chosen) -> None:
    labels, _ = chosen
    for series in ("trend0", "trend1"):
        assert members(labels[series]) <= {"AutoETS", "AutoTheta", "MSTL"}, labels[series]


def test_the_chosen_model_is_the_backtest_winner(chosen) -> None:
    _, result = chosen
    bt = result.backtest
    assert (bt.groupby("series")["chosen"].sum() == 1).all()
    for series, rows in bt.groupby("series"):
        winner = rows[rows["chosen"]].iloc[0]
        assert winner["mase"] == rows["mase"].min(), series
        assert (rows.loc[rows["floor"], "model"] == "SeasonalNaive").all()
    # no sparse series here: the intermittent-demand models are not candidates
    assert not set(bt["model"]) & INTERMITTENT
    assert result.warnings == {}


def test_an_intermittent_series_gets_the_intermittent_models_and_a_warning() -> None:
    rng = np.random.default_rng(12)
    n = 36
    demand = np.where(rng.random(n) < 0.3, 10.0 * (1 + rng.poisson(2, n)), 0.0)
    demand[0] = 20.0  # sold from the start: no "starts late" trimming
    dates = pd.date_range("2022-01-01", periods=n, freq="MS")
    frame = pd.DataFrame({"series": "spare-parts", "period": dates, "value": demand})
    assert (demand == 0).mean() > 0.5  # mostly empty months

    result = forecast_panel(frame, freq="M", horizon=6)
    assert set(result.backtest["model"]) >= INTERMITTENT
    notes = result.warnings["spare-parts"]
    assert any(note.startswith("sparse") for note in notes), notes
    out = result.forecasts
    assert len(out) == 6
    assert out["note"].str.contains("sparse").all()
    bounds = out[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]].to_numpy()
    assert np.isfinite(bounds).all()
    assert (bounds >= 0).all()
    # An intermittent forecast is a rate: between 0 and the largest month's demand.
    assert (out["forecast"] <= demand.max()).all()
