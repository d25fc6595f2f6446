"""Spend and orders chosen on two windows instead of one, checked where no holdout is
read. docs/value-experiments.md, "Choosing on two windows".

    python -m bench.two_window_choice     # prints JSON lines, about 4 minutes

custintel chooses each target's model on one window, the validation cutoff's. At a
30-day horizon that is one month: on CDNOW at 1998-01-01 it was December, and the forest
it chose overshot January's spend by 44 % where BTYD overshot by 10 % (docs/accuracy.md).
The forecasts choose on several origins of a rolling backtest. The trial regressors
learn from the training cutoffs only, so the calibration cutoff's window, one window
earlier, is as unseen by them as the validation window (the churn learners are
calibrated on it, so churn cannot be chosen there). The variant chooses spend and orders
by the RMSE pooled over both windows' customers: sqrt((n1 * rmse1^2 + n2 * rmse2^2) /
(n1 + n2)), each window measured as the choice measures it now.

Each setting runs custintel's procedure (``fit_and_choose``, every candidate refitted)
before its as_of and scores every candidate on the horizon after it; the one-window rule
picks what the procedure chose, the two-window rule picks by the pooled RMSE, and the
pick of each is scored on that horizon. Settings, all inside the calibration periods of
the accuracy benchmarks (nothing of CDNOW's 273-day holdout, its six 1998 origins or The
Complete Journey's last 90 days is read): CDNOW at the two ``HORIZON_CHECKS`` and at
30 days from 1997-07-01, 08-01 and 09-01; The Complete Journey at 30 days from
2017-07-01, 08-01 and 09-01 and at 71 days from 2017-07-22.

Written before it ran (2026-12-03). Made, for spend and orders alike, if all of:

- the two rules pick differently at two settings or more (spend and orders counted
  together): otherwise there is no evidence either way, and the rule costs a pass;
- where they differ, the two-window pick has the lower outcome RMSE at more than half
  of those picks;
- summed over every setting and both targets, the outcome RMSE of the two-window picks
  relative to the one-window picks, sum(rmse_two / rmse_one - 1), is below zero.

Otherwise it is not made, and no holdout is run with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from unittest import mock

from bench.measure import print_checks
from bench.value import HORIZON_CHECKS, fitted_on_cdnow, scored_on_holdout

TARGETS = ("spend", "orders")
CDNOW_SETTINGS = (*HORIZON_CHECKS, *((date(1997, m, 1), 30) for m in (7, 8, 9)))
JOURNEY_SETTINGS = (*((date(2017, m, 1), 30) for m in (7, 8, 9)), (date(2017, 7, 22), 71))


@contextmanager
def calibration_window_measured(into: dict[str, Any]) -> Iterator[None]:
    """While inside, the trial models' spend and orders measures on the calibration
    cutoff's examples go to ``into["calibration"]`` and the validation comparison to
    ``into["validation"]`` (``fit_and_choose``'s first ``fit_candidates`` call is the
    trial; its second argument is the calibration rows)."""
    from custintel.value import service
    from custintel.value.metrics import spend_metrics
    from custintel.value.models import ordinary

    real_fit, real_compare = service.fit_candidates, service.compare

    def fit(train: Any, calibration: Any, **kwargs: Any) -> Any:
        models = real_fit(train, calibration, **kwargs)
        into.setdefault("calibration_rows", calibration)
        return models

    def compare(models: Any, validation: Any, horizon_days: int) -> Any:
        rows = into["calibration_rows"]
        measured = {"spend": rows[ordinary(rows)], "orders": rows}
        into["calibration"] = {
            target: {
                name: {**spend_metrics(measured[target][target].to_numpy(float), p), "n": len(p)}
                for name, p in models.predict(measured[target], target, horizon_days).items()
            }
            for target in TARGETS
        }
        table = real_compare(models, validation, horizon_days)
        counts = {"spend": len(validation[ordinary(validation)]), "orders": len(validation)}
        into["validation"] = {
            target: {name: {**m, "n": counts[target]} for name, m in table[target].items()}
            for target in TARGETS
        }
        return table

    with (
        mock.patch.object(service, "fit_candidates", fit),
        mock.patch.object(service, "compare", compare),
    ):
        yield


def pooled_rmse(first: dict[str, float], second: dict[str, float]) -> float:
    """The RMSE over both windows' customers together."""
    n1, n2 = first["n"], second["n"]
    return math.sqrt((n1 * first["rmse"] ** 2 + n2 * second["rmse"] ** 2) / (n1 + n2))


def measure(setting: tuple[str, date, int]) -> dict[str, Any]:
    """One setting: both rules' picks per target and their RMSE on the horizon."""
    shop, as_of, horizon = setting
    store = None
    if shop == "complete_journey":
        from bench.complete_journey import complete_journey_store

        store = complete_journey_store
    seen: dict[str, Any] = {}
    with calibration_window_measured(seen):
        run = fitted_on_cdnow(as_of, horizon, store)
    outcome = scored_on_holdout(run, horizon).measures
    record: dict[str, Any] = {"shop": shop, "as_of": as_of.isoformat(), "horizon": horizon}
    for target in TARGETS:
        one = run.final.chosen[target]
        first, second = seen["calibration"][target], seen["validation"][target]
        pooled = {name: pooled_rmse(first[name], second[name]) for name in second}
        two = min(pooled, key=lambda name: pooled[name])
        record[target] = {
            "one_window": one,
            "two_windows": two,
            "rmse_one": outcome[target][one]["rmse"],
            "rmse_two": outcome[target][two]["rmse"],
            "calibration_rmse": {n: round(m["rmse"], 4) for n, m in first.items()},
            "validation_rmse": {n: round(m["rmse"], 4) for n, m in second.items()},
            "outcome_rmse": {n: round(m["rmse"], 4) for n, m in outcome[target].items()},
        }
    return record


def main() -> None:
    settings = [("cdnow", a, h) for a, h in CDNOW_SETTINGS]
    settings += [("complete_journey", a, h) for a, h in JOURNEY_SETTINGS]
    print_checks(settings, measure)


if __name__ == "__main__":
    main()
