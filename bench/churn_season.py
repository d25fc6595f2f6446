"""Whether churn probabilities miss the shop's season: on the demo shop, whose orders
follow a yearly season, the mean churn probability at each 30-day origin against the
share who ordered nothing in the 30 days after it, beside the season's orders factor of
the window the churn model was calibrated on and of the window it predicts.

    PYTHONPATH=. python -m bench.churn_season     # prints JSON lines, about 10 minutes

Served churn probabilities are calibrated on one window (the validation window, the
month before the origin, in the final refit; labels.ValuePlan) and are not
adjusted for the season of the window they predict (docs/value.md, "Season"); spend
and orders are. A diagnosis, not a change: if the gap between predicted and observed
churn follows the ratio of the two windows' factors, an adjustment is worth building;
if not, the season does not reach the churn figures.

Result (2026-12-03, 255 s on 2 cores): the mean churn probability was within 0.7 points
of the observed churn at every origin (0.8997 against 0.8929 in December, whose orders
factor is 1.152 against its calibration window's 1.065; 0.0002 to 0.0065 elsewhere).
In November and December, the busiest months, it was too high, as the season says it
would be, but by less than any adjustment could be told from noise on 10,000 customers:
nothing was built. The table is in docs/value-experiments.md, "Churn and the season".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from bench.measure import print_checks
from bench.trial_regressors import shop_store
from bench.value import fitted_on_cdnow, scored_on_holdout

HORIZON = 30
ORIGINS = tuple(date(2025, month, 1) for month in (3, 5, 7, 9, 11, 12))


def at(as_of: date) -> dict[str, Any]:
    """custintel's procedure on the demo shop before ``as_of``, its churn scored on the
    30 days after."""
    run = fitted_on_cdnow(as_of, HORIZON, shop_store("demo"))
    held = scored_on_holdout(run, HORIZON)
    chosen = run.final.chosen["churn"]
    churn = held.churn[chosen]
    calibrated_on = run.plan.calibration[0]
    validation = run.plan.validation[0]
    windows = [calibrated_on, validation, as_of]
    factors = run.final.seasons.factors("orders", windows, HORIZON)
    return {
        "as_of": as_of.isoformat(),
        "chosen": chosen,
        "calibrated_on": calibrated_on.isoformat(),
        "validation": validation.isoformat(),
        "season_orders": dict(
            zip(("calibration", "validation", "scored"), factors.round(3).tolist(), strict=True)
        ),
        "mean_predicted": round(float(np.mean(churn)), 4),
        "observed": round(float(np.mean(held.churned)), 4),
        "brier": round(held.measures["churn"][chosen]["brier"], 5),
        "btyd_mean_predicted": round(float(np.mean(held.churn["btyd"])), 4),
        "window_end": (as_of + timedelta(days=HORIZON - 1)).isoformat(),
    }


def main() -> None:
    print_checks(ORIGINS, at)


if __name__ == "__main__":
    main()
