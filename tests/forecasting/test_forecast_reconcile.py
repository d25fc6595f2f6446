"""Per-group forecasts add up to the total; bounds are ordered; non-negative stays so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custintel.forecasting import ForecastResult, forecast_panel
from custintel.forecasting.reconcile import reconcile

BOUNDS = ["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]


def panel(series: dict[str, np.ndarray], start: str = "2021-01-01") -> pd.DataFrame:
    parts = []
    for name, values in series.items():
        dates = pd.date_range(start, periods=len(values), freq="MS")
        parts.append(pd.DataFrame({"series": name, "period": dates, "value": values}))
    return pd.concat(parts, ignore_index=True)


def by_date(result: ForecastResult, column: str = "forecast") -> pd.DataFrame:
    return result.forecasts.pivot(index="date", columns="series", values=column)


@pytest.fixture(scope="module")
def coherent() -> ForecastResult:
    """A total and three groups adding up to it: a seasonal one, a growing one and one
    declining to nothing."""
    rng = np.random.default_rng(31)
    n = 48
    t = np.arange(n)
    groups = {
        "seasonal": 200 + 50 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 10, n),
        "growing": 100 + 2 * t + rng.normal(0, 8, n),
        "fading": np.maximum(120 - 3 * t + rng.normal(0, 5, n), 0),
    }
    groups["total"] = groups["seasonal"] + groups["growing"] + groups["fading"]
    assert all((v >= 0).all() for v in groups.values())
    return forecast_panel(panel(groups), freq="M", horizon=6, models=["AutoETS"], total="total")


def test_groups_add_up_to_the_total_on_every_date(coherent: ForecastResult) -> None:
    assert coherent.settings["reconciled"]
    wide = by_date(coherent)
    assert len(wide) == 6 and not wide.isna().any(axis=None)
    parts = wide[["seasonal", "growing", "fading"]].sum(axis=1)
    np.testing.assert_allclose(parts, wide["total"], rtol=1e-9, atol=1e-6)


def test_bounds_are_ordered_around_the_forecast(coherent: ForecastResult) -> None:
    values = coherent.forecasts[BOUNDS].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= -1e-9).all()
    # and the bands are bands: the 95 % one is wider than nothing somewhere
    assert (coherent.forecasts["upper_95"] > coherent.forecasts["lower_95"]).any()


def test_series_that_never_went_negative_get_no_negative_values(
    coherent: ForecastResult,
) -> None:
    values = coherent.forecasts[BOUNDS].to_numpy()
    assert (values >= 0).all()
    fading = coherent.forecasts[coherent.forecasts["series"] == "fading"]
    # It was at zero at the end: its forecast stays near there, not back at its start.
    assert (fading["forecast"] < 60).all()


def test_a_series_declining_to_zero_is_not_forecast_below_zero() -> None:
    rng = np.random.default_rng(32)
    t = np.arange(30)
    declining = np.maximum(150 - 5 * t + rng.normal(0, 3, 30), 0)
    result = forecast_panel(panel({"s": declining}), freq="M", horizon=6)
    values = result.forecasts[BOUNDS].to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    # Left alone, its trend would reach below zero within the horizon.
    assert (result.forecasts["forecast"] < declining[-1]).any()


def test_reconcile_moves_the_groups_to_the_total_and_keeps_band_widths() -> None:
    dates = pd.date_range("2025-01-01", periods=2, freq="MS")
    rows = []
    for name, value in (("total", 100.0), ("a", 40.0), ("b", 50.0)):  # 40 + 50 != 100
        rows.append(
            pd.DataFrame(
                {
                    "model": "m",
                    "unique_id": name,
                    "ds": dates,
                    "yhat": value,
                    "lo_80": value - 5,
                    "hi_80": value + 5,
                    "lo_95": value - 9,
                    "hi_95": value + 9,
                }
            )
        )
    out = reconcile(pd.concat(rows, ignore_index=True), "total", nonnegative=set())
    wide = out.pivot(index="ds", columns="unique_id", values="yhat")
    np.testing.assert_allclose(wide["a"] + wide["b"], wide["total"])
    assert ((wide["total"] > 90) & (wide["total"] < 100)).all()  # met in between
    # the two groups had the same error to share: they move by the same amount
    np.testing.assert_allclose(wide["a"] - 40.0, wide["b"] - 50.0)
    np.testing.assert_allclose(out["hi_80"] - out["lo_80"], 10.0)
    np.testing.assert_allclose(out["hi_95"] - out["yhat"], 9.0)


def test_a_group_that_is_always_negative_keeps_a_negative_forecast() -> None:
    rng = np.random.default_rng(33)
    n = 30
    groups = {
        "shop": 200 + rng.normal(0, 10, n),
        "outlet": 100 + rng.normal(0, 8, n),
        "refunds": -30 + rng.normal(0, 3, n),  # never above -20
    }
    groups["total"] = groups["shop"] + groups["outlet"] + groups["refunds"]
    result = forecast_panel(panel(groups), freq="M", horizon=3, models=["AutoETS"], total="total")
    wide = by_date(result)
    np.testing.assert_allclose(wide[["shop", "outlet", "refunds"]].sum(axis=1), wide["total"])
    assert (wide["refunds"] < -10).all(), wide["refunds"].tolist()


def test_a_non_negative_group_stays_non_negative_when_the_total_goes_negative() -> None:
    rng = np.random.default_rng(34)
    n = 30
    t = np.arange(n)
    groups = {
        "sales": np.maximum(100 - 3.5 * t + rng.normal(0, 3, n), 0),  # fading to 0
        "refunds": -20 + rng.normal(0, 2, n),
    }
    groups["total"] = groups["sales"] + groups["refunds"]  # negative at the end
    assert (groups["sales"] >= 0).all() and (groups["total"] < 0).any()
    result = forecast_panel(panel(groups), freq="M", horizon=6, models=["AutoETS"], total="total")
    wide = by_date(result)
    np.testing.assert_allclose(wide[["sales", "refunds"]].sum(axis=1), wide["total"])
    sales = result.forecasts[result.forecasts["series"] == "sales"]
    assert (sales[BOUNDS].to_numpy() >= 0).all(), sales[BOUNDS].min().to_dict()
