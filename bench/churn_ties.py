"""Churn's choice when its candidates tie on the Brier score, checked where no holdout
is read. docs/value-experiments.md, "Churn's ties go to the better ranking".

    PYTHONPATH=. python -m bench.churn_ties     # prints JSON lines, about 8 minutes

The churn model is the candidate of lowest Brier score on the validation window
(``models.compare``). Its candidates are calibrated on the same window before it, so
their Brier scores often differ by less than which customers happened to fall in the
window can explain: on CDNOW's 273-day benchmark btyd was chosen at 0.108988 against the
blend's 0.109026 and the random forest's 0.109154. Between such candidates the Brier
score says nothing, while their ROC-AUC on the same window may differ, and a marketer
acts on the ranking (who to win back first) as much as on the probability. The
variant: among the lowest-Brier candidate and those within noise of it
(``metrics.within_noise``: a mean per-customer difference in squared error within two
standard errors of its paired difference), the one of highest validation ROC-AUC is
chosen.

Where the idea came from: the CDNOW holdout, on which btyd's churn ROC-AUC (0.753) is
below the blend's (0.761) and the forest's (0.768) while their validation Brier scores
tie (docs/accuracy.md). So the bar below is checked on nine windows that read none of
that holdout (the checks of bench/next_order_loss.py: CDNOW at the two
``HORIZON_CHECKS`` and at 30 days from 1997-07-01, 08-01 and 09-01; The Complete
Journey at 30 days from 2017-07-01 and 71 days from 2017-07-22; the demo shop at
2025-10-03 and Superstore at 2022-10-02 with 90 days). Each check runs custintel's
procedure once (``fit_and_choose``, every candidate refitted): both rules choose from
the same validation table, and every churn candidate is measured on the horizon as
scoring serves it (calibrated on the window, carried to the horizon). The ties of the
spend, orders and next-order choices are printed too, for the record; no rule for them
is judged here. (The ties are the comparison table's ``within_noise`` marks since
they were made; the run below computed the same losses here, as ``models.compare`` now
does.)

Written before it ran (2026-12-03). Made if all of:

- the rule changes the served churn model at two or more of the nine checks;
- at the checks where it changes it, the served churn ROC-AUC on the horizon rises at
  more than half, and its change summed over them is above zero;
- the served churn Brier score on the horizon, summed over the nine checks, rises by no
  more than 0.001.

Otherwise it is not made and no holdout is run with it.

Result (2026-12-03, 357 s on 2 cores): not met. The rule changed the served model at
two checks, CDNOW at 30 days from 1997-07-01 (random_forest -> blend, ROC-AUC 0.7576 ->
0.7560) and The Complete Journey at 30 days from 2017-07-01 (blend -> random_forest,
0.8697 -> 0.8759): up at one of the two, not more than half, though +0.0046 summed and
the Brier summed -0.0013. Elsewhere the lowest-Brier candidate had the best validation
ROC-AUC of its ties too. Not made, and no holdout run with it. The table is in
docs/value-experiments.md.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bench.measure import print_checks
from bench.next_order_loss import CHECKS
from bench.trial_regressors import shop_store
from bench.value import fitted_on_cdnow, scored_on_holdout, ties

KEPT = ("roc_auc", "brier")


def at(check: tuple[str, date, int]) -> dict[str, Any]:
    """Both churn rules at one check, and every choice's ties."""
    shop, as_of, horizon = check
    run = fitted_on_cdnow(as_of, horizon, shop_store(shop))
    churn = scored_on_holdout(run, horizon).measures["churn"]
    tied = {target: ties(run, target) for target in ("spend", "orders", "churn", "next_order")}
    validation = run.choice["churn"]
    by_brier = run.final.chosen["churn"]
    by_rule = max([by_brier, *tied["churn"]], key=lambda n: validation[n]["roc_auc"])
    return {
        "shop": shop,
        "as_of": as_of.isoformat(),
        "horizon_days": horizon,
        "chosen": dict(run.final.chosen),
        "ties": tied,
        "churn_by_brier": by_brier,
        "churn_by_rule": by_rule,
        "validation": {
            n: {k: round(m[k], 6) for k in KEPT} for n, m in validation.items() if "brier" in m
        },
        "horizon": {n: {k: round(m[k], 5) for k in KEPT} for n, m in churn.items()},
    }


def main() -> None:
    print_checks(CHECKS, at)


if __name__ == "__main__":
    main()
