"""A next-order candidate from BTYD's purchase rate, checked where no holdout is read.
docs/value-experiments.md, "Next order from BTYD's rate".

    PYTHONPATH=. python -m bench.next_order_btyd     # prints JSON lines, about 6 minutes

The next-order date is chosen among LightGBM, the usual gap and the middle of the
window, one candidate for every customer, by mean absolute error in days. On CDNOW at
30 days from 1998-07-01 the middle won (7.57 days against LightGBM's 7.63), and every
customer, one who orders every 4 days too, was dated on the window's 15th day. The
middle is right for a customer who is as likely to order on any day of the window; a
customer with a high purchase rate is not: their first order in it is most likely
early.

The candidate ``btyd_rate`` (``models.btyd_next_order_days`` since it was made) reads
the BTYD model's view of each customer, already among the features: an active customer
places orders at rate lambda = btyd_orders_rate / btyd_p_alive a day (the expected rate
over the window divided by the probability of being active at its start). The first
order's time is then exponential, and given that it falls inside the H-day window its
median is m = -ln((1 + exp(-lambda H)) / 2) / lambda, between ln 2 / lambda for a
frequent buyer and H / 2 for a rare one. The candidate is the day m - 0.5 (the whole day
the order falls on; the middle's (H - 1) / 2 in the limit), between 0 and H - 1; the
middle for customers BTYD knows nothing of. No parameter is fitted: it is the same model
the expected orders come from. It is chosen like the others, on the validation window,
and its lead over the middle is tested like theirs (``metrics.timing_p``).

Each check runs custintel's procedure (``fit_and_choose``, every candidate refitted)
before its as_of, once, and measures every next-order candidate on the customers who
ordered within the horizon after it; the choice without the candidate is the
validation's best of the other three. Checks: the nine of bench/next_order_loss.py, none
reading a holdout.

Written before it ran (2026-12-03), the bar of bench/next_order_regulars.py. Made if
all of:

- the choice with the candidate differs from the choice without it at one check or
  more (otherwise there is no evidence either way);
- the served dates' error on the horizon, relative change summed over the checks,
  sum(mae_with / mae_without - 1), is below zero;
- at no check are the served dates more than 2 % worse with the candidate.

Otherwise the candidate is not made and lives in this bench only.

Result (2026-12-03, 6 minutes on 2 cores): met. The choice changed at 4 of the 9
checks, all to the candidate (CDNOW at 71 and 121 days and at 30 days from 1997-09-01,
The Complete Journey at 71 days); the served dates' error fell by 16.5 % summed (CDNOW's
121 days 29.29 -> 27.02 days, -7.7 %) and was worse at no check. Made; the bench now
measures custintel as it is. The table is in docs/value-experiments.md.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from typing import Any

from bench.measure import print_checks
from bench.next_order_loss import CHECKS, candidate_at

CANDIDATE = "btyd_rate"


def at(check: tuple[str, date, int]) -> dict[str, Any]:
    # Made: custintel fits the candidate itself (models.btyd_next_order_days).
    return candidate_at(check, CANDIDATE, nullcontext())


def main() -> None:
    print_checks(CHECKS, at)


if __name__ == "__main__":
    main()
