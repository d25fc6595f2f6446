"""The three BTYD order models on CDNOW: what each predicts of the 39-week holdout, what
the service's choice rule would pick among them, and what each costs.

The service chooses between BG/NBD and MBG/NBD only (``examples.AUTO_FAMILIES``):
each is fitted before the calibration cutoff and the one whose expected orders over the
calibration window are closest to what happened is used (``BTYDViews.choose``).
Pareto/NBD can be asked for by name. This prints, for all three, fitted on every CDNOW
customer before 1997-10-01:

- the RMSE of expected orders over the calibration window of the 273-day run (the
  choice rule's measure, nothing of the holdout read);
- the holdout's per-customer RMSE of orders and of spend (Gamma-Gamma for the order
  value), and the aggregate spend error, over 1997-10-01 to 1998-06-30;
- the fit's seconds, and the microseconds per customer of P(active), expected orders and
  the probability of no order in the horizon (the last carries churn to the horizon).

Reproduce: ``PYTHONPATH=. python -m bench.btyd_families`` (about a minute).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import numpy as np

AS_OF = date(1997, 10, 1)
HORIZON = 273
FAMILIES = ("bgnbd", "mbgnbd", "paretonbd")


def _prediction_costs(model: Any, summary: Any) -> list[float]:
    """Microseconds per customer of P(active), expected orders and P(no order)."""
    costs = []
    for name, arguments in (
        ("p_alive", ()),
        ("expected_orders", (HORIZON,)),
        ("p_no_orders", (HORIZON,)),
    ):
        started = time.perf_counter()
        getattr(model, name)(summary, *arguments)
        costs.append((time.perf_counter() - started) / len(summary) * 1e6)
    return costs


def main() -> None:
    from bench.cdnow import cdnow_store
    from custintel.value.btyd import btyd_summary, fit_btyd
    from custintel.value.examples import BTYDViews
    from custintel.value.labels import labels, plan_cutoffs

    with cdnow_store("value-cdnow") as store:
        con = store.con
        first = con.execute("SELECT min(ordered_at)::DATE FROM orders").fetchone()[0]
        plan = plan_cutoffs(first, AS_OF, HORIZON)
        views = BTYDViews(con, families=FAMILIES)
        views.choose(*plan.calibration)
        summary = btyd_summary(con, AS_OF)
        truth = (
            labels(con, [AS_OF], HORIZON)
            .set_index("customer_id")
            .reindex(summary["customer_id"])
            .fillna(0)
        )
    orders, spend = truth["orders"].to_numpy(float), truth["spend"].to_numpy(float)
    cutoff, window = plan.calibration
    print(f"CDNOW, {len(summary):,} customers; choice on the {window}-day window from {cutoff}")
    print(
        "| family | choice RMSE (orders) | holdout RMSE, orders | holdout RMSE, spend "
        "| aggregate | fit | P(active) | expected orders | P(no order) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for family in FAMILIES:
        started = time.perf_counter()
        model = fit_btyd(summary, family)
        fit_seconds = time.perf_counter() - started
        costs = _prediction_costs(model, summary)
        expected = model.expected_orders(summary, HORIZON).to_numpy(float)
        expected_spend = model.expected_spend(summary, HORIZON).to_numpy(float)
        print(
            f"| {family} | {views.family_errors[family]:.4f} "
            f"| {np.sqrt(np.mean((expected - orders) ** 2)):.4f} "
            f"| {np.sqrt(np.mean((expected_spend - spend) ** 2)):.3f} "
            f"| {expected_spend.sum() / spend.sum() - 1:+.1%} | {fit_seconds:.1f} s "
            + " ".join(f"| {c:.1f} µs" for c in costs)
            + " |"
        )
    print(f"the choice rule picks {views.family}")


if __name__ == "__main__":
    main()
