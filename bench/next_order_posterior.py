"""BTYD's next-order day from its posterior purchase rate rather than its mean rate,
checked where no holdout is read. docs/value-experiments.md, "Next order from BTYD's
posterior rate".

    PYTHONPATH=. python -m bench.next_order_posterior   # prints JSON lines, about 6 minutes

The candidate ``btyd_rate`` (``models.btyd_next_order_days``) dates a customer's next
order at the median of an exponential first-order time with one rate per customer,
lambda = btyd_orders_rate / btyd_p_alive: BTYD's expected orders over the window per day
of activity. BTYD itself says more. Given activity at T, every family's purchase rate is
Gamma(r + x, alpha + T) (x repeat purchases, T weeks of tenure), so the first order's
time is Lomax-distributed: P(no order in t | active) = (1 + t / (alpha + T))^-(r + x),
and given that it falls within the H-day window its median is

    m = (alpha + T) * (((1 + q) / 2)^(-1 / (r + x)) - 1),  q = (1 + H / (alpha + T))^-(r + x)

(in weeks, then days). The mean rate ignores the rate's spread, which is wide for a
customer with few orders: among such customers the fast buyers order early, and a
customer known to order within the window is more likely one of them. An (M)BG/NBD
customer leaves only right after a purchase, so for them this is BTYD's own answer; a
Pareto/NBD customer may also leave before ordering, which m leaves out. The variant
``btyd_posterior`` is m - 0.5 (the whole day, as ``btyd_rate``), between 0 and H - 1;
the middle of the window where BTYD has no view.
It needs r + x and alpha + T per customer: the bench adds them to BTYD's rate columns
(``btyd_rate_shape`` and ``btyd_rate_scale_days``, not features).

Each check runs custintel's procedure (``fit_and_choose``, every candidate refitted)
before its as_of, once, with both the candidate as it is and the variant; "as is" is the
validation's choice among the candidates custintel has, "replaced" the validation's
choice with ``btyd_rate`` swapped for the variant. Checks: the nine of
bench/next_order_loss.py, none reading a holdout.

Written before it ran (2026-12-03). The variant replaces ``btyd_rate`` (one way to date
from BTYD) if all of:

- its error on the horizon is lower than ``btyd_rate``'s at more than half of the
  checks, and their relative change summed over the checks is below zero;
- the served dates' error, relative change summed over the checks,
  sum(mae_replaced / mae_as_is - 1), is at most zero;
- at no check are the served dates more than 2 % worse with it.

Otherwise it is not made and lives in this bench only.

Result (2026-12-03, 8 minutes on 2 cores): not met. The variant's error was lower than
``btyd_rate``'s at 3 of the 9 checks only, +0.35 % summed; the served dates' summed
change was -1.7 % (the demo shop's choice moved from LightGBM to the variant, 20.63 ->
20.42 days) and worse by at most 0.5 % (CDNOW at 30 days from 1997-09-01). Not made.
The table is in docs/value-experiments.md.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from bench.measure import print_checks
from bench.next_order_loss import CHECKS, added_candidate, timing_on_horizon
from bench.value import extra_btyd_columns

VARIANT = "btyd_posterior"
CURRENT = "btyd_rate"


def posterior_median_days(
    shape: np.ndarray, scale_days: np.ndarray, horizon_days: int
) -> np.ndarray:
    """The day of the first order within the horizon, given one falls in it, when the
    purchase rate is Gamma(``shape``, ``scale_days``): the Lomax median less half a day,
    between 0 and H - 1; the middle where the posterior is unknown."""
    known = np.isfinite(shape) & np.isfinite(scale_days) & (shape > 0) & (scale_days > 0)
    a = np.where(known, shape, 1.0)
    s = np.where(known, scale_days, 1.0)
    quiet = np.exp(-a * np.log1p(horizon_days / s))
    median = s * np.expm1(-np.log((1 + quiet) / 2) / a)
    middle = (horizon_days - 1) / 2
    return np.where(known, np.clip(median - 0.5, 0, horizon_days - 1), middle)


def posterior_columns() -> AbstractContextManager[None]:
    """Inside the block BTYD's rate columns carry each customer's posterior purchase
    rate's shape r + x and rate alpha + T (in days), and no model learns from them."""
    from custintel.value.btyd_model import DAYS_PER_WEEK

    return extra_btyd_columns(
        {
            "btyd_rate_shape": lambda summary, model, _: (
                model.r + summary["frequency"].to_numpy(float)
            ),
            "btyd_rate_scale_days": lambda summary, model, _: (
                (model.alpha + summary["T"].to_numpy(float)) * DAYS_PER_WEEK
            ),
        }
    )


def variant_days(frame: pd.DataFrame, horizon_days: int, days: dict[str, np.ndarray]) -> Any:
    return posterior_median_days(
        frame["btyd_rate_shape"].to_numpy(float),
        frame["btyd_rate_scale_days"].to_numpy(float),
        horizon_days,
    )


def at(check: tuple[str, date, int]) -> dict[str, Any]:
    shop, as_of, horizon = check
    with posterior_columns(), added_candidate(VARIANT, variant_days):
        timing = timing_on_horizon(shop, as_of, horizon)
    validation, horizon_mae = timing["validation_mae"], timing["horizon_mae"]
    as_is = min((n for n in validation if n != VARIANT), key=validation.__getitem__)
    replaced = min((n for n in validation if n != CURRENT), key=validation.__getitem__)
    return {
        "shop": shop,
        "as_of": as_of.isoformat(),
        "horizon_days": horizon,
        "chosen_as_is": as_is,
        "chosen_replaced": replaced,
        "served_mae_as_is": horizon_mae[as_is],
        "served_mae_replaced": horizon_mae[replaced],
        **timing,
    }


def main() -> None:
    print_checks(CHECKS, at)


if __name__ == "__main__":
    main()
