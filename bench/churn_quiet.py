"""BTYD's churn score from its probability of no order in the window instead of its
expected orders, checked where no holdout is read. docs/value-experiments.md, "BTYD's
churn from its probability of no order".

    PYTHONPATH=. python -m bench.churn_quiet     # prints JSON lines, about 12 minutes

Churn is no order in the next N days. The ``btyd`` churn candidate's raw score, which
the centered isotonic map calibrates on the calibration cutoff's window, is BTYD's
expected orders a day over the window, negated (``ChurnClassifiers.scores``). That ranks
customers by how many orders they will place, not by how likely they are to place none:
a frequent buyer who has probably left (P(active) 0.5) expects more orders than a slow
buyer who is surely active, yet is the likelier of the two to order nothing. BTYD says
the second directly: P(no order in W) = (1 - P(alive)) + P(alive) P(no purchase in W |
active) (``BTYDModel.p_no_orders``), the quantity churn_over_horizon already uses to
carry a window's probability to a longer horizon. With it as the raw score, a calibrated
BTYD window probability carried to the horizon is BTYD's own P(no order in H) where the
calibration map is the identity.

The variant adds BTYD's P(no order in the window) to its rate columns
(``btyd_p_quiet``, not a feature: the trees are unchanged) and makes it the ``btyd``
churn score; the blend, half ``btyd``, moves with it. Scoring feeds the churn
candidates BTYD's columns over the label window (``service.churn_inputs``), this one
too.

Each check runs custintel's procedure (``fit_and_choose``, every candidate refitted)
before its as_of, once as it is and once with the variant, and measures every churn
candidate as scoring serves it (calibrated on the window, carried to the horizon) on the
customers at as_of over the horizon. Checks: the five of bench/trial_regressors.py
(CDNOW's two ``HORIZON_CHECKS``, The Complete Journey at 2017-07-22 with 71 days, the
demo shop at 2025-10-03 and Superstore at 2022-10-02 with 90 days), none reading a
holdout.

Written before it ran (2026-12-03). Made if all of:

- ``btyd``'s churn ROC-AUC on the horizon rises by at least 0.003 at both CDNOW checks
  (the bar of earlier churn changes: bench/monotone.py, bench/recent_weights.py) and
  falls by more than 0.003 at no check;
- at no check does ``btyd``'s or the blend's Brier score rise by more than 0.0005;
- the served (chosen) churn model's Brier score on the horizon, summed over the checks,
  does not rise.

Otherwise it is not made and no holdout is run with it.

Result (2026-12-03, 6 minutes on 2 cores): not met. ``btyd``'s ROC-AUC fell at both
CDNOW checks (0.7525 -> 0.7504 and 0.7123 -> 0.7114) and its Brier rose by up to 0.0005;
it rose on The Complete Journey (0.8883 -> 0.8919) and the demo shop (0.8900 -> 0.8926).
Not made, and no holdout run with it. The table is in docs/value-experiments.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

from bench.measure import print_checks
from bench.trial_regressors import CHECKS, shop_store
from bench.value import extra_btyd_columns, fitted_on_cdnow, scored_on_holdout

QUIET = "btyd_p_quiet"
KEPT = ("roc_auc", "brier")


@contextmanager
def churn_from_quiet() -> Iterator[None]:
    """Inside the block BTYD's rate columns carry P(no order in the window), scoring
    feeds it over the label window like the rates, and the ``btyd`` churn score is it."""
    from custintel.value.models import ChurnClassifiers

    plain_scores = ChurnClassifiers.scores

    def scores(self: Any, frame: pd.DataFrame, **kw: Any) -> dict[str, np.ndarray]:
        out = plain_scores(self, frame, **kw)
        if "btyd" in out:
            out["btyd"] = np.nan_to_num(frame[QUIET].to_numpy(float), nan=1.0)
        return out

    quiet = {QUIET: lambda summary, model, window: model.p_no_orders(summary, window).to_numpy()}
    with extra_btyd_columns(quiet), mock.patch.object(ChurnClassifiers, "scores", scores):
        yield


def served_churn(shop: str, as_of: date, horizon: int) -> dict[str, Any]:
    """The procedure at one check: the churn choice and every churn candidate's measures
    on the horizon, as scoring serves them."""
    run = fitted_on_cdnow(as_of, horizon, shop_store(shop))
    churn = scored_on_holdout(run, horizon).measures["churn"]
    return {
        "chosen": run.final.chosen["churn"],
        "window_days": run.final.window_days or horizon,
        "validation_brier": {
            n: round(m["brier"], 6) for n, m in run.choice["churn"].items() if "brier" in m
        },
        "horizon": {n: {k: round(m[k], 5) for k in KEPT} for n, m in churn.items()},
    }


def at(check: tuple[str, date, int]) -> dict[str, Any]:
    shop, as_of, horizon = check
    ways = {}
    for way, block in (("as_is", nullcontext()), ("quiet", churn_from_quiet())):
        with block:
            ways[way] = served_churn(shop, as_of, horizon)
    return {"shop": shop, "as_of": as_of.isoformat(), "horizon_days": horizon, **ways}


def main() -> None:
    print_checks(CHECKS, at)


if __name__ == "__main__":
    main()
