"""Why a customer is at risk: SHAP values of the churn trees, in plain words.

TreeSHAP (LightGBM's own ``pred_contrib`` for the LightGBM model, the ``shap`` package
for other trees) splits each customer's churn score (log-odds of the
gradient-boosting churn model) into one contribution per feature. The three largest,
with their direction, become ``top_factors``: "last order 94 days ago (raises churn
risk); usual gap 31 days (raises churn risk); ...". The mean absolute contribution per
feature is the global importance.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["describe", "explain_churn"]

_WINDOW = re.compile(r"(orders|spend)_(\d+)d$")
_PHRASES = {
    "recency_days": "last order {v:.0f} days ago",
    "ipi_mean_days": "usual gap between orders {v:.0f} days",
    "ipi_std_days": "gaps between orders vary by {v:.0f} days",
    "recency_vs_usual": "{v:.1f}× their usual gap since the last order",
    "frequency": "{v:.0f} orders so far",
    "purchase_days": "bought on {v:.0f} days so far",
    "monetary": "spent {v:,.2f} so far",
    "monetary_mean": "{v:,.2f} per order on average",
    "tenure_days": "customer for {v:.0f} days",
    "trend_90d": "spending trend over 90 days {v:+.2f}",
    "refund_count": "{v:.0f} refunds",
    "btyd_p_alive": "P(active) {v:.0%} by the BTYD model",
    "btyd_orders_rate": "{v:.3f} expected orders a day by the BTYD model",
    "btyd_spend_rate": "{v:,.2f} expected spend a day by the BTYD models",
}


def describe(feature: str, value: float) -> str:
    """One feature's value in words a marketer reads without a glossary."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"no {feature.replace('_', ' ')} yet"
    if feature in _PHRASES:
        return _PHRASES[feature].format(v=value)
    window = _WINDOW.match(feature)
    if window:
        what, days = window.groups()
        if what == "orders":
            return f"{value:.0f} orders in the last {days} days"
        return f"spent {value:,.2f} in the last {days} days"
    if feature.startswith("share__"):
        return f"{value:.0%} of spend on {feature.removeprefix('share__')}"
    if feature.startswith("spend__"):
        return f"spent {value:,.2f} on {feature.removeprefix('spend__')}"
    return f"{feature.replace('_', ' ')} {value:,.3g}"


def _shap_values(classifier: Any, inputs: pd.DataFrame) -> np.ndarray:
    """SHAP values of the churn class, one row per customer and column per feature.

    LightGBM computes TreeSHAP itself (``pred_contrib``, the same algorithm as the shap
    package, on every core): at 1M customers that is many times faster than shap's
    single-threaded explainer, which serves the other tree models.
    """
    import lightgbm as lgb

    from custintel.value.persist import SavedLightGBM

    if isinstance(classifier, lgb.LGBMModel | SavedLightGBM):
        contributions = classifier.predict(inputs, pred_contrib=True)
        return np.asarray(contributions, float)[:, :-1]  # the last column is the base value
    with warnings.catch_warnings():
        # shap's import trips matplotlib deprecation notes; not ours to act on.
        warnings.simplefilter("ignore")
        import shap

        values = shap.TreeExplainer(classifier).shap_values(inputs)
    if isinstance(values, list):  # older shap: one array per class
        values = values[1]
    values = np.asarray(values, float)
    return values[:, :, 1] if values.ndim == 3 else values


def _in_words(values: np.ndarray, data: np.ndarray, features: list[str], top: int) -> list[str]:
    """Each row's ``top`` contributions, largest first, as "<feature in words> (raises
    churn risk)" joined by semicolons."""
    order = np.argsort(-np.abs(values), axis=1)[:, :top]
    texts = []
    for i, picks in enumerate(order):
        parts = []
        for j in picks:
            direction = "raises" if values[i, j] > 0 else "lowers"
            parts.append(f"{describe(features[j], data[i, j])} ({direction} churn risk)")
        texts.append("; ".join(parts))
    return texts


def explain_churn(
    classifier: Any,
    frame: pd.DataFrame,
    features: list[str],
    top: int = 3,
    *,
    priority: np.ndarray | None = None,
    limit: int | None = None,
    importance_rows: int = 10_000,
    seed: int = 0,
) -> tuple[list[str | None], dict[str, float]]:
    """Per row of ``frame``, its ``top`` churn factors in words; and the global
    importance (mean |SHAP| per feature, largest first).

    TreeSHAP costs about 0.15 ms a row for a 300-tree model on 2 cores (150 s for a
    million customers), so with more rows than ``limit`` only the ``limit`` rows of
    highest ``priority`` are explained (the rest get None; their feature rows are
    explained when sent to the API, ``value/rows.py``), and the global importance comes
    from a uniform sample of ``importance_rows`` rows, so that it describes every
    customer, not only the chosen.
    """
    data = frame[features]
    rows = len(frame)
    if limit is None or rows <= limit:
        values = _shap_values(classifier, data)
        texts: list[str | None] = list(_in_words(values, data.to_numpy(float), features, top))
        spread = values
    else:
        if priority is None:
            raise ValueError("explain_churn needs a priority to choose the rows to explain")
        chosen = np.argsort(-np.asarray(priority, float), kind="stable")[:limit]
        picked = data.iloc[chosen]
        words = _in_words(_shap_values(classifier, picked), picked.to_numpy(float), features, top)
        texts = [None] * rows
        for row, text in zip(chosen, words, strict=True):
            texts[row] = text
        sample = np.random.default_rng(seed).choice(rows, min(rows, importance_rows), replace=False)
        spread = _shap_values(classifier, data.iloc[np.sort(sample)])
    importance = pd.Series(np.abs(spread).mean(axis=0), index=features).sort_values(ascending=False)
    return texts, {str(k): float(v) for k, v in importance.items()}
