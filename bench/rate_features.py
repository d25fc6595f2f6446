"""Tree learners fed per-day rates instead of the totals so far, checked against the
learners as they are, inside the calibration periods (nothing of a holdout is read).
docs/value-experiments.md, "Rates instead of totals".

    python -m bench.rate_features        # prints JSON, about 12 minutes

Why: the totals so far (orders, spend, purchase days, the last 365 days' orders and
spend, spend per category) grow with how long the shop has known the customer. The
trees learn from customers at earlier cutoffs, who were known for less time, and apply
what they learnt at as_of, where every total is larger than at training. Where the
shop's history starts at an export's first day, or the customers form one cohort (CDNOW),
every customer looks new at the first cutoff: on The Complete Journey's grocery log
(bench/complete_journey.py) the trees learnt at 2017-03-02, two months into the export,
overshot the validation window's spend by 78 to 105 % where BTYD was 3 % off, and the
validation chose BTYD. A per-day rate (a total over the days it covers: the customer's
tenure, or the window's days when the tenure is longer) means the same at every cutoff.

The variant replaces, for every tree learner (spend, orders, churn, next order),
``frequency``, ``monetary``, ``purchase_days``, ``distinct_products``, ``refund_count``,
``refund_amount``, ``cancelled_count`` and ``spend__<category>`` by their value per day
of tenure, and ``orders_<N>d`` / ``spend_<N>d`` by their value per day of the smaller of
N and the tenure; the monotone directions carry over to the rates. Everything else
(BTYD, the baselines, which customers are outlying) reads the totals as before.

Written before it ran (2026-12-02), two separate decisions:

- *Spend and orders regressors* read rates if, at both of CDNOW's checks
  (``bench.value.HORIZON_CHECKS``), the blend's spend RMSE and decile error are lower
  than as they are and its top-decile capture and normalised Gini fall by no more than
  0.003, and on The Complete Journey at as_of 2017-07-22 with a 71-day horizon (inside
  its calibration period; its holdout is 2017-10-01 to 12-30) the blend's spend RMSE is
  lower.
- *Churn classifiers* read rates if, at both of CDNOW's checks, the blend's churn
  ROC-AUC rises by at least 0.003 and no churn candidate's Brier score rises by more
  than 0.0005.

Otherwise it is not made and no holdout is run with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

import bench.value as bench_value
from bench.complete_journey import complete_journey_store
from bench.measure import print_checks
from bench.monotone import measured
from bench.value import HORIZON_CHECKS

# Totals over the customer's whole history, and over the last N days.
WHOLE_HISTORY = (
    "frequency",
    "monetary",
    "purchase_days",
    "distinct_products",
    "refund_count",
    "refund_amount",
    "cancelled_count",
)
WINDOWED = {f"{kind}_{n}d": n for kind in ("orders", "spend") for n in (7, 30, 90, 365)}
SUFFIX = "_per_day"

COMPLETE_JOURNEY_CHECK = (date(2017, 7, 22), 71)


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``<total>_per_day`` column beside each total."""
    out = frame.copy()
    tenure = np.maximum(out["tenure_days"].to_numpy(float), 1.0)
    whole = [c for c in out.columns if c in WHOLE_HISTORY or c.startswith("spend__")]
    for column in whole:
        out[column + SUFFIX] = out[column].to_numpy(float) / tenure
    for column, days in WINDOWED.items():
        if column in out:
            out[column + SUFFIX] = out[column].to_numpy(float) / np.minimum(tenure, days)
    return out


def totals(frame: pd.DataFrame) -> set[str]:
    """The columns of ``frame`` that ``with_rates`` turns into rates."""
    return {
        c for c in frame.columns if c in WHOLE_HISTORY or c in WINDOWED or c.startswith("spend__")
    }


@contextlib.contextmanager
def rate_features() -> Iterator[None]:
    """Inside the block the learners read the rates in place of the totals."""
    from custintel.value import crossval, learners, models, service
    from custintel.value import examples as value_examples

    plain = value_examples.examples
    plain_columns = models.feature_columns

    def examples(*args: Any, **kw: Any) -> pd.DataFrame:
        return with_rates(plain(*args, **kw))

    def feature_columns(frame: pd.DataFrame) -> list[str]:
        hidden = totals(frame)
        return [c for c in plain_columns(frame) if c not in hidden]

    def per_day(names: tuple[str, ...]) -> tuple[str, ...]:
        return (*names, *(n + SUFFIX for n in names))

    with contextlib.ExitStack() as stack:
        for module in (value_examples, service):
            stack.enter_context(mock.patch.object(module, "examples", examples))
        for module in (models, crossval):
            stack.enter_context(mock.patch.object(module, "feature_columns", feature_columns))
        for table in ("RISING_WITH_ORDERS", "RISING_WITH_SPEND"):
            names = per_day(getattr(learners, table))
            stack.enter_context(mock.patch.object(learners, table, names))
        yield


def ways_at(check: tuple[str, date, int]) -> dict[str, Any]:
    """The learners as they are and fed rates, at one check of one shop."""
    shop, as_of, horizon = check
    store = complete_journey_store if shop == "complete_journey" else bench_value.cdnow_store
    with mock.patch.object(bench_value, "cdnow_store", store):
        ways: dict[str, Any] = {"as_is": measured(as_of, horizon)}
        with rate_features():
            ways["rates"] = measured(as_of, horizon)
    return {"shop": shop, "as_of": as_of.isoformat(), "horizon_days": horizon, **ways}


def main() -> None:
    checks = [("cdnow", as_of, horizon) for as_of, horizon in HORIZON_CHECKS]
    print_checks([*checks, ("complete_journey", *COMPLETE_JOURNEY_CHECK)], ways_at)


if __name__ == "__main__":
    main()
