"""Choosing a model per series by its backtest error.

Each candidate's backtest forecasts are scored per series on MASE (mean absolute error
over the in-sample seasonal-naive error) and sMAPE. The lowest MASE wins; the mean of
the two best models (an ensemble) wins instead when its own backtest MASE is lower
still. A model that failed on a series (NaN forecasts) cannot win there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from custintel.forecasting.backtest import smape
from custintel.forecasting.models import LEVELS

__all__ = ["ENSEMBLE", "ENSEMBLE_SIZE", "choose", "to_long"]

ENSEMBLE = "Ensemble"
ENSEMBLE_SIZE = 2
VALUE_COLUMNS = ["yhat"] + [f"{side}_{level}" for level in LEVELS for side in ("lo", "hi")]


def to_long(wide: pd.DataFrame, names: list[str], scale: pd.Series) -> pd.DataFrame:
    """statsforecast's wide frame (a column per model and bound) → one row per model,
    series and date: model, unique_id, ds, [cutoff,] [y,] yhat, lo_80 ... hi_95, scale."""
    keys = [c for c in ("unique_id", "ds", "cutoff", "y") if c in wide]
    parts = []
    for name in names:
        part = wide[keys].copy()
        part.insert(0, "model", name)
        part["yhat"] = wide[name].to_numpy(float)
        for level in LEVELS:
            part[f"lo_{level}"] = wide[f"{name}-lo-{level}"].to_numpy(float)
            part[f"hi_{level}"] = wide[f"{name}-hi-{level}"].to_numpy(float)
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long["scale"] = long["unique_id"].map(scale).to_numpy(float)
    return long


def _scores(long: pd.DataFrame) -> pd.DataFrame:
    error = np.abs(long["y"].to_numpy(float) - long["yhat"].to_numpy(float))
    frame = pd.DataFrame(
        {
            "unique_id": long["unique_id"],
            "model": long["model"],
            "scaled_error": error / long["scale"].to_numpy(float),
            "smape": smape(long["y"].to_numpy(float), long["yhat"].to_numpy(float)),
            "failed": ~np.isfinite(long["yhat"].to_numpy(float)),
        }
    )
    scores = frame.groupby(["unique_id", "model"], sort=False).agg(
        mase=("scaled_error", "mean"), smape=("smape", "mean"), failed=("failed", "any")
    )
    scores.loc[scores["failed"], ["mase", "smape"]] = np.nan
    return scores.reset_index()


def _ensemble(long: pd.DataFrame, members: pd.Series) -> pd.DataFrame:
    """The mean of each series' member models, as rows of model ``Ensemble``."""
    picked = long.merge(members.explode().rename("model").reset_index(), on=["unique_id", "model"])
    keys = [c for c in ("unique_id", "ds", "cutoff") if c in picked]
    first = {c: "first" for c in ("y", "scale") if c in picked}
    mean = picked.groupby(keys, sort=False).agg(
        **{c: (c, "mean") for c in VALUE_COLUMNS}, **{c: (c, how) for c, how in first.items()}
    )
    # A member without bounds leaves the ensemble without bounds (conformal ones follow).
    by = [picked[k] for k in keys]
    missing = picked[VALUE_COLUMNS[1:]].isna().groupby(by, sort=False).any()
    mean[VALUE_COLUMNS[1:]] = mean[VALUE_COLUMNS[1:]].mask(missing)
    out = mean.reset_index()
    out.insert(0, "model", ENSEMBLE)
    return out


def choose(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Score every candidate, add the ensemble, pick per series.

    Returns the backtest rows with the ensemble's added, the score table (unique_id,
    model, mase, smape, failed, chosen) and, per series, the ensemble's member models
    (empty lists where fewer than two models succeeded).
    """
    scores = _scores(long)
    ok = scores[~scores["failed"]].sort_values(["unique_id", "mase", "smape"])
    ranked = ok.groupby("unique_id", sort=False)["model"].apply(list)
    members = ranked.map(lambda models: models[:ENSEMBLE_SIZE])
    members = members[members.map(len) == ENSEMBLE_SIZE]
    if len(members):
        ensemble = _ensemble(long, members)
        long = pd.concat([long, ensemble], ignore_index=True)
        scores = pd.concat([scores, _scores(ensemble)], ignore_index=True)
    best = (
        scores[~scores["failed"]]
        .sort_values(["unique_id", "mase", "smape"])
        .groupby("unique_id", sort=False)
        .head(1)
    )
    scores["chosen"] = scores.index.isin(best.index)
    return long, scores, members
