"""The days to the next order learnt with an absolute loss instead of a squared one,
checked where no holdout is read. docs/value-experiments.md, "Next order by the median".

    PYTHONPATH=. python -m bench.next_order_loss     # prints JSON lines, about 11 minutes

LightGBM learns each customer's days to their next order (as a share of the window,
among the customers who ordered within it) with a squared loss, which estimates the
mean; the dates are then chosen among LightGBM, the usual gap and the middle of the
window, and reported, by their mean absolute error in days, which the median minimises.
Times to a next order are skewed (a frequent buyer's next order is most likely soon,
with a long tail), so the mean lies later than the median, and on CDNOW at 30 days from
1998-06-01 the middle of the window (7.6 days off) beat LightGBM (7.8 days) and was
served to every customer: a customer who orders every 4 days read a date 15 days away.
The variant fits the same regressor with LightGBM's L1 loss (``objective="l1"``, the
conditional median), nothing else changed.

Each check runs custintel's procedure (``fit_and_choose``, every candidate refitted)
before its as_of, once each way, and measures every next-order candidate on the
customers who ordered within the horizon after it, by mean absolute error in days, as
the choice measures it. Checks, all inside the calibration periods of the accuracy
benchmarks (nothing of CDNOW's 273-day holdout, its six 1998 origins or The Complete
Journey's last 90 days is read): CDNOW at the two ``HORIZON_CHECKS`` and at 30 days
from 1997-07-01, 08-01 and 09-01; The Complete Journey at 30 days from 2017-07-01 and
at 71 days from 2017-07-22; the demo shop and Superstore at 90 days as in
bench/trial_regressors.py.

Written before it ran (2026-12-03). Made if both:

- LightGBM's error on the horizon is lower with the L1 loss at more than half of the
  checks, and its relative change summed over the checks, sum(mae_l1 / mae_l2 - 1), is
  below zero;
- the served candidate's (each way's choice) relative change summed over the checks is
  at most zero: the dates customers read are no worse in all.

Otherwise it is not made.

Result (2026-12-03, 11 minutes on 2 cores): met. LightGBM's error fell at 5 of the 9
checks, by -17.8 % summed, and the served dates' by -14.5 % summed; made
(``models.NEXT_ORDER_OBJECTIVE``). The table is in docs/value-experiments.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import Any
from unittest import mock

import numpy as np

from bench.measure import print_checks
from bench.trial_regressors import shop_store
from bench.value import HORIZON_CHECKS, fitted_on_cdnow

CHECKS = (
    *(("cdnow", as_of, horizon) for as_of, horizon in HORIZON_CHECKS),
    *(("cdnow", date(1997, m, 1), 30) for m in (7, 8, 9)),
    ("complete_journey", date(2017, 7, 1), 30),
    ("complete_journey", date(2017, 7, 22), 71),
    ("demo", date(2025, 10, 3), 90),
    ("superstore", date(2022, 10, 2), 90),
)
WAYS = {"l2": "regression", "l1": "l1"}


@contextmanager
def next_order_objective(objective: str) -> Iterator[None]:
    """Inside the block the next-order regressor learns with LightGBM's ``objective``."""
    from custintel.value import models

    with mock.patch.object(models, "NEXT_ORDER_OBJECTIVE", objective):
        yield


def timing_on_horizon(shop: str, as_of: date, horizon: int) -> dict[str, Any]:
    """The procedure at one check: the next-order choice and every candidate's mean
    absolute error in days over the horizon's customers who ordered."""
    from custintel.value.metrics import timing_errors

    run = fitted_on_cdnow(as_of, horizon, shop_store(shop))
    rows = run.current.set_index("customer_id").join(run.truth[["days_to_next_order"]])
    ordered = rows[rows["days_to_next_order"].notna()].reset_index()
    actual = ordered["days_to_next_order"].to_numpy(float)
    days = run.final.next_order_days(ordered, horizon)
    chosen = run.final.chosen["next_order"]
    on_horizon = timing_errors(actual, days)
    return {
        "chosen": chosen,
        "validation_mae": {n: round(m["mae_days"], 3) for n, m in run.choice["next_order"].items()},
        "horizon_mae": {n: round(m["mae_days"], 3) for n, m in on_horizon.items()},
        "chance_p": run.choice["next_order"][chosen].get("chance_p"),
        "customers": len(ordered),
    }


@contextmanager
def added_candidate(
    name: str, days_of: Callable[[Any, int, dict[str, np.ndarray]], np.ndarray | None]
) -> Iterator[None]:
    """Inside the block every ``ValueModels.next_order_days`` adds the candidate
    ``name``: ``days_of(frame, horizon_days, days)`` given the other candidates' days
    (None leaves it out)."""
    from custintel.value.models import ValueModels

    plain = ValueModels.next_order_days

    def with_candidate(self: Any, frame: Any, horizon_days: int) -> dict[str, np.ndarray]:
        days = plain(self, frame, horizon_days)
        added = days_of(frame, horizon_days, days)
        if added is not None:
            days[name] = added
        return days

    with mock.patch.object(ValueModels, "next_order_days", with_candidate):
        yield


def candidate_at(
    check: tuple[str, date, int], candidate: str, added: AbstractContextManager[None]
) -> dict[str, Any]:
    """One check of a next-order candidate added by ``added``: the choice with and
    without it and each candidate's error in days on the horizon's customers who
    ordered; without it, the choice is the validation's best of the others."""
    shop, as_of, horizon = check
    with added:
        timing = timing_on_horizon(shop, as_of, horizon)
    validation, horizon_mae = timing["validation_mae"], timing["horizon_mae"]
    without = min((n for n in validation if n != candidate), key=validation.__getitem__)
    with_it = timing["chosen"]
    return {
        "shop": shop,
        "as_of": as_of.isoformat(),
        "horizon_days": horizon,
        "chosen_without": without,
        "chosen_with": with_it,
        "served_mae_without": horizon_mae[without],
        "served_mae_with": horizon_mae[with_it],
        **timing,
    }


def ways_at(check: tuple[str, date, int]) -> dict[str, Any]:
    shop, as_of, horizon = check
    record: dict[str, Any] = {"shop": shop, "as_of": as_of.isoformat(), "horizon_days": horizon}
    for way, objective in WAYS.items():
        with next_order_objective(objective):
            record[way] = timing_on_horizon(shop, as_of, horizon)
    return record


def main() -> None:
    print_checks(CHECKS, ways_at)


if __name__ == "__main__":
    main()
