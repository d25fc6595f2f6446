"""Training and scoring examples for the machine-learned value models.

One row per (cutoff, customer): the point-in-time features, the BTYD model's view at that
cutoff (fitted on the rows before it), and, for labelled cutoffs, what happened next.

Label windows may be shorter than the horizon asked for: a shop with 9 months of history
cannot label a 9-month horizon anywhere before its last day. So every target is a *rate*
(spend and orders per day of the window) and the BTYD model supplies, as features, its
expected rates over the same window; at scoring the window is the horizon. The BTYD rates
carry what the horizon changes (customers drop out, so longer windows have lower rates),
and the trees learn how the shop's customers differ from BTYD's view within the range of
rates they were trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from custintel.features.customer import customer_features
from custintel.value.btyd import btyd_summary, fit_btyd
from custintel.value.labels import labels

__all__ = ["BTYD_FEATURES", "examples"]

BTYD_FEATURES = ("btyd_orders_rate", "btyd_spend_rate", "btyd_p_alive")


def _btyd_view(con: duckdb.DuckDBPyConnection, cutoff: date, window_days: int) -> pd.DataFrame:
    summary = btyd_summary(con, cutoff)
    model = fit_btyd(summary)
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "btyd_orders_rate": np.asarray(model.expected_orders(summary, window_days))
            / window_days,
            "btyd_spend_rate": np.asarray(model.expected_spend(summary, window_days)) / window_days,
            "btyd_p_alive": np.asarray(model.p_alive(summary)),
        }
    )


def examples(
    con: duckdb.DuckDBPyConnection,
    windows: Sequence[tuple[date, int]],
    *,
    categories: Sequence[str] = (),
    labelled: bool = True,
) -> pd.DataFrame:
    """Examples at each ``(cutoff, window_days)``: features, BTYD rates over the window,
    and (``labelled``) the realised spend, orders and churn in the window, as totals and
    as per-day rates (``spend_rate``, ``orders_rate``)."""
    cutoffs = [c for c, _ in windows]
    features = customer_features(con, cutoffs, categories=categories or None).to_pandas()
    features["as_of"] = pd.to_datetime(features["as_of"]).dt.date
    parts = []
    for cutoff, window in windows:
        part = features[features["as_of"] == cutoff].merge(
            _btyd_view(con, cutoff, window), on="customer_id", how="left"
        )
        part["window_days"] = window
        if labelled:
            part = part.merge(
                labels(con, [cutoff], window, categories=categories),
                on=["as_of", "customer_id"],
                how="left",
            )
            part["spend_rate"] = part["spend"] / window
            part["orders_rate"] = part["orders"] / window
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
