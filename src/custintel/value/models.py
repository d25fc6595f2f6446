"""Candidate value models per target, and the choice between them by a time split.

Targets: ``spend`` and ``orders`` in the next N days (regression on per-day rates, see
examples.py) and ``churn`` (no order in the next N days). Candidates:

- ``btyd``: BG/NBD + Gamma-Gamma's expectation (its rate over the window × N days);
  for churn, 1 − P(alive) blended with the chance of no order over the window is not
  available in closed form here, so the BTYD churn score is its expected orders,
  inverted and calibrated on the training cutoffs;
- ``gbm``: LightGBM on the point-in-time features plus the BTYD rates;
- ``blend``: the mean of the two;
- ``run_rate``: the customer's spend (orders) over the last year, or over their tenure
  when shorter, scaled to the horizon;
- ``rfm_cell``: the mean training rate of customers in the same recency × frequency
  quintile cell, scaled to the horizon.

Every candidate is fitted on the training cutoffs and scored on the validation cutoff
(later than all training label windows); the best by RMSE (spend, orders) or by Brier
score (churn, whose probabilities must be calibrated) is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from custintel.value.metrics import churn_metrics, spend_metrics

__all__ = ["CANDIDATES", "ValueModels", "feature_columns", "fit_candidates"]

CANDIDATES = ("btyd", "gbm", "blend", "run_rate", "rfm_cell")
NOT_FEATURES = {
    "as_of",
    "customer_id",
    "window_days",
    "spend",
    "orders",
    "churned",
    "days_to_next_order",
    "spend_rate",
    "orders_rate",
}
RATE = {"spend": "spend_rate", "orders": "orders_rate"}


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns a model may learn from (no ids, no labels)."""
    return [
        c
        for c in frame.columns
        if c not in NOT_FEATURES
        and not c.startswith("next_spend__")
        and pd.api.types.is_numeric_dtype(frame[c])
    ]


def _gbm_regressor(seed: int = 0) -> Any:
    import lightgbm as lgb

    return lgb.LGBMRegressor(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        verbose=-1,
    )


def _gbm_classifier(seed: int = 0) -> Any:
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        class_weight="balanced",
        random_state=seed,
        verbose=-1,
    )


def _run_rate(frame: pd.DataFrame, target: str) -> np.ndarray:
    column = "spend_365d" if target == "spend" else "orders_365d"
    days = np.clip(frame["tenure_days"].to_numpy(float), 1, 365)
    return frame[column].to_numpy(float) / days


def _cells(frame: pd.DataFrame, edges: dict[str, np.ndarray]) -> pd.Series:
    r = np.searchsorted(edges["recency_days"], frame["recency_days"].to_numpy(float))
    f = np.searchsorted(edges["frequency"], frame["frequency"].to_numpy(float))
    return pd.Series(r * 10 + f, index=frame.index)


@dataclass
class ValueModels:
    """The fitted candidates of every target, and what the validation split chose."""

    features: list[str]
    regressors: dict[str, Any] = field(default_factory=dict)
    classifier: Any = None
    calibrators: dict[str, Any] = field(default_factory=dict)
    cell_edges: dict[str, np.ndarray] = field(default_factory=dict)
    cell_rates: dict[str, pd.Series] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)

    def predict(self, frame: pd.DataFrame, target: str, horizon_days: int) -> dict[str, np.ndarray]:
        """Every candidate's prediction for ``target`` over the horizon (churn: the
        calibrated probability of no order)."""
        if target == "churn":
            return self._churn(frame)
        rate = f"btyd_{target}_rate"
        btyd = np.nan_to_num(frame[rate].to_numpy(float)) * horizon_days
        gbm = np.clip(self.regressors[target].predict(frame[self.features]), 0, None)
        gbm = gbm * horizon_days
        cells = _cells(frame, self.cell_edges)
        fallback = float(self.cell_rates[target].mean())
        rfm = cells.map(self.cell_rates[target]).fillna(fallback).to_numpy(float)
        return {
            "btyd": btyd,
            "gbm": gbm,
            "blend": (btyd + gbm) / 2,
            "run_rate": _run_rate(frame, target) * horizon_days,
            "rfm_cell": rfm * horizon_days,
        }

    def next_order_days(self, frame: pd.DataFrame, horizon_days: int) -> dict[str, np.ndarray]:
        """Days from as_of to the next order, for a customer who orders within the
        horizon: the trees' estimate, and the usual-gap baseline (mean gap minus days
        since the last order, at least 0; half the horizon without a gap yet)."""
        share = self.regressors["next_order"].predict(frame[self.features])
        gbm = np.clip(share, 0, 1) * (horizon_days - 1)
        gap = frame["ipi_mean_days"].to_numpy(float) - frame["recency_days"].to_numpy(float)
        usual = np.where(np.isnan(gap), horizon_days / 2, np.clip(gap, 0, horizon_days - 1))
        return {"gbm": gbm, "usual_gap": usual}

    def _churn(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        raw = {
            "gbm": self.classifier.predict_proba(frame[self.features])[:, 1],
            "btyd": -np.nan_to_num(frame["btyd_orders_rate"].to_numpy(float)),
        }
        out = {name: self.calibrators[name].predict(score) for name, score in raw.items()}
        out["blend"] = (out["gbm"] + out["btyd"]) / 2
        return out


def fit_candidates(train: pd.DataFrame, calibration: pd.DataFrame) -> ValueModels:
    """Fit every candidate on ``train`` (labelled examples); the churn probabilities are
    calibrated (isotonic) on ``calibration``, a later labelled cutoff."""
    from sklearn.isotonic import IsotonicRegression

    models = ValueModels(features=feature_columns(train))
    for target, rate in RATE.items():
        gbm = _gbm_regressor()
        gbm.fit(train[models.features], train[rate])
        models.regressors[target] = gbm
    # Next order: among customers who ordered within the window, when (as a share of
    # the window, so that windows of different lengths train together).
    ordered = train[train["days_to_next_order"].notna()]
    gbm = _gbm_regressor()
    gbm.fit(ordered[models.features], ordered["days_to_next_order"] / ordered["window_days"])
    models.regressors["next_order"] = gbm
    quantiles = np.linspace(0, 1, 6)[1:-1]
    models.cell_edges = {
        c: np.unique(np.quantile(train[c].dropna(), quantiles))
        for c in ("recency_days", "frequency")
    }
    cells = _cells(train, models.cell_edges)
    models.cell_rates = {t: train[r].groupby(cells).mean() for t, r in RATE.items()}
    classifier = _gbm_classifier()
    classifier.fit(train[models.features], train["churned"].astype(int))
    models.classifier = classifier
    churned = calibration["churned"].astype(int).to_numpy()
    raw = {
        "gbm": classifier.predict_proba(calibration[models.features])[:, 1],
        "btyd": -np.nan_to_num(calibration["btyd_orders_rate"].to_numpy(float)),
    }
    for name, score in raw.items():
        models.calibrators[name] = IsotonicRegression(out_of_bounds="clip").fit(score, churned)
    return models


def compare(
    models: ValueModels, validation: pd.DataFrame, horizon_days: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Every candidate's metrics per target on the validation examples, and the choice
    (stored in ``models.chosen``): lowest RMSE for spend and orders, lowest Brier for
    churn."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for target in ("spend", "orders"):
        actual = validation[target].to_numpy(float)
        table[target] = {
            name: spend_metrics(actual, predicted)
            for name, predicted in models.predict(validation, target, horizon_days).items()
        }
        models.chosen[target] = min(table[target], key=lambda n: table[target][n]["rmse"])
    churned = validation["churned"].to_numpy(bool)
    table["churn"] = {
        name: churn_metrics(churned, p)
        for name, p in models.predict(validation, "churn", horizon_days).items()
    }
    models.chosen["churn"] = min(table["churn"], key=lambda n: table["churn"][n]["brier"])
    ordered = validation[validation["days_to_next_order"].notna()]
    actual_days = ordered["days_to_next_order"].to_numpy(float)
    table["next_order"] = {
        name: {
            "mae_days": float(np.mean(np.abs(days - actual_days))),
            "median_abs_days": float(np.median(np.abs(days - actual_days))),
            "customers": float(len(ordered)),
        }
        for name, days in models.next_order_days(ordered, horizon_days).items()
    }
    models.chosen["next_order"] = min(
        table["next_order"], key=lambda n: table["next_order"][n]["mae_days"]
    )
    spend = models.predict(validation, "spend", horizon_days)[models.chosen["spend"]]
    allocated = category_spend(validation, spend)
    table["spend_by_category"] = {
        column.removeprefix("expected_spend__"): spend_metrics(
            validation[column.replace("expected_spend__", "next_spend__")].to_numpy(float),
            allocated[column].to_numpy(float),
        )
        for column in allocated.columns
        if column.replace("expected_spend__", "next_spend__") in validation
    }
    return table


def category_spend(frame: pd.DataFrame, spend: np.ndarray) -> pd.DataFrame:
    """Expected spend per category: the total split by each customer's own category
    shares so far (the shop's average shares for customers without sales), so the
    categories add up to the total exactly."""
    shares = frame[[c for c in frame.columns if c.startswith("share__")]].astype(float)
    if shares.empty:
        return pd.DataFrame(index=frame.index)
    average = shares.mean().fillna(0)
    average = average / average.sum() if average.sum() > 0 else average
    filled = shares.fillna(0)
    without = filled.sum(axis=1).to_numpy() <= 0
    filled.loc[without, :] = average.to_numpy()
    filled = filled.div(filled.sum(axis=1).replace(0, np.nan), axis=0).fillna(0)
    out = filled.mul(np.asarray(spend, float), axis=0)
    out.columns = [c.replace("share__", "expected_spend__") for c in out.columns]
    return out
