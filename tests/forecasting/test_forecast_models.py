"""Each candidate model finds a known seasonality; a model that fails is recorded, not fatal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from custintel.forecasting import FORECAST_COLUMNS, forecast_panel
from custintel.forecasting import models as models_module
from custintel.forecasting.models import (
    PANDAS_FREQ,
    ProphetEngine,
    StatsForecastEngine,
    _guard,
)

# The series: level 100, a sine season of amplitude 20, Gaussian noise of SD 2.
LEVEL, AMPLITUDE, NOISE = 100.0, 20.0, 2.0
# Bound on the MAPE against the noiseless continuation. A forecast that lost the season
# (flat at the level) scores mean|20 sin| / 100 = 12.7 %; one a period out of phase
# about 6.6 %; repeating last season (SeasonalNaive) keeps one season of noise,
# E|N(0, 2)| / 100 = 1.6 %. 4 % passes a model that found the season and fails one that
# lost or shifted it.
MAX_MAPE = 0.04
# Prophet warns about pandas' deprecated reset_index(inplace=True) in its own code.
PROPHET_WARNINGS = "ignore::DeprecationWarning:prophet"


def seasonal_frame(
    n: int, horizon: int, *, freq: str, season: int, seed: int
) -> tuple[pd.DataFrame, pd.DatetimeIndex, np.ndarray]:
    """``n`` noisy periods of one series, the next ``horizon`` dates and their true values."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + horizon)
    truth = LEVEL + AMPLITUDE * np.sin(2 * np.pi * t / season)
    dates = pd.date_range("2019-01-07", periods=n + horizon, freq=PANDAS_FREQ[freq])
    frame = pd.DataFrame(
        {"series": "s", "period": dates[:n], "value": truth[:n] + rng.normal(0, NOISE, n)}
    )
    return frame, dates[n:], truth[n:]


def mape(forecast: Any, truth: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(forecast, float) - truth) / truth))


def as_panel(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"series": "unique_id", "period": "ds", "value": "y"})


def check_pipeline(
    frame: pd.DataFrame, dates: pd.DatetimeIndex, truth: np.ndarray, name: str, **kwargs: Any
) -> None:
    """``models=[name]`` end to end: the contract, the dates, the accuracy, and the model
    was a candidate that did not fail."""
    freq = kwargs.pop("freq")
    result = forecast_panel(frame, freq=freq, horizon=len(dates), models=[name], **kwargs)
    out = result.forecasts
    assert list(out.columns) == FORECAST_COLUMNS
    assert list(pd.to_datetime(out["date"])) == list(dates)
    assert np.isfinite(out[["forecast", "lower_95", "upper_95"]].to_numpy()).all()
    assert mape(out["forecast"], truth) < MAX_MAPE
    tried = result.backtest.set_index("model")
    assert name in tried.index
    assert not tried.loc[name, "failed"]


@pytest.mark.parametrize("name", ["SeasonalNaive", "AutoETS", "AutoTheta", "MSTL"])
def test_each_model_recovers_a_monthly_season(name: str) -> None:
    frame, dates, truth = seasonal_frame(72, 12, freq="M", season=12, seed=1)
    check_pipeline(frame, dates, truth, name, freq="M")
    # The model itself, not only the candidate the backtest preferred:
    own = StatsForecastEngine([name], "M", seasonal=True, min_length=72).forecast(
        as_panel(frame), 12
    )
    assert list(own["ds"]) == list(dates)
    assert mape(own[name], truth) < MAX_MAPE


def test_autoarima_recovers_a_monthly_season() -> None:
    # AutoARIMA costs a second or more a fit: four years and one backtest window.
    frame, dates, truth = seasonal_frame(48, 12, freq="M", season=12, seed=2)
    check_pipeline(frame, dates, truth, "AutoARIMA", freq="M", windows=1)
    own = StatsForecastEngine(["AutoARIMA"], "M", seasonal=True, min_length=48).forecast(
        as_panel(frame), 12
    )
    assert mape(own["AutoARIMA"], truth) < MAX_MAPE


@pytest.mark.filterwarnings(PROPHET_WARNINGS)
def test_prophet_recovers_a_monthly_season() -> None:
    frame, dates, truth = seasonal_frame(60, 12, freq="M", season=12, seed=3)
    check_pipeline(frame, dates, truth, "Prophet", freq="M", windows=1)
    own = ProphetEngine("M").forecast(as_panel(frame), 12)
    assert list(own["ds"]) == list(dates)
    assert mape(own["Prophet"], truth) < MAX_MAPE
    # Its own bands are nested around the forecast.
    lo80, hi80 = own["Prophet-lo-80"].to_numpy(), own["Prophet-hi-80"].to_numpy()
    lo95, hi95 = own["Prophet-lo-95"].to_numpy(), own["Prophet-hi-95"].to_numpy()
    assert (lo95 <= lo80).all() and (lo80 <= own["Prophet"]).all()
    assert (own["Prophet"] <= hi80).all() and (hi80 <= hi95).all()


def test_mstl_recovers_a_yearly_season_in_weekly_data() -> None:
    # Three years of weeks: ETS cannot hold a 52-week season, MSTL has to.
    frame, dates, truth = seasonal_frame(156, 13, freq="W", season=52, seed=4)
    assert all(d.weekday() == 0 for d in dates)  # weeks start on Monday
    check_pipeline(frame, dates, truth, "MSTL", freq="W")
    own = StatsForecastEngine(["MSTL"], "W", seasonal=True, min_length=156).forecast(
        as_panel(frame), 13
    )
    assert mape(own["MSTL"], truth) < MAX_MAPE


# --- failures -------------------------------------------------------------------------------


class Exploding:
    """A statsforecast-like model that raises on every series."""

    alias = "Exploding"
    uses_exog = False

    def forecast(
        self,
        y: np.ndarray,
        h: int,
        X: Any = None,
        X_future: Any = None,
        level: list[int] | None = None,
        fitted: bool = False,
    ) -> dict[str, Any]:
        raise np.linalg.LinAlgError("singular matrix")

    def new(self) -> Exploding:
        return Exploding()


class Infinite(Exploding):
    """One that returns a non-finite forecast instead of raising."""

    def forecast(
        self,
        y: np.ndarray,
        h: int,
        X: Any = None,
        X_future: Any = None,
        level: list[int] | None = None,
        fitted: bool = False,
    ) -> dict[str, Any]:
        return {"mean": np.r_[1.0, np.inf, np.ones(h - 2)], "lo-80": np.zeros(h)}


class PointOnly:
    """One without intervals (no ``level`` argument), raising too."""

    alias = "PointOnly"

    def forecast(
        self, y: np.ndarray, h: int, X: Any = None, X_future: Any = None, fitted: bool = False
    ) -> dict[str, Any]:
        raise ValueError("too short")


def test_a_guarded_model_that_raises_gives_nan() -> None:
    guarded = _guard(Exploding())
    out = guarded.forecast(y=np.arange(10.0), h=3, level=[80, 95], fitted=True)
    assert set(out) == {"mean", "lo-80", "hi-80", "lo-95", "hi-95", "fitted"}
    assert all(np.isnan(v).all() for v in out.values())
    assert len(out["mean"]) == 3 and len(out["fitted"]) == 10
    # everything else is the wrapped model's
    assert guarded.uses_exog is False
    assert repr(guarded) == "Exploding"
    assert np.isnan(guarded.new().forecast(y=np.ones(5), h=2)["mean"]).all()


def test_a_guarded_model_with_a_non_finite_forecast_gives_nan() -> None:
    out = _guard(Infinite()).forecast(y=np.arange(10.0), h=4, level=[80])
    assert set(out) == {"mean", "lo-80", "hi-80"}
    assert np.isnan(out["mean"]).all() and np.isnan(out["lo-80"]).all()


def test_a_guarded_model_without_intervals_gives_nan_points() -> None:
    out = _guard(PointOnly()).forecast(y=np.ones(4), h=2)
    assert list(out) == ["mean"]
    assert np.isnan(out["mean"]).all()


def test_a_model_failing_on_a_series_is_recorded_and_the_floor_model_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AutoETS fails on every window of the large series, and on the whole history of
    every series (it wins the backtest of the trending one, then fails its final fit)."""
    from statsforecast.models import AutoETS

    n = 36
    real = models_module._statsforecast_model

    class Flaky(AutoETS):  # type: ignore[misc]
        def forecast(
            self,
            y: np.ndarray,
            h: int,
            X: Any = None,
            X_future: Any = None,
            level: list[int] | None = None,
            fitted: bool = False,
        ) -> dict[str, Any]:
            if np.mean(y) > 500 or len(y) == n:
                raise RuntimeError("optimiser diverged")
            return super().forecast(y=y, h=h, X=X, X_future=X_future, level=level, fitted=fitted)

    def flaky_ets(name: str, freq: str, seasonal: bool, length: int) -> Any:
        return Flaky(season_length=12) if name == "AutoETS" else real(name, freq, seasonal, length)

    monkeypatch.setattr(models_module, "_statsforecast_model", flaky_ets)
    rng = np.random.default_rng(5)
    t = np.arange(n)
    dates = pd.date_range("2021-01-01", periods=n, freq="MS")
    frame = pd.concat(
        [
            pd.DataFrame({"series": "trend", "period": dates, "value": 100 + 3 * t}),
            pd.DataFrame(
                {"series": "large", "period": dates, "value": 1000 + rng.normal(0, 20, n)}
            ),
        ]
    )
    frame.loc[frame["series"] == "trend", "value"] += rng.normal(0, 2, n)
    result = forecast_panel(frame, freq="M", horizon=6, models=["AutoETS"])

    bt = result.backtest.set_index(["series", "model"])
    assert bt.loc[("large", "AutoETS"), "failed"]
    assert np.isnan(bt.loc[("large", "AutoETS"), "mase"])
    assert not bt.loc[("large", "AutoETS"), "chosen"]
    assert not bt.loc[("trend", "AutoETS"), "failed"]
    assert bt.loc[("trend", "AutoETS"), "chosen"]  # SeasonalNaive lags a trend by a year

    out = result.forecasts
    assert len(out) == 12
    assert np.isfinite(out[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]]).all(
        axis=None
    )
    assert set(out["model"]) == {"SeasonalNaive"}
    trend_notes = set(out.loc[out["series"] == "trend", "note"])
    assert trend_notes == {"AutoETS failed on the whole history; SeasonalNaive used"}
    assert result.warnings["trend"] == ["AutoETS failed on the whole history; SeasonalNaive used"]


def test_an_ensemble_whose_member_fails_on_the_whole_history_is_not_kept() -> None:
    from custintel.forecasting.pipeline import _pick
    from custintel.forecasting.selection import _ensemble

    dates = pd.date_range("2025-01-01", periods=3, freq="MS")

    def rows(model: str, yhat: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "model": model,
                "unique_id": "s",
                "ds": dates,
                "yhat": yhat,
                "lo_80": yhat - 1,
                "hi_80": yhat + 1,
                "lo_95": yhat - 2,
                "hi_95": yhat + 2,
                "scale": 1.0,
            }
        )

    # The final fit: SeasonalNaive worked, AutoETS failed (NaN, as _Guarded gives).
    final = pd.concat(
        [rows("SeasonalNaive", np.array([10.0, 11.0, 12.0])), rows("AutoETS", np.full(3, np.nan))],
        ignore_index=True,
    )
    members = pd.Series({"s": ["AutoETS", "SeasonalNaive"]}).rename_axis("unique_id")
    final = pd.concat([final, _ensemble(final, members)], ignore_index=True)
    warnings: dict[str, list[str]] = {"s": []}
    history = pd.DataFrame({"unique_id": "s", "y": [9.0, 10.0]})
    picked = _pick(final, pd.Series({"s": "Ensemble"}), members, "SeasonalNaive", history, warnings)
    assert len(picked) == 3
    assert warnings["s"], "the member's failure is recorded"
    assert np.isfinite(picked[["yhat", "lo_80", "hi_80", "lo_95", "hi_95"]]).all(axis=None)


@pytest.mark.filterwarnings(PROPHET_WARNINGS)
def test_a_prophet_fit_that_fails_is_recorded_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prophet import Prophet

    def failing_fit(self: Any, df: pd.DataFrame, **kwargs: Any) -> Any:
        raise RuntimeError("Error during optimization!")

    monkeypatch.setattr(Prophet, "fit", failing_fit)
    frame, dates, _ = seasonal_frame(36, 6, freq="M", season=12, seed=6)
    result = forecast_panel(frame, freq="M", horizon=6, models=["Prophet"], windows=1)
    assert list(pd.to_datetime(result.forecasts["date"])) == list(dates)
    assert set(result.forecasts["model"]) == {"SeasonalNaive"}
    assert result.backtest.set_index("model").loc["Prophet", "failed"]
