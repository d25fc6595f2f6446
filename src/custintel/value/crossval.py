"""How well the churn candidates rank customers, by time-series cross-validation.

The validation cutoff that chooses a model (``models.compare``) is one sample of one
season; this module repeats the measurement over every cutoff that the history allows.
Given labelled examples at several ordered cutoffs (``examples.examples``: a row per
``as_of`` and customer, with its ``window_days``), each fold evaluates one cutoff with
the churn candidates trained on every earlier cutoff whose label window has ended by
then, ``as_of + window_days <= evaluated cutoff``: an expanding window in which no
training label saw a day of the evaluated cutoff's future (``plan_folds``).

The measures are ROC-AUC and PR-AUC (average precision; a random ranking scores the
fold's churn rate, reported beside it), per fold and as the mean and standard deviation
over folds (population SD: the spread of the folds at hand). Both are rank measures, so
the candidates' raw scores are ranked: the isotonic calibration ``fit_candidates``
applies is monotone, could only add ties, and would cost each fold a cutoff of its own.

``blend`` is the exception: it averages calibrated probabilities, and a mean of
calibrated probabilities ranks differently from a mean of raw scores. In a fold it is
built as the served blend is, one cutoff back: the learners among the candidates fitted
on the fold's earlier training cutoffs whose label windows end by its latest one, every
candidate calibrated on that latest cutoff. A fold with no such earlier cutoff (the first
fold, with a single training cutoff) cannot measure it, and the blend's summary counts
only the folds that did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd

from custintel.errors import ConfigError, NotEnoughData
from custintel.value.metrics import churn_metrics
from custintel.value.models import (
    LEARNERS,
    ValueModels,
    feature_columns,
    fit_calibrated_churn,
    fit_churn,
)

__all__ = ["CV_CANDIDATES", "CrossValidation", "Fold", "FoldResult", "churn_crossval", "plan_folds"]

CV_CANDIDATES = ("btyd", *LEARNERS, "blend")
MEASURES = ("roc_auc", "pr_auc")


@dataclass(frozen=True)
class Fold:
    """One fold: the cutoff evaluated (its label window is ``window_days`` long) and the
    cutoffs trained on, each of whose label windows ends on or before ``evaluate``."""

    evaluate: date
    window_days: int
    train: tuple[date, ...]


@dataclass(frozen=True)
class FoldResult:
    """A fold's rows and each candidate's ``roc_auc`` and ``pr_auc`` (NaN when the
    evaluated cutoff has a single class)."""

    fold: Fold
    train_rows: int
    rows: int
    churn_rate: float
    metrics: dict[str, dict[str, float]]


@dataclass
class CrossValidation:
    """Every fold's measures, and per candidate ``roc_auc_mean``, ``roc_auc_std``,
    ``pr_auc_mean``, ``pr_auc_std`` and ``folds`` (how many folds were measurable)."""

    candidates: list[str]
    imbalance: str
    folds: list[FoldResult] = field(default_factory=list)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: dates as ISO strings, NaN as None."""
        return {
            "candidates": list(self.candidates),
            "imbalance": self.imbalance,
            "folds": [
                {
                    "evaluate": r.fold.evaluate.isoformat(),
                    "window_days": r.fold.window_days,
                    "train": [d.isoformat() for d in r.fold.train],
                    "train_rows": r.train_rows,
                    "rows": r.rows,
                    "churn_rate": _json(r.churn_rate),
                    "metrics": {
                        name: {k: _json(v) for k, v in values.items()}
                        for name, values in r.metrics.items()
                    },
                }
                for r in self.folds
            ],
            "summary": {
                name: {k: _json(v) for k, v in values.items()}
                for name, values in self.summary.items()
            },
        }


def _json(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def plan_folds(cutoffs: Sequence[tuple[date, int]], *, min_train: int = 1) -> list[Fold]:
    """The expanding-window folds over ``(cutoff, window_days)`` pairs: one per cutoff
    that has at least ``min_train`` earlier cutoffs whose label windows end by it."""
    if min_train < 1:
        raise ConfigError(f"min_train={min_train} should be at least 1")
    ordered = sorted(cutoffs)
    folds = []
    for cutoff, window in ordered:
        train = tuple(c for c, w in ordered if c + timedelta(days=w) <= cutoff)
        if len(train) >= min_train:
            folds.append(Fold(evaluate=cutoff, window_days=window, train=train))
    return folds


def churn_crossval(
    examples: pd.DataFrame,
    *,
    candidates: Sequence[str] = CV_CANDIDATES,
    imbalance: str = "class_weight",
    min_train: int = 1,
    max_folds: int | None = None,
    n_jobs: int | None = None,
    seed: int = 0,
) -> CrossValidation:
    """ROC-AUC and PR-AUC of each churn candidate over the expanding-window folds of
    ``examples`` (labelled, at several ``as_of`` cutoffs). ``max_folds`` keeps the
    latest folds only (each fold fits every learner once, on all its training rows);
    ``imbalance`` is handled on each fold's training rows, and ``n_jobs`` threads are
    used, as in ``fit_candidates``."""
    unknown = sorted(set(candidates) - set(CV_CANDIDATES))
    if unknown or not candidates:
        raise ConfigError(
            f"candidates={list(candidates)} cannot be cross-validated",
            hint=f"choose from {list(CV_CANDIDATES)}",
        )
    if "blend" in candidates and not ("btyd" in candidates and set(candidates) & set(LEARNERS)):
        raise ConfigError(
            f"candidates={list(candidates)}: the blend averages btyd and the tree learners",
            hint=f'add "btyd" and one of {list(LEARNERS)}, or drop "blend"',
        )
    missing = sorted({"as_of", "window_days", "churned"} - set(examples.columns))
    if missing:
        raise ConfigError(f"the examples have no column {missing}: they need labels")
    if max_folds is not None and max_folds < 1:
        raise ConfigError(f"max_folds={max_folds} should be at least 1, or None for all")
    # Dates, whether the frame holds dates or timestamps.
    as_of = pd.Series(pd.to_datetime(examples["as_of"]).dt.date, index=examples.index)
    windows = examples["window_days"].groupby(as_of).max()
    cutoffs = [(cast(date, c), int(w)) for c, w in windows.items()]
    folds = plan_folds(cutoffs, min_train=min_train)
    if max_folds is not None:
        folds = folds[-max_folds:]
    if not folds:
        raise NotEnoughData(
            f"the {len(windows)} cutoffs allow no fold with {min_train} earlier cutoff(s) "
            "whose label window ends before it",
            hint="use more cutoffs, spaced at least a label window apart",
        )
    features = feature_columns(examples)
    learners = [c for c in LEARNERS if c in candidates]
    results = []
    for fold in folds:
        train = examples[as_of.isin(fold.train)]
        test = examples[as_of == fold.evaluate]
        fitted = fit_churn(
            train, features, learners=learners, imbalance=imbalance, n_jobs=n_jobs, seed=seed
        )
        churned = test["churned"].to_numpy(bool)
        scores: dict[str, np.ndarray | None] = dict(fitted.scores(test, btyd="btyd" in candidates))
        if "blend" in candidates:
            scores["blend"] = _calibrated_blend(
                examples,
                as_of,
                dict(cutoffs),
                fold,
                test,
                features,
                learners,
                imbalance=imbalance,
                n_jobs=n_jobs,
                seed=seed,
            )
        metrics = {}
        for name in CV_CANDIDATES:
            if name not in scores:
                continue
            score = scores[name]
            if score is None:  # the blend, in a fold that cannot build it
                metrics[name] = {m: float("nan") for m in MEASURES}
                continue
            measured = churn_metrics(churned, score)
            metrics[name] = {m: measured[m] for m in MEASURES}
        results.append(
            FoldResult(
                fold=fold,
                train_rows=len(train),
                rows=len(test),
                churn_rate=float(churned.mean()) if len(churned) else float("nan"),
                metrics=metrics,
            )
        )
    names = list(results[0].metrics)
    return CrossValidation(
        candidates=names,
        imbalance=imbalance,
        folds=results,
        summary={name: _summary([r.metrics[name] for r in results]) for name in names},
    )


def _calibrated_blend(
    examples: pd.DataFrame,
    as_of: pd.Series,
    windows: dict[date, int],
    fold: Fold,
    test: pd.DataFrame,
    features: list[str],
    learners: list[str],
    **fit: Any,
) -> np.ndarray | None:
    """The blend's churn probabilities on ``fold``'s evaluated cutoff (module
    docstring), or None when none of the fold's earlier training cutoffs has a label
    window that ends by its latest one, which calibrates."""
    calibration = fold.train[-1]
    earlier = [c for c in fold.train[:-1] if c + timedelta(days=windows[c]) <= calibration]
    if not earlier:
        return None
    churn, calibrators = fit_calibrated_churn(
        examples[as_of.isin(earlier)],
        examples[as_of == calibration],
        features,
        learners=learners,
        btyd=True,
        **fit,
    )
    models = ValueModels(
        features=features,
        candidates=("btyd", *learners, "blend"),
        churn=churn,
        calibrators=calibrators,
    )
    return models.predict(test, "churn", fold.window_days, only="blend")["blend"]


def _summary(per_fold: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    counted = 0
    for measure in MEASURES:
        values = np.array([m[measure] for m in per_fold], float)
        values = values[~np.isnan(values)]
        counted = len(values)
        out[f"{measure}_mean"] = float(values.mean()) if counted else float("nan")
        out[f"{measure}_std"] = float(values.std()) if counted else float("nan")
    out["folds"] = float(counted)
    return out
