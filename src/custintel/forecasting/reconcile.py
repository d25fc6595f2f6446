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


def reconcile(forecasts: pd.DataFrame, total: str, *, nonnegative: bool) -> pd.DataFrame:
    """``forecasts`` (unique_id, ds, yhat, lo_/hi_ bounds, ...) with the non-total series'
    forecasts adding up to ``total``'s on every date."""
    result = _min_trace(forecasts, total, nonnegative=False)
    if nonnegative and (result["reconciled"] < 0).any():
        result = _min_trace(forecasts, total, nonnegative=True)
    merged = forecasts.merge(result, on=["unique_id", "ds"], how="left")
    shift = merged["reconciled"].to_numpy(float) - merged["yhat"].to_numpy(float)
    merged["yhat"] = merged["reconciled"]
    for level in LEVELS:
        for side in ("lo", "hi"):
            column = f"{side}_{level}"
            values = merged[column].to_numpy(float) + shift
            merged[column] = np.maximum(values, 0) if nonnegative else values
    return merged.drop(columns=["reconciled"])
