"""Prediction intervals that cover what they say, checked on the backtest.

For each model, the backtest measures how often its own 80 % and 95 % intervals held
the actual value. Within the band (80 %: 75-85 %, 95 %: 90-98 %) they are kept. Outside
it, split-conformal intervals replace them: the backtest errors, divided by the model's
own half-width (or, for models without intervals, by the series' scale), give a
multiplier whose empirical quantile covers the nominal share; the final interval is
forecast ± multiplier · half-width. The coverage reported for conformal intervals is
measured leaving each backtest window out of its own calibration.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from custintel.forecasting.models import LEVELS

__all__ = [
    "BANDS",
    "apply_intervals",
    "calibrate",
    "conformal_quantile",
    "nest",
    "selected_out_of_sample",
    "shape",
]

# Coverage we accept from a model's own intervals, per nominal level.
BANDS = {80: (0.75, 0.85), 95: (0.90, 0.98)}
MIN_CALIBRATION_POINTS = 30


def conformal_quantile(scores: np.ndarray, level: int) -> float:
    """The split-conformal quantile: the ⌈(n+1)·level⌉-th smallest score (the largest
    one when n is too small for that), so that a new score falls below it with
    probability at least ``level`` %."""
    scores = np.sort(scores[np.isfinite(scores)])
    if len(scores) == 0:
        return math.nan
    rank = math.ceil((len(scores) + 1) * level / 100)
    return float(scores[min(rank, len(scores)) - 1])


def shape(frame: pd.DataFrame, level: int) -> np.ndarray:
    """The half-width conformal scores are measured in: the model's own interval where it
    has one, else the series' scale."""
    half = (frame[f"hi_{level}"].to_numpy(float) - frame[f"lo_{level}"].to_numpy(float)) / 2
    fallback = frame["scale"].to_numpy(float)
    return np.where(np.isfinite(half) & (half > 0), half, fallback)


def _native_covered(frame: pd.DataFrame, level: int) -> np.ndarray:
    lo, hi = frame[f"lo_{level}"].to_numpy(float), frame[f"hi_{level}"].to_numpy(float)
    y = frame["y"].to_numpy(float)
    covered = (y >= lo) & (y <= hi)
    return np.where(np.isfinite(lo) & np.isfinite(hi), covered, np.nan)


def selected_out_of_sample(long: pd.DataFrame) -> np.ndarray:
    """Which backtest rows the selection would have published, judged without them: in
    each window, each series' model is the one with the lowest scaled error on the
    *other* windows (on all windows when there is only one).

    Calibrating on these rows avoids both biases of simpler choices: a model's errors on
    the series it was chosen for are its luckiest (selection makes them small), and its
    errors on every series include those where it lost (larger than it will make).
    """
    keys = ["unique_id", "model", "cutoff"]
    error = np.abs(long["y"].to_numpy(float) - long["yhat"].to_numpy(float)) / long[
        "scale"
    ].to_numpy(float)
    frame = long[keys].assign(error=error)
    per_window = frame.groupby(keys, sort=False)["error"].agg(["sum", "count"]).reset_index()
    per_model = per_window.groupby(["unique_id", "model"], sort=False)[["sum", "count"]]
    total = per_model.transform("sum")
    windows = per_window.groupby("unique_id")["cutoff"].transform("nunique")
    other_sum = np.where(windows > 1, total["sum"] - per_window["sum"], total["sum"])
    other_count = np.where(windows > 1, total["count"] - per_window["count"], total["count"])
    with np.errstate(invalid="ignore", divide="ignore"):
        per_window["other"] = other_sum / other_count
    # A model that failed anywhere on a series (NaN) is never picked there.
    per_window["other"] = per_window["other"].fillna(np.inf)
    best = per_window.loc[per_window.groupby(["unique_id", "cutoff"])["other"].idxmin(), keys]
    picked = long[keys].merge(best.assign(_picked=True), on=keys, how="left")["_picked"]
    return picked.fillna(False).to_numpy(bool)


def calibrate(long: pd.DataFrame) -> tuple[dict[str, dict[int, dict[str, Any]]], pd.DataFrame]:
    """Decide, per model and level, between its own intervals and conformal ones.

    ``long``: one row per model, series and backtest point (model, unique_id, cutoff, y,
    yhat, lo_80, hi_80, lo_95, hi_95, scale). Returns the calibration per model and level
    (method, multiplier, native and used coverage) and ``long`` with ``covered_80`` and
    ``covered_95``: whether the interval that will be used held the actual value.

    A model's multiplier is measured on the rows where the selection, judged on the other
    windows, would have published it (:func:`selected_out_of_sample`), when they give at
    least ``MIN_CALIBRATION_POINTS`` errors; on all its rows otherwise.
    """
    calibration: dict[str, dict[int, dict[str, Any]]] = {}
    parts = []
    long = long.assign(_selected=selected_out_of_sample(long))
    for model, rows in long.groupby("model", sort=False):
        rows = rows.copy()
        calibration[str(model)] = {}
        mine = rows.pop("_selected").to_numpy(bool)
        if mine.sum() < MIN_CALIBRATION_POINTS:
            mine = np.ones(len(rows), bool)
        for level in LEVELS:
            scores = np.abs(rows["y"].to_numpy(float) - rows["yhat"].to_numpy(float)) / shape(
                rows, level
            )
            native = _native_covered(rows, level)
            native_coverage = (
                float(np.nanmean(native[mine])) if np.isfinite(native[mine]).any() else None
            )
            low, high = BANDS[level]
            keep_native = native_coverage is not None and low <= native_coverage <= high
            multiplier = conformal_quantile(scores[mine], level)
            if keep_native:
                covered = native
            else:
                covered = _leave_window_out(scores, rows["cutoff"].to_numpy(), mine, level)
            rows[f"covered_{level}"] = covered
            calibration[str(model)][level] = {
                "method": "native" if keep_native else "conformal",
                "multiplier": None if keep_native or not math.isfinite(multiplier) else multiplier,
                "native_coverage": native_coverage,
                "coverage": (
                    float(np.nanmean(covered[mine])) if np.isfinite(covered[mine]).any() else None
                ),
            }
        parts.append(rows)
    return calibration, pd.concat(parts, ignore_index=True) if parts else long.drop(
        columns="_selected"
    )


def _leave_window_out(
    scores: np.ndarray, cutoffs: np.ndarray, mine: np.ndarray, level: int
) -> np.ndarray:
    """Whether each score falls within the quantile of the other windows' calibration
    scores (``mine``; the point's own window included when there is only one)."""
    covered = np.full(len(scores), np.nan)
    windows = np.unique(cutoffs)
    for window in windows:
        inside = cutoffs == window
        reference = scores[mine & ~inside] if len(windows) > 1 else scores[mine]
        q = conformal_quantile(reference, level)
        covered[inside] = np.where(np.isfinite(scores[inside]), scores[inside] <= q, np.nan)
    return covered


def apply_intervals(
    frame: pd.DataFrame, calibration: dict[str, dict[int, dict[str, Any]]]
) -> pd.DataFrame:
    """Replace the bounds of ``frame`` (model, yhat, lo_/hi_ per level, scale) by conformal
    ones where the calibration says so; models without a calibration (no backtest) keep
    their own bounds, or get none."""
    frame = frame.copy()
    for model, index in frame.groupby("model", sort=False).groups.items():
        levels = calibration.get(str(model), {})
        for level in LEVELS:
            setting = levels.get(level)
            if not setting or setting["method"] != "conformal" or setting["multiplier"] is None:
                continue
            rows = frame.loc[index]
            half = setting["multiplier"] * shape(rows, level)
            frame.loc[index, f"lo_{level}"] = rows["yhat"].to_numpy(float) - half
            frame.loc[index, f"hi_{level}"] = rows["yhat"].to_numpy(float) + half
    return nest(frame)


def nest(frame: pd.DataFrame) -> pd.DataFrame:
    """The 95 % band holds the 80 % band, which holds the forecast. Two levels
    calibrated apart from few errors can cross (both multipliers from the largest
    error); the wider band then takes the narrower one's bound."""
    low, high = LEVELS
    yhat = frame["yhat"].to_numpy(float)
    frame[f"lo_{low}"] = np.minimum(frame[f"lo_{low}"].to_numpy(float), yhat)
    frame[f"hi_{low}"] = np.maximum(frame[f"hi_{low}"].to_numpy(float), yhat)
    frame[f"lo_{high}"] = np.fmin(frame[f"lo_{high}"].to_numpy(float), frame[f"lo_{low}"])
    frame[f"hi_{high}"] = np.fmax(frame[f"hi_{high}"].to_numpy(float), frame[f"hi_{low}"])
    return frame
