"""Tree learners that weigh later training cutoffs more, checked against the learners as
they are on the two windows of ``bench.value.HORIZON_CHECKS`` inside CDNOW's calibration
period (nothing of the holdout is read). docs/value-experiments.md, "Later cutoffs weighed more".

    python -m bench.recent_weights        # prints JSON, about 6 minutes

Why: the trees learn from rows at several cutoffs and predict at as_of, later than all
of them. The customers at the latest cutoff are the nearest to those at as_of (older,
longer silent, fewer still buying), and adding the latest cutoff to the final refit was
the largest single gain the trees had (docs/value-experiments.md, "Two changes of 2026-11-30").
Weighing each row by its cutoff's rank (1 for the earliest, k for the latest of k
cutoffs; ``linear``) or by 2 ** rank (``doubling``) leans the trees further that way
while still learning from every row. Every tree learner's spend and orders regressors
get the weights; the churn classifiers too (on their own training cutoffs, their class
weights multiplied in), as a separate decision.

Written before it ran (2026-12-02), two separate decisions:

- *Spend and orders regressors*: made if, at both checks, the blend's spend RMSE and
  decile error are lower than as they are, and its top-decile capture and normalised
  Gini fall by no more than 0.003 (the bar of the spend changes before it); of the two
  weightings the one with the lower sum of the blend's RMSE over both checks.
- *Churn classifiers*: made if, at both checks, the blend's churn ROC-AUC rises by at
  least 0.003 and no churn candidate's Brier score rises by more than 0.0005.

Otherwise it is not made and the holdout is not run with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

from bench.measure import print_checks
from bench.monotone import measured
from bench.value import HORIZON_CHECKS

FITS = {"weighted": 0, "unweighted": 0}  # tree fits inside ``weighted``, printed

WEIGHTINGS = {
    "linear": lambda rank: rank.astype(float),
    "doubling": lambda rank: np.exp2(rank.astype(float)),
}


def cutoff_weights(as_of: pd.Series, weighting: str) -> np.ndarray:
    """Each row's weight from its cutoff's rank among the distinct cutoffs (1 = earliest),
    scaled to a mean of 1."""
    rank = as_of.rank(method="dense").to_numpy()
    weights = WEIGHTINGS[weighting](rank)
    return weights / weights.mean()


@contextlib.contextmanager
def weighted(weighting: str, *, churn: bool) -> Iterator[None]:
    """Inside the block the tree learners' fits take ``cutoff_weights`` of the rows they
    learn from, looked up by the rows' index in the frame being fitted."""
    from custintel.value import crossval, learners, models, service

    frames: list[pd.DataFrame] = []
    plain_fit_candidates = service.fit_candidates
    plain_fit_churn = models.fit_churn

    def remember(frame: pd.DataFrame) -> None:
        frames.append(frame)

    def fit_candidates(train: pd.DataFrame, calibration: pd.DataFrame, **kw: Any) -> Any:
        rows = kw.get("regression_rows")
        remember(train if rows is None else rows)
        return plain_fit_candidates(train, calibration, **kw)

    def fit_churn(train: pd.DataFrame, *args: Any, **kw: Any) -> Any:
        remember(train)
        return plain_fit_churn(train, *args, **kw)

    def source(X: pd.DataFrame) -> pd.DataFrame | None:
        """The latest remembered frame that ``X`` was cut from (same index, same values)."""
        for frame in reversed(frames):
            if X.index.isin(frame.index).all():
                part = frame.loc[X.index, X.columns]
                if np.array_equal(part.to_numpy(float), X.to_numpy(float), equal_nan=True):
                    return frame
        return None

    def with_weights(model: Any) -> Any:
        plain = model.fit

        def fit(X: pd.DataFrame, y: Any, **kwargs: Any) -> Any:
            rows = source(X)
            if rows is None:
                FITS["unweighted"] += 1
                return plain(X, y, **kwargs)
            FITS["weighted"] += 1
            w = pd.Series(cutoff_weights(rows["as_of"], weighting), index=rows.index)
            weights = w.loc[X.index].to_numpy()
            given = kwargs.pop("sample_weight", None)
            if given is not None:
                weights = weights * np.asarray(given)
            return plain(X, y, sample_weight=weights, **kwargs)

        model.fit = fit
        return model

    plain_regressor, plain_classifier = learners.regressor, learners.classifier

    def regressor(*args: Any, **kw: Any) -> Any:
        return with_weights(plain_regressor(*args, **kw))

    def classifier(*args: Any, **kw: Any) -> Any:
        return with_weights(plain_classifier(*args, **kw))

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(service, "fit_candidates", fit_candidates))
        stack.enter_context(mock.patch.object(models, "fit_churn", fit_churn))
        stack.enter_context(mock.patch.object(crossval, "fit_churn", fit_churn))
        stack.enter_context(mock.patch.object(learners, "regressor", regressor))
        if churn:
            stack.enter_context(mock.patch.object(learners, "classifier", classifier))
        yield


def ways_at(check: tuple[Any, int]) -> dict[str, Any]:
    """Every weighting's measures at one check, and how many fits took the weights."""
    as_of, horizon = check
    ways: dict[str, Any] = {"as_is": measured(as_of, horizon)}
    for weighting in WEIGHTINGS:
        with weighted(weighting, churn=False):
            ways[f"regressors_{weighting}"] = measured(as_of, horizon)
        with weighted(weighting, churn=True):
            ways[f"churn_too_{weighting}"] = measured(as_of, horizon)
        ways[f"fits_{weighting}"] = dict(FITS)
        FITS.update(weighted=0, unweighted=0)
    return {"as_of": as_of.isoformat(), "horizon_days": horizon, **ways}


def main() -> None:
    print_checks(HORIZON_CHECKS, ways_at)


if __name__ == "__main__":
    main()
