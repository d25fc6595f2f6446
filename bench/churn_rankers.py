"""Two other ways to rank churn over a horizon longer than the label windows, checked
against the churn models as ``custintel score`` serves them (docs/value-experiments.md, "Churn
rankers tried on 2026-12-02"), on the two windows of ``bench.value.HORIZON_CHECKS``
inside CDNOW's calibration period: nothing of the holdout is read.

    python -m bench.churn_rankers        # prints JSON, about 4 minutes

1. *Survival*: XGBoost's accelerated-failure-time and Cox objectives learn the days from
   each training cutoff to the customer's next order, observed up to as_of and censored
   there, so the training cutoffs see 142 to 212 days ahead instead of the 30- or 47-day
   label windows; P(churn over the horizon) is the survival function at the horizon.
2. *Expected orders*: churn ranked by each orders candidate's expected orders over the
   horizon, the way the issue's reference ranks BTYD.

Written before either ran (2026-12-02): a way goes further (to calibration, the choice
step and the holdout) only if, at both checks, its best variant's ROC-AUC beats every
churn candidate as served by at least 0.003. Neither did.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import numpy as np

from bench.cdnow import cdnow_store
from bench.value import HORIZON_CHECKS, fitted_on_cdnow

# AFT's noise distributions with the fixed scales tried (XGBoost does not learn it).
AFT_VARIANTS = (("normal", 1.0), ("normal", 1.5), ("logistic", 1.0), ("extreme", 1.0))
BOOSTING = {
    "tree_method": "hist",
    "learning_rate": 0.05,
    "max_depth": 4,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5,
    "seed": 0,
}
ROUNDS = 300


def survival_rows(run: Any) -> Any:
    """Features at every labelled cutoff of ``run``'s plan (BTYD rates over the label
    window, as the churn learners see them) with ``days`` to the next order on or after
    the cutoff and before as_of, plus one (NaN when none), and ``observed_days``, the
    days from the cutoff to as_of, where a customer without an order is censored."""
    import pandas as pd

    from custintel.value.examples import BTYDViews, examples
    from custintel.value.labels import labels

    plan = run.plan
    as_of = plan.validation[0] + timedelta(days=plan.validation[1])  # its window ends there
    cutoffs = [c for c, _ in plan.train] + [plan.calibration[0], plan.validation[0]]
    parts = []
    with cdnow_store("value-cdnow") as store:
        views = BTYDViews(store.con, run.views.family)
        for cutoff in cutoffs:
            part = examples(store.con, [(cutoff, plan.window_days)], labelled=False, btyd=views)
            ahead = labels(store.con, [cutoff], (as_of - cutoff).days).set_index("customer_id")
            part["days"] = part["customer_id"].map(ahead["days_to_next_order"]) + 1
            part["observed_days"] = (as_of - cutoff).days
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def survival_churn(rows: Any, features: list[str], scoring: Any, horizon: int) -> dict:
    """P(no order within ``horizon`` days) for ``scoring``'s customers from each survival
    variant fitted on ``rows``. Cox gives no baseline hazard, so its "probability" is
    1 / (1 + hazard): right for ranking (ROC-AUC), not for the Brier score."""
    import xgboost as xgb
    from scipy import stats

    observed = rows["days"].notna().to_numpy()
    days = np.where(observed, rows["days"].to_numpy(float), rows["observed_days"].to_numpy(float))
    inputs, scored = rows[features], xgb.DMatrix(scoring[features])
    cdf = {
        "normal": stats.norm.cdf,
        "logistic": stats.logistic.cdf,
        "extreme": lambda z: 1 - np.exp(-np.exp(z)),
    }
    out = {}
    for distribution, scale in AFT_VARIANTS:
        train = xgb.DMatrix(
            inputs, label_lower_bound=days, label_upper_bound=np.where(observed, days, np.inf)
        )
        params = {
            "objective": "survival:aft",
            "aft_loss_distribution": distribution,
            "aft_loss_distribution_scale": scale,
            **BOOSTING,
        }
        location = np.log(xgb.train(params, train, ROUNDS).predict(scored))
        z = (np.log(horizon) - location) / scale
        out[f"aft_{distribution}_{scale}"] = 1 - cdf[distribution](z)
    cox = xgb.train(
        {"objective": "survival:cox", **BOOSTING},
        xgb.DMatrix(inputs, label=np.where(observed, days, -days)),
        ROUNDS,
    )
    out["cox"] = 1 / (1 + cox.predict(scored))
    return out


def measured(
    churned: np.ndarray, ways: dict[str, np.ndarray], keys: tuple[str, ...] = ("roc_auc", "brier")
) -> dict[str, dict[str, float]]:
    """Each way's ``keys`` of its churn metrics against what happened."""
    from custintel.value.metrics import churn_metrics

    return {
        name: {k: v for k, v in churn_metrics(churned, p).items() if k in keys}
        for name, p in ways.items()
    }


def main() -> None:
    from custintel.value.models import feature_columns
    from custintel.value.service import churn_inputs, churn_over_horizon

    started = time.perf_counter()
    checks = []
    for as_of, horizon in HORIZON_CHECKS:
        run = fitted_on_cdnow(as_of, horizon)
        final, current, summary, model = run.final, run.current, run.summary, run.model
        churned = run.truth["churned"].reindex(current["customer_id"]).fillna(True)
        churned = churned.to_numpy(bool)
        window = final.window_days or horizon
        inputs = churn_inputs(current, summary, model, window, horizon)
        served = {
            name: churn_over_horizon(p, current, summary, model, window, horizon)
            for name, p in final.predict(inputs, "churn", horizon).items()
        }
        rows = survival_rows(run)
        features = [c for c in feature_columns(rows) if c not in ("days", "observed_days")]
        survival = survival_churn(rows, features, inputs, horizon)
        by_orders = {
            name: -np.asarray(orders)
            for name, orders in final.predict(current, "orders", horizon).items()
        }

        checks.append(
            {
                "as_of": as_of.isoformat(),
                "horizon_days": horizon,
                "window_days": window,
                "served": measured(churned, served),
                "survival": measured(churned, survival),
                "by_expected_orders": measured(churned, by_orders, ("roc_auc",)),
            }
        )
    print(json.dumps({"seconds": time.perf_counter() - started, "checks": checks}, indent=1))


if __name__ == "__main__":
    main()
