"""Time-series cross-validation of the churn candidates: no fold trains on a label
window that reaches into the cutoff it evaluates, and the AUCs measure what they say."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custintel.errors import ConfigError, NotEnoughData
from custintel.value.crossval import Fold, churn_crossval, plan_folds
from custintel.value.labels import plan_cutoffs

START = date(2024, 1, 1)


def cutoff_examples(rng: np.random.Generator, cutoff: date, window: int, n: int) -> pd.DataFrame:
    """Examples at one cutoff where churn falls with ``signal`` (BTYD knows nothing)."""
    signal = rng.uniform(0, 1, n)
    churned = rng.uniform(0, 1, n) < 0.9 - 0.7 * signal
    return pd.DataFrame(
        {
            "as_of": cutoff,
            "customer_id": [f"c{i}" for i in range(n)],
            "signal": signal,
            "recency_days": rng.integers(1, 300, n).astype(float),
            "frequency": rng.integers(1, 10, n).astype(float),
            "ipi_mean_days": np.where(signal < 0.2, np.nan, rng.uniform(10, 90, n)),
            "btyd_orders_rate": rng.uniform(0, 0.3, n),
            "window_days": window,
            "churned": churned,
            "orders": (~churned).astype(float),
        }
    )


def history(cutoffs: list[tuple[date, int]], n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat([cutoff_examples(rng, c, w, n) for c, w in cutoffs], ignore_index=True)


def every(days: int, count: int, window: int) -> list[tuple[date, int]]:
    return [(START + timedelta(days=days * k), window) for k in range(count)]


def test_fold_plan_by_hand() -> None:
    """Cutoffs 15 days apart with 30-day windows: a cutoff's window ends two cutoffs
    later, so each fold trains on the cutoffs at least two steps back."""
    d = [START + timedelta(days=15 * k) for k in range(5)]
    folds = plan_folds([(c, 30) for c in d])
    assert folds == [
        Fold(evaluate=d[2], window_days=30, train=(d[0],)),
        Fold(evaluate=d[3], window_days=30, train=(d[0], d[1])),
        Fold(evaluate=d[4], window_days=30, train=(d[0], d[1], d[2])),
    ]
    assert plan_folds([(c, 30) for c in d], min_train=2) == folds[1:]


def test_the_service_plan_folds_never_overlap_the_evaluated_cutoff() -> None:
    """The cutoffs ``custintel score`` builds examples at (train, calibration,
    validation): windows of training cutoffs half a window apart overlap each other,
    never the cutoff evaluated."""
    plan = plan_cutoffs(date(2023, 1, 1), date(2025, 1, 1), 90)
    cutoffs = [*plan.train, plan.calibration, plan.validation]
    folds = plan_folds(cutoffs)
    assert [f.evaluate for f in folds][-2:] == [plan.calibration[0], plan.validation[0]]
    assert folds[-1].train == tuple(c for c, _ in [*plan.train, plan.calibration])
    for fold in folds:
        for c in fold.train:
            assert c + timedelta(days=plan.window_days) <= fold.evaluate


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(1, 120)),
        min_size=1,
        max_size=8,
        unique_by=lambda t: t[0],
    ),
    st.integers(1, 3),
)
def test_folds_train_on_every_ended_window_and_nothing_else(
    spec: list[tuple[int, int]], min_train: int
) -> None:
    cutoffs = [(START + timedelta(days=d), w) for d, w in spec]
    windows = dict(cutoffs)
    folds = plan_folds(cutoffs, min_train=min_train)
    for fold in folds:
        ended = {c for c, w in cutoffs if c + timedelta(days=w) <= fold.evaluate}
        assert set(fold.train) == ended  # expanding: all of them, and only them
        assert fold.evaluate not in fold.train
        assert len(fold.train) >= min_train
        assert fold.window_days == windows[fold.evaluate]
    evaluated = {f.evaluate for f in folds}
    for c, _ in cutoffs:
        ended = [d for d, w in cutoffs if d + timedelta(days=w) <= c]
        assert (c in evaluated) == (len(ended) >= min_train)


def test_crossval_folds_follow_the_plan_and_beat_chance() -> None:
    cutoffs = every(20, 5, 30)  # folds at the 3rd, 4th and 5th cutoffs
    examples = history(cutoffs)
    result = churn_crossval(examples, n_jobs=1)
    assert [r.fold for r in result.folds] == plan_folds(cutoffs)
    assert result.candidates == ["btyd", "gbm", "xgboost", "random_forest", "blend"]
    for r in result.folds:
        trained = examples[examples["as_of"].isin(r.fold.train)]
        assert r.train_rows == len(trained)
        assert (trained["as_of"] + timedelta(days=30) <= r.fold.evaluate).all()
        assert r.rows == (examples["as_of"] == r.fold.evaluate).sum()
        for name, m in r.metrics.items():
            if name == "blend" and np.isnan(m["roc_auc"]):
                continue  # a fold that cannot build it (test below)
            assert 0 <= m["roc_auc"] <= 1 and 0 <= m["pr_auc"] <= 1, name
    for name in ("gbm", "xgboost", "random_forest"):
        summary = result.summary[name]
        assert summary["roc_auc_mean"] > 0.65, (name, summary)
        # Churners are the majority here (about 55 %): chance PR-AUC is the churn rate.
        rate = np.mean([r.churn_rate for r in result.folds])
        assert summary["pr_auc_mean"] > rate + 0.05, (name, summary)
        assert summary["folds"] == 3
        assert summary["roc_auc_std"] >= 0
    # BTYD's rate is noise here: no better than chance, give or take.
    assert abs(result.summary["btyd"]["roc_auc_mean"] - 0.5) < 0.1


def test_crossval_with_smote_and_latest_folds_only() -> None:
    cutoffs = every(20, 5, 30)
    result = churn_crossval(
        history(cutoffs, seed=1), candidates=["gbm"], imbalance="smote", max_folds=2, n_jobs=1
    )
    assert [r.fold.evaluate for r in result.folds] == [c for c, _ in cutoffs[-2:]]
    assert result.candidates == ["gbm"]
    assert result.summary["gbm"]["roc_auc_mean"] > 0.65


def test_crossval_is_plain_json() -> None:
    cutoffs = every(40, 3, 30)
    examples = history(cutoffs, n=200)
    # A fold whose evaluated cutoff has one class has no AUC: null, not NaN.
    examples.loc[examples["as_of"] == cutoffs[1][0], "churned"] = True
    out = churn_crossval(examples, candidates=["btyd", "random_forest"], n_jobs=1).as_dict()
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert [f["evaluate"] for f in back["folds"]] == [c.isoformat() for c, _ in cutoffs[1:]]
    assert back["folds"][0]["metrics"]["btyd"]["roc_auc"] is None
    assert back["summary"]["random_forest"]["folds"] == 1
    assert back["imbalance"] == "class_weight"


def test_crossval_refuses_what_it_cannot_do() -> None:
    examples = history(every(10, 2, 30), n=50)
    with pytest.raises(NotEnoughData, match="2 cutoffs"):
        churn_crossval(examples)
    with pytest.raises(ConfigError, match="blend"):
        churn_crossval(examples, candidates=["blend"])
    with pytest.raises(ConfigError, match="churned"):
        churn_crossval(examples.drop(columns="churned"))


def test_the_blend_is_calibrated_one_cutoff_back_and_counted_where_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a fold, the blend's learners train on earlier cutoffs whose label windows end
    by the fold's latest training cutoff, which calibrates every candidate; a fold with
    no such cutoff has no blend measure, and the summary counts only those that do."""
    import custintel.value.crossval as crossval

    seen: list[tuple[set[date], set[date]]] = []
    real = crossval.fit_calibrated_churn

    def spy(train, calibration, *args, **kwargs):
        seen.append((set(train["as_of"]), set(calibration["as_of"])))
        return real(train, calibration, *args, **kwargs)

    monkeypatch.setattr(crossval, "fit_calibrated_churn", spy)
    cutoffs = every(20, 5, 30)  # days 0, 20, 40, 60, 80; folds at 40, 60 and 80
    result = churn_crossval(history(cutoffs), candidates=["btyd", "gbm", "blend"], n_jobs=1)
    day = {START + timedelta(days=d): d for d in range(0, 100, 20)}
    # Only the fold at day 80 has a cutoff (day 0) whose window ends by its latest
    # training cutoff (day 40): the folds at 40 and 60 cannot calibrate a blend.
    assert [({day[c] for c in t}, {day[c] for c in k}) for t, k in seen] == [({0}, {40})]
    measured = [not np.isnan(r.metrics["blend"]["roc_auc"]) for r in result.folds]
    assert measured == [False, False, True]
    assert result.summary["blend"]["folds"] == 1
    assert result.summary["gbm"]["folds"] == 3
    assert result.summary["blend"]["roc_auc_mean"] > 0.65  # it ranks on the signal
    assert set(result.folds[0].metrics) == {"btyd", "gbm", "blend"}
