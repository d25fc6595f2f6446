"""Score every customer: expected orders and spend, P(active), churn, CLV, value tier.

The models are fitted and chosen by a time split on the store's own history
(``custintel.value.models``): training cutoffs, a later cutoff to calibrate churn
probabilities, and the most recent complete horizon to choose each target's model. The
chosen models are then refitted with the validation cutoff included and score the
customers known at ``as_of``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from custintel.data.store import Store
from custintel.errors import NotEnoughData
from custintel.features.customer import top_categories
from custintel.value.examples import examples
from custintel.value.explain import explain_churn
from custintel.value.labels import ValuePlan, plan_cutoffs
from custintel.value.models import ValueModels, category_spend, compare, fit_candidates

__all__ = [
    "SCORE_COLUMNS",
    "ScoreRun",
    "fit_and_choose",
    "record_scores",
    "score_customers",
]

SCORE_COLUMNS = [
    "customer_id",
    "expected_orders",
    "expected_spend",
    "p_active",
    "churn_probability",
    "churn_risk",
    "next_order_date",
    "clv",
    "spend_percentile",
    "value_tier",
    "top_factors",
]
# Churn risk levels: probability thresholds for medium and high (config may override).
DEFAULT_RISK_THRESHOLDS = (0.4, 0.7)
TIERS = ((0.9, "top"), (0.7, "high"), (0.3, "medium"), (0.0, "low"))


@dataclass
class ScoreRun:
    """One scoring: a row per customer, the validation comparison, the choices."""

    as_of: date
    horizon_days: int
    scores: pd.DataFrame
    comparison: dict[str, dict[str, dict[str, float]]]
    chosen: dict[str, str]
    cutoffs: dict[str, Any]
    importance: dict[str, float]


def _risk(probability: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    medium, high = thresholds
    return np.where(probability >= high, "high", np.where(probability >= medium, "medium", "low"))


def _tier(percentile: np.ndarray) -> np.ndarray:
    out = np.full(len(percentile), "low", dtype=object)
    for threshold, name in reversed(TIERS):
        out[percentile >= threshold] = name
    return out


def fit_and_choose(
    store: Store,
    as_of: date,
    horizon_days: int,
    progress: Callable[[str], None] | None = None,
) -> tuple[ValueModels, dict[str, dict[str, dict[str, float]]], ValuePlan]:
    """Fit every candidate on the time split before ``as_of``, choose per target on the
    validation cutoff, refit with the calibration cutoff included. Returns the final
    models (``chosen`` set), the validation comparison and the plan."""
    say = progress or (lambda message: None)
    row = store.con.execute(
        "SELECT CAST(min(ordered_at) AS DATE) FROM orders WHERE ordered_at < ?", [as_of]
    ).fetchone()
    if row is None or row[0] is None:
        raise NotEnoughData(f"no orders before {as_of}", hint="sync orders, or check --as-of")
    plan = plan_cutoffs(row[0], as_of, horizon_days)
    say(f"building examples at {len(plan.train) + 2} cutoffs")
    con = store.con
    # One category list for every cutoff, so that the feature columns match.
    categories = top_categories(con, as_of) if _has_categories(store) else []
    train = examples(con, plan.train, categories=categories)
    calibration = examples(con, [plan.calibration], categories=categories)
    check = examples(con, [plan.validation], categories=categories)
    say("fitting and comparing candidates")
    trial = fit_candidates(train, calibration)
    comparison = compare(trial, check, plan.window_days)
    say("refitting the chosen models with the latest cutoff")
    final = fit_candidates(pd.concat([train, calibration], ignore_index=True), check)
    final.chosen = dict(trial.chosen)
    final.categories = categories
    return final, comparison, plan


def _has_categories(store: Store) -> bool:
    row = store.con.execute("SELECT count(category) FROM orders").fetchone()
    return bool(row and row[0])


def score_customers(
    store: Store,
    as_of: date,
    horizon_days: int,
    *,
    risk_thresholds: tuple[float, float] = DEFAULT_RISK_THRESHOLDS,
    clv_days: int = 365,
    progress: Callable[[str], None] | None = None,
) -> ScoreRun:
    """Fit, choose and score as described in the module docstring."""
    final, comparison, plan = fit_and_choose(store, as_of, horizon_days, progress)
    con = store.con
    current = examples(con, [(as_of, horizon_days)], categories=final.categories, labelled=False)
    spend = final.predict(current, "spend", horizon_days)[final.chosen["spend"]]
    orders = final.predict(current, "orders", horizon_days)[final.chosen["orders"]]
    churn = final.predict(current, "churn", horizon_days)[final.chosen["churn"]]
    clv_view = examples(con, [(as_of, clv_days)], categories=final.categories, labelled=False)
    clv = final.predict(clv_view, "spend", clv_days)["btyd"]
    percentile = pd.Series(spend).rank(pct=True, method="average").to_numpy()
    scores = pd.DataFrame(
        {
            "customer_id": current["customer_id"].to_numpy(),
            "expected_orders": orders,
            "expected_spend": spend,
            # Customers without a completed purchase (only cancelled or refunded orders)
            # have no BTYD history: nothing says they are active.
            "p_active": current["btyd_p_alive"].fillna(0.0).to_numpy(float),
            "churn_probability": churn,
            "churn_risk": _risk(churn, risk_thresholds),
            "clv": clv,
            "spend_percentile": percentile,
            "value_tier": _tier(percentile),
        }
    )
    days = final.next_order_days(current, horizon_days)[final.chosen["next_order"]]
    # A date only for customers more likely than not to order within the horizon.
    expected = churn < 0.5
    scores["next_order_date"] = [
        (as_of + timedelta(days=round(float(d)))).isoformat() if ok else None
        for d, ok in zip(days, expected, strict=True)
    ]
    factors, importance = explain_churn(final.classifier, current, final.features)
    scores["top_factors"] = factors
    by_category = category_spend(current, spend)
    scores = pd.concat([scores, by_category], axis=1)
    return ScoreRun(
        as_of=as_of,
        horizon_days=horizon_days,
        scores=scores[[*SCORE_COLUMNS[:3], *by_category.columns, *SCORE_COLUMNS[3:]]],
        comparison=comparison,
        chosen=final.chosen,
        importance=importance,
        cutoffs={
            "train": [c.isoformat() for c, _ in plan.train],
            "calibration": plan.calibration[0].isoformat(),
            "validation": plan.validation[0].isoformat(),
            "validation_ends": as_of.isoformat(),
            "window_days": plan.window_days,
            "note": plan.note,
        },
    )


def record_scores(store: Store, run: ScoreRun, model_version: int) -> None:
    """Keep the scores in the store's ``customer_scores`` table with the model version,
    replacing an earlier run for the same horizon (one current score per question). The
    table is rebuilt when the columns change (a new category)."""
    con = store.con
    frame = run.scores.assign(
        model_version=model_version, as_of=run.as_of, horizon_days=run.horizon_days
    )
    columns = list(frame.columns)
    with store.transaction():
        if store.has_table("customer_scores"):
            existing = [r[0] for r in con.execute("DESCRIBE customer_scores").fetchall()]
            if existing != columns:
                con.execute("DROP TABLE customer_scores")
        con.register("_scores", frame)
        con.execute("CREATE TABLE IF NOT EXISTS customer_scores AS SELECT * FROM _scores LIMIT 0")
        con.execute("DELETE FROM customer_scores WHERE horizon_days = ?", [run.horizon_days])
        con.execute("INSERT INTO customer_scores SELECT * FROM _scores")
        con.unregister("_scores")
