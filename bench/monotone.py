"""Tree learners with monotone constraints, checked against the learners as they are
on the two windows of ``bench.value.HORIZON_CHECKS`` inside CDNOW's calibration period
(nothing of the holdout is read). docs/value-experiments.md, "Monotone trees".

    python -m bench.monotone        # prints JSON, about 2 minutes

The trees learn from customers at the training cutoffs and are applied at as_of, where
the customers are older, quieter and further from their last order than any the trees
saw (CDNOW is one cohort, which joined in its first quarter). Beyond the values seen, a
tree's prediction is flat and may rise or fall with noise where, all else equal, more
orders so far can only mean more orders to come. Monotone constraints (LightGBM's and
XGBoost's ``monotone_constraints``) make each tree's prediction rise with the counts of
orders and spend so far and BTYD's rates and P(active), and fall with the days since the
last order; churn the other way round. The first check left the random forest as it
is; scikit-learn's forests take the same constraints (``monotonic_cst``), checked second.

Written before it ran (2026-12-02), two separate decisions:

- *Spend and orders regressors*: made if, at both checks, the blend's spend RMSE and
  decile error are lower and its top-decile capture and normalised Gini fall by no more
  than 0.003 (the bar of the two spend changes before it); of LightGBM's two methods
  ("basic", "intermediate") the one with the lower sum of the blend's RMSE over both.
- *Churn classifiers*: made if, at both checks, the blend's churn ROC-AUC rises by at
  least 0.003 and no churn candidate's Brier score rises by more than 0.0005.

Otherwise it is not made and the holdout is not run with it. The first check made the
regressors' constraints with LightGBM's "basic" method and not the churn classifiers'.
Written after that, before the second check ran: the forest's spend and orders
regressors are constrained too if, at both checks, the blend's spend RMSE and decile
error are lower than with LightGBM's and XGBoost's alone constrained, and its top-decile
capture and normalised Gini fall by no more than 0.003.

    python -m bench.monotone forest   # the second check, about a minute

Written after both, before the third check ran: Gamma-Gamma's expected order value rises
with the customer's own mean order value, so spend may be constrained to rise with
``monetary_mean`` too (with the counts and amounts so far held fixed). Made if, at both
checks, the blend's spend RMSE and decile error are lower than with the directions as
made, and its top-decile capture and normalised Gini fall by no more than 0.003.

    python -m bench.monotone order_value   # the third check, about a minute
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any
from unittest import mock

from bench.measure import print_checks
from bench.value import HORIZON_CHECKS, fitted_on_cdnow, scored_on_holdout
from custintel.value.learners import monotone_directions  # bound before unconstrained()


def directions(columns: list[str], target: str) -> list[int]:
    """custintel's directions (``learners.monotone_directions``, made after the first
    check) for "spend" and "orders", the orders directions negated for "churn" (the
    variant tried and not made), free for anything else."""
    if target == "churn":
        return [-way for way in monotone_directions(columns, "orders") or []]
    return monotone_directions(columns, target) or [0] * len(columns)


@contextlib.contextmanager
def unconstrained() -> Iterator[None]:
    """The learners as they were before the first check: no constraints."""
    from custintel.value import learners

    with mock.patch.object(learners, "monotone_directions", lambda features, target: None):
        yield


def _target(y: Any, classifier: bool) -> str:
    """Which model is being fitted: the regressors learn a Series named after the rate
    (models.fit_candidates), next order an unnamed share, the classifiers churn."""
    if classifier:
        return "churn"
    return {"spend_rate": "spend", "orders_rate": "orders"}.get(getattr(y, "name", None), "")


@contextlib.contextmanager
def monotone_learners(
    method: str,
    learners: tuple[str, ...] = ("gbm", "xgboost"),
    targets: tuple[str, ...] = ("spend", "orders", "churn"),
) -> Iterator[None]:
    """Inside the block, ``learners`` are built with monotone constraints for
    ``targets``, set at fit time from the columns they are given; LightGBM uses
    ``method``."""
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import (
        RandomForestClassifier,
        RandomForestRegressor,
    )

    from custintel.value import learners as built

    def constrained(base: type, classifier: bool, key: str) -> type:
        class Constrained(base):  # type: ignore[misc, valid-type]
            def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
                target = _target(y, classifier)
                ways = directions(list(X.columns), target if target in targets else "")
                if key == "gbm":
                    self.set_params(monotone_constraints=ways, monotone_constraints_method=method)
                elif key == "xgboost":
                    self.set_params(monotone_constraints=tuple(ways))
                else:
                    self.set_params(monotonic_cst=ways)
                return super().fit(X, y, **kwargs)

        return Constrained

    bases = {
        "gbm": (lgb.LGBMRegressor, lgb.LGBMClassifier, "_gbm"),
        "xgboost": (xgb.XGBRegressor, xgb.XGBClassifier, "_xgboost"),
        "random_forest": (RandomForestRegressor, RandomForestClassifier, "_forest"),
    }
    with contextlib.ExitStack() as stack:
        for key in learners:
            regressor, classifier, builder = bases[key]
            classes = {
                False: constrained(regressor, False, key),
                True: constrained(classifier, True, key),
            }
            plain = getattr(built, builder)

            def build(is_classifier: bool, *args: Any, _plain=plain, _classes=classes, **kw: Any):
                model = _plain(is_classifier, *args, **kw)
                return _classes[is_classifier](**model.get_params())

            stack.enter_context(mock.patch.object(built, builder, build))
        yield


KEPT = ("rmse", "decile_error", "top_decile_capture", "normalised_gini", "aggregate_error")


def measured(as_of: Any, horizon: int) -> dict[str, Any]:
    run = fitted_on_cdnow(as_of, horizon)
    scored = scored_on_holdout(run, horizon)
    out: dict[str, Any] = {"chosen": run.final.chosen, "seconds": round(run.seconds, 1)}
    for target in ("spend", "orders"):
        out[target] = {
            name: {k: round(v, 4) for k, v in m.items() if k in KEPT}
            for name, m in scored.measures[target].items()
        }
    out["churn"] = {
        name: {k: round(v, 5) for k, v in m.items() if k in ("roc_auc", "brier")}
        for name, m in scored.measures["churn"].items()
    }
    return out


def variants(as_of: Any, horizon: int, mode: str) -> dict[str, Any]:
    """Each way's measures at one check: the first two checks' runs start from
    unconstrained learners, the third's from the directions as made."""
    ways: dict[str, Any] = {}
    if mode == "order_value":
        from custintel.value import learners

        ways["as_made"] = measured(as_of, horizon)
        rising = (*learners.RISING_WITH_SPEND, "monetary_mean")
        with mock.patch.object(learners, "RISING_WITH_SPEND", rising):
            ways["order_value_rising"] = measured(as_of, horizon)
        return ways
    forest = mode == "forest"
    with unconstrained():
        if forest:
            regressors = ("spend", "orders")
            with monotone_learners("basic", targets=regressors):
                ways["boosted_constrained"] = measured(as_of, horizon)
            trees = ("gbm", "xgboost", "random_forest")
            with monotone_learners("basic", trees, targets=regressors):
                ways["forest_too"] = measured(as_of, horizon)
            return ways
        ways["as_is"] = measured(as_of, horizon)
        for method in ("basic", "intermediate"):
            with monotone_learners(method):
                ways[f"monotone_{method}"] = measured(as_of, horizon)
    return ways


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""

    def measure(check: tuple[Any, int]) -> dict[str, Any]:
        as_of, horizon = check
        return {"as_of": as_of.isoformat(), "horizon_days": horizon, **variants(*check, mode)}

    print_checks(HORIZON_CHECKS, measure)


if __name__ == "__main__":
    main()
