"""Keeping the served model while it ties, checked where no holdout is read.
docs/value-experiments.md, "The served model kept while it ties".

    PYTHONPATH=. python -m bench.sticky_choice     # prints JSON lines, about 15 minutes

Each run chooses every target's model afresh by its error on the validation window, and
the candidates often tie there (``metrics.within_noise``: at the nine checks of
bench/churn_ties.py, spend's choice had ties at eight, churn's at eight). A shop that
scores every month then sees its served model change between runs for no measured
reason, and every customer's figures move with it: what a shop's admin pages show
should not jump on a coin toss. The variant: when the model served by the previous run
at the same horizon is within noise of the best candidate (or is the best), it is kept.

Sequences of monthly 30-day runs, none reading a holdout: CDNOW from 1997-06-01 to
1997-09-01, The Complete Journey from 2017-06-01 to 2017-09-01 and the demo shop from
2025-07-01 to 2025-10-01 (four origins each, three changes of run). Each origin runs
custintel's procedure once (``fit_and_choose``, every candidate refitted); both rules
choose from its validation table (the plain rule: the lowest error; the variant: the
previous choice of the variant while it ties, else the lowest error), and every
candidate is measured on the origin's next 30 days: RMSE for spend and orders, Brier
score for churn, mean absolute days for the next order (on the customers who ordered).

Written before it ran (2026-12-03). Made if both:

- the changes of served model, counted over the four targets and the nine changes of
  run, fall by at least a third;
- for each target, the served model's error on the horizon, as a relative change from
  the plain rule's, summed over the twelve origins, rises by no more than 1 %.

Otherwise it is not made.

Result (2026-12-03, 10 minutes on 2 cores): not met. The changes of served model fell
from 17 to 6, but the served error on the horizon rose, summed over the origins, by
7.5 % for spend, 18.1 % for orders, 0.1 % for churn and 2.9 % for the next order: on The
Complete Journey, whose log starts on its first day, the trees improve month by month
and the model kept from the month before fell behind (orders +8.0 % at 2017-08-01).
Not made. The table is in docs/value-experiments.md.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bench.measure import print_checks
from bench.trial_regressors import shop_store
from bench.value import fitted_on_cdnow, lowest_error, scored_on_holdout, ties

SEQUENCES = {
    "cdnow": [date(1997, m, 1) for m in (6, 7, 8, 9)],
    "complete_journey": [date(2017, m, 1) for m in (6, 7, 8, 9)],
    "demo": [date(2025, m, 1) for m in (7, 8, 9, 10)],
}
HORIZON = 30
TARGETS = {"spend": "rmse", "orders": "rmse", "churn": "brier", "next_order": "mae_days"}


def at(check: tuple[str, date]) -> dict[str, Any]:
    """One origin: each target's best candidate, its ties and every candidate's error
    on the horizon."""
    shop, as_of = check
    run = fitted_on_cdnow(as_of, HORIZON, shop_store(shop))
    horizon = scored_on_holdout(run, HORIZON).measures
    return {
        "shop": shop,
        "as_of": as_of.isoformat(),
        "best": {t: lowest_error(run, t) for t in TARGETS},
        "ties": {t: ties(run, t) for t in TARGETS},
        "horizon": {
            t: {n: round(m[key], 6) for n, m in horizon[t].items() if n != "served"}
            for t, key in TARGETS.items()
        },
    }


def rules(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Both rules over each shop's sequence: the changes of served model and the relative
    change of the served error on the horizon, per target."""
    changes = {"plain": 0, "sticky": 0}
    relative = dict.fromkeys(TARGETS, 0.0)
    for shop in SEQUENCES:
        kept: dict[str, str] = {}
        before: dict[str, str] = {}
        for record in (r for r in records if r["shop"] == shop):
            for target in TARGETS:
                best = record["best"][target]
                incumbent = kept.get(target)
                tied = incumbent is not None and incumbent in record["ties"][target]
                sticky = incumbent if tied else best
                changes["plain"] += target in before and before[target] != best
                changes["sticky"] += target in kept and kept[target] != sticky
                errors = record["horizon"][target]
                relative[target] += errors[sticky] / errors[best] - 1
                before[target], kept[target] = best, sticky
    return {"changes": changes, "relative_error_change": relative}


def main() -> None:
    checks = [(shop, as_of) for shop, origins in SEQUENCES.items() for as_of in origins]
    records: list[dict[str, Any]] = []

    def measure(check: tuple[str, date]) -> dict[str, Any]:
        records.append(at(check))
        return records[-1]

    print_checks(checks, measure)
    print(json.dumps(rules(records)))


if __name__ == "__main__":
    main()
