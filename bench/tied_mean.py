"""Serving the mean of the candidates that tie with the best, checked where no holdout is
read. docs/value-experiments.md, "The mean of the ties".

    PYTHONPATH=. python -m bench.tied_mean     # prints JSON lines, about 7 minutes

Each target's model is the candidate of lowest error on the validation window, and the
candidates often tie there (``metrics.within_noise``; bench/churn_ties.py). Keeping the
previous run's model while it tied served worse (bench/sticky_choice.py): the lowest
error still points the right way more often than not. Between forecasts of about equal
accuracy, though, their mean is often better than any one of them (the "forecast
combination puzzle": Clemen 1989, Stock and Watson 2004), since their errors are not
the same errors. The variant serves, for a target, the plain mean of the lowest-error
candidate and every candidate within noise of it (the best alone where nothing ties);
for churn, the mean of their probabilities as scoring serves them (calibrated on the
window, carried to the horizon).

Checks: the nine of bench/next_order_loss.py (CDNOW at the two ``HORIZON_CHECKS`` and at
30 days from 1997-07-01, 08-01 and 09-01; The Complete Journey at 30 days from
2017-07-01 and 71 days from 2017-07-22; the demo shop at 2025-10-03 and Superstore at
2022-10-02 with 90 days), none reading a holdout. Each check runs custintel's procedure
once (``fit_and_choose``, every candidate refitted) and measures the best and the mean
on the horizon.

Written before it ran (2026-12-03). Made for a target (spend, orders, churn each on its
own) if all of:

- at more than half of the checks where the target has ties, the mean's error on the
  horizon (RMSE; the Brier score for churn) is lower than the best candidate's;
- its relative change summed over those checks is below zero;
- for spend, the top-10 % capture falls by more than 0.005 at none of them; for churn,
  the ROC-AUC falls by more than 0.003 at none of them.

Otherwise it is not made for that target and no holdout is run with it.

Result (2026-12-03, 312 s on 2 cores). Each target had ties at 8 of the 9 checks.
Orders: the mean's RMSE lower at 5 of 8, -2.08 % summed: met, so made for orders.
Spend: lower at 6 of 8, -3.27 % summed, but the top-10 % capture fell by 0.0060 on the
demo shop (0.5709 -> 0.5649), past 0.005: not met. Churn: Brier lower at 5 of 8 but
+1.42 % summed (The Complete Journey at 71 days +3.1 %): not met. Then once on CDNOW's
273-day holdout: orders RMSE 1.721 (the mean of btyd and the blend) against btyd's
1.733. The table is in docs/value-experiments.md.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from bench.measure import print_checks
from bench.next_order_loss import CHECKS
from bench.trial_regressors import shop_store
from bench.value import fitted_on_cdnow, lowest_error, scored_on_holdout, ties

TARGETS = ("spend", "orders", "churn")


def at(check: tuple[str, date, int]) -> dict[str, Any]:
    """The best candidate and the mean of it and its ties, on the horizon, per target."""
    from custintel.value.metrics import churn_metrics, spend_metrics

    shop, as_of, horizon = check
    run = fitted_on_cdnow(as_of, horizon, shop_store(shop))
    holdout = scored_on_holdout(run, horizon)
    customers = run.current["customer_id"]
    actual = {
        "spend": holdout.actual_spend,
        "orders": run.truth["orders"].reindex(customers).fillna(0).to_numpy(float),
    }
    predicted = {"spend": holdout.spend, "orders": holdout.orders, "churn": holdout.churn}
    out: dict[str, Any] = {"shop": shop, "as_of": as_of.isoformat(), "horizon_days": horizon}
    for target in TARGETS:
        best = lowest_error(run, target)
        tied = ties(run, target)
        mean = np.mean([predicted[target][n] for n in [best, *tied]], axis=0)
        if target == "churn":
            served = {"best": holdout.churn[best], "mean": mean}
            measured = {k: churn_metrics(holdout.churned, p) for k, p in served.items()}
            kept = ("brier", "roc_auc")
        else:
            served = {"best": predicted[target][best], "mean": mean}
            measured = {k: spend_metrics(actual[target], p) for k, p in served.items()}
            kept = ("rmse", "top_decile_capture", "normalised_gini", "aggregate_error")
        out[target] = {
            "chosen": best,
            "ties": tied,
            **{k: {m: round(v[m], 6) for m in kept} for k, v in measured.items()},
        }
    return out


def main() -> None:
    print_checks(CHECKS, at)


if __name__ == "__main__":
    main()
