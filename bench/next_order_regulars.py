"""A next-order candidate that times only the customers with a rhythm to time, checked
where no holdout is read. docs/value-experiments.md, "Next order for regulars".

    PYTHONPATH=. python -m bench.next_order_regulars     # prints JSON lines

The next-order date is chosen among LightGBM, the usual gap and the middle of the
window, one candidate for every customer, by mean absolute error in days. A customer who
orders within the window but whose usual gap is longer than it has no rhythm to time
inside it: the middle is what their history is worth, and LightGBM's estimate for them
adds noise. On CDNOW at 30 days from 1998-07-01 that noise made the middle win (7.57
days against LightGBM's 7.63), and every customer, one who orders every 4 days too, was
dated on the window's 15th day. The candidate ``gbm_for_regulars`` (added by
``for_regulars``) is LightGBM's date for customers whose usual gap is under the
horizon and the middle for the others; it is chosen like the others, on the validation
window, and its lead over the middle is tested like theirs (``metrics.timing_p``, which
counts it among the rivals).

Each check runs custintel's procedure (``fit_and_choose``, every candidate refitted)
before its as_of, once, and measures every next-order candidate on the customers who
ordered within the horizon after it; the choice without the candidate is the
validation's best of the other three. Checks: the nine of bench/next_order_loss.py, none
reading a holdout.

Written before it ran (2026-12-03). Made if all of:

- the choice with the candidate differs from the choice without it at one check or
  more (otherwise there is no evidence either way);
- the served dates' error on the horizon, relative change summed over the checks,
  sum(mae_with / mae_without - 1), is below zero;
- at no check are the served dates more than 2 % worse with the candidate.

Otherwise the candidate is removed.

Result (2026-12-03, 8 minutes on 2 cores): failed. The choice changed at 4 of the 9
checks and the served dates' error fell by 6.6 % summed (Superstore -9.2 %, CDNOW at 30
days from 1997-09-01 -0.9 %), but at The Complete Journey's 30 days from 2017-07-01 they
were 2.2 % worse (4.52 days against LightGBM's 4.42), and at CDNOW's 121-day check 1.2 %
worse. Not made: the candidate lives in this bench only (``for_regulars``). The table
is in docs/value-experiments.md.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from bench.measure import print_checks
from bench.next_order_loss import CHECKS, added_candidate, candidate_at

CANDIDATE = "gbm_for_regulars"


def for_regulars(frame: Any, horizon_days: int, days: dict[str, np.ndarray]) -> np.ndarray | None:
    """LightGBM's days where the usual gap is under the horizon, the middle elsewhere."""
    if "gbm" not in days:
        return None
    regular = frame["ipi_mean_days"].to_numpy(float) < horizon_days  # NaN: False
    return np.where(regular, days["gbm"], days["midpoint"])


def at(check: tuple[str, date, int]) -> dict[str, Any]:
    return candidate_at(check, CANDIDATE, added_candidate(CANDIDATE, for_regulars))


def main() -> None:
    print_checks(CHECKS, at)


if __name__ == "__main__":
    main()
