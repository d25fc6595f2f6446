"""Rolling-origin backtest: every candidate forecasts from several past origins, with the
requested horizon, and is scored on what happened next.

The origins are spaced ``step`` periods apart and the last window ends at the last
period, so every window is data the model did not see. Errors are scaled per series by
the in-sample seasonal-naive error before the first origin (the MASE denominator, so
no window's scale sees its own test data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce

import numpy as np
import pandas as pd

from custintel.forecasting.models import SEASON, Engine

__all__ = ["BacktestPlan", "plan_backtest", "run_backtest", "series_scale", "smape"]

DEFAULT_WINDOWS = 3


@dataclass(frozen=True)
class BacktestPlan:
    """How a group of series is backtested (``windows == 0``: too short to backtest)."""

    horizon: int
    windows: int
    step: int
    min_train: int
    warning: str | None = None


def plan_backtest(
    length: int, horizon: int, *, seasonal: bool, freq: str, windows: int = DEFAULT_WINDOWS
) -> BacktestPlan:
    """Fit as many windows (up to ``windows``) of the full horizon as the history allows,
    spacing origins a horizon apart when it can and closer when it must; a history too
    short for one full window is backtested on a shorter horizon (at least half of it)."""
    min_train = 2 * SEASON[freq] if seasonal else 4
    available = length - min_train
    if available >= horizon:
        spare = available - horizon
        n_windows = min(windows, 1 + spare)
        step = horizon if spare >= (n_windows - 1) * horizon else spare // max(1, n_windows - 1)
        return BacktestPlan(horizon, n_windows, max(step, 1), min_train)
    shortest = math.ceil(horizon / 2)
    if available >= shortest:
        return BacktestPlan(
            available,
            1,
            1,
            min_train,
            f"history too short for a {horizon}-period backtest: accuracy measured on "
            f"{available} periods ahead only",
        )
    return BacktestPlan(
        0,
        0,
        0,
        min_train,
        f"history too short to measure accuracy (needs {min_train + shortest} periods, has "
        f"{length}): the floor model forecasts, its accuracy unknown",
    )


def series_scale(panel: pd.DataFrame, first_cutoff: pd.Series, freq: str) -> pd.Series:
    """Per series: the mean absolute seasonal difference of its history up to its first
    backtest origin (lag 1 when shorter than two seasons). Zero scales (constant
    stretches) fall back to the mean absolute value, then to 1."""
    m = SEASON[freq]
    out = {}
    for uid, series in panel.groupby("unique_id", sort=False):
        y = series.loc[series["ds"] <= first_cutoff[uid], "y"].to_numpy(float)
        lag = m if len(y) > 2 * m else 1
        diffs = np.abs(y[lag:] - y[:-lag]) if len(y) > lag else np.array([])
        scale = float(diffs.mean()) if len(diffs) else 0.0
        if not scale > 0:
            scale = float(np.abs(y).mean()) if len(y) else 0.0
        out[uid] = scale if scale > 0 else 1.0
    return pd.Series(out, name="scale")


def smape(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Symmetric absolute percentage error per point, 0-200 (0 when both are 0)."""
    denominator = np.abs(actual) + np.abs(predicted)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 200 * np.abs(actual - predicted) / denominator
    return np.where(denominator == 0, 0.0, value)


def run_backtest(engines: list[Engine], panel: pd.DataFrame, plan: BacktestPlan) -> pd.DataFrame:
    """Every engine's cross-validation, joined: unique_id, ds, cutoff, y, and each model's
    point and interval columns (NaN where a model failed on a series)."""
    frames = [
        engine.cross_validation(panel, plan.horizon, plan.windows, plan.step) for engine in engines
    ]
    keys = ["unique_id", "ds", "cutoff"]
    first, *rest = frames
    rest = [f.drop(columns=["y"]) for f in rest]
    joined = reduce(lambda a, b: a.merge(b, on=keys, how="left"), rest, first)
    return joined.sort_values(keys).reset_index(drop=True)
