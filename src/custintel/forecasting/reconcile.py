"""Coherent forecasts: the per-group series add up to the total.

hierarchicalforecast's MinTrace with structural weights (``wls_struct``) moves each
series' forecast by the least weighted amount that makes the groups add up to the total;
it needs no in-sample residuals, so every candidate model qualifies. Where that would
give a negative value to a series that cannot go negative, the non-negative variant (a
small quadratic programme) is used instead. Interval bounds move with their point
forecast: the band keeps its width and stays around the reconciled value.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from custintel.forecasting.models import LEVELS

__all__ = ["reconcile"]


def _min_trace(base: pd.DataFrame, total: str, nonnegative: bool) -> pd.DataFrame:
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import MinTrace

    bottom = sorted(u for u in base["unique_id"].unique() if u != total)
    s_matrix = pd.DataFrame({"unique_id": [total, *bottom]})
    for name in bottom:
        s_matrix[name] = [1.0] + [1.0 if b == name else 0.0 for b in bottom]
    tags = {"total": np.array([total]), "total/series": np.array(bottom)}
    method = MinTrace(method="wls_struct", nonnegative=nonnegative)
    with warnings.catch_warnings():
        # qpsolvers converts its dense matrices to sparse ones, and says so each time.
        warnings.simplefilter("ignore")
        out = HierarchicalReconciliation([method]).reconcile(
            Y_hat_df=base[["unique_id", "ds", "yhat"]], tags=tags, S_df=s_matrix
        )
    column = next(c for c in out.columns if c.startswith("yhat/"))
    return out[["unique_id", "ds", column]].rename(columns={column: "reconciled"})


def reconcile(forecasts: pd.DataFrame, total: str, *, nonnegative: set[str]) -> pd.DataFrame:
    """``forecasts`` (unique_id, ds, yhat, lo_/hi_ bounds, ...) with the non-total series'
    forecasts adding up to ``total``'s on every date.

    ``nonnegative``: the series that never went below zero. When that is every series,
    MinTrace keeps them all at or above zero. When some may go negative (net refunds),
    the plain reconciliation is clipped at zero for the others and the total becomes the
    sum of its parts again (bottom-up), so the series still add up.
    """
    every = set(forecasts["unique_id"].astype(str))
    all_nonnegative = every <= nonnegative
    result = _min_trace(forecasts, total, nonnegative=False)
    if all_nonnegative and (result["reconciled"] < 0).any():
        result = _min_trace(forecasts, total, nonnegative=True)
    merged = forecasts.merge(result, on=["unique_id", "ds"], how="left")
    bounds = [f"{side}_{level}" for level in LEVELS for side in ("lo", "hi")]
    _move(merged, merged["reconciled"].to_numpy(float), bounds)
    if not all_nonnegative:
        keep_positive = merged["unique_id"].isin(nonnegative) & (merged["unique_id"] != total)
        clipped = np.where(keep_positive, np.maximum(merged["yhat"], 0), merged["yhat"])
        _move(merged, clipped, bounds)
        is_total = (merged["unique_id"] == total).to_numpy()
        parts = merged[~is_total].groupby("ds")["yhat"].sum()
        summed = merged["ds"].map(parts).to_numpy(float)
        _move(merged, np.where(is_total, summed, merged["yhat"]), bounds)
    clip = merged["unique_id"].isin(nonnegative).to_numpy()
    for column in bounds:
        values = merged[column].to_numpy(float)
        merged[column] = np.where(clip, np.maximum(values, 0), values)
    return merged.drop(columns=["reconciled"])


def _move(frame: pd.DataFrame, new: np.ndarray, bounds: list[str]) -> None:
    """Set the point forecasts to ``new`` and move each band by the same amount."""
    shift = new - frame["yhat"].to_numpy(float)
    frame["yhat"] = new
    for column in bounds:
        frame[column] = frame[column].to_numpy(float) + shift
