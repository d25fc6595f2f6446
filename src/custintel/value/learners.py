"""The tree learners of the value models, as each is built and fitted.

LightGBM (``gbm``), XGBoost (``xgboost``) and scikit-learn's random forest
(``random_forest``), each sized to stay fast at a million rows on 2 cores (the measured
costs are in each builder's docstring), and SMOTE's synthetic minority rows for the churn
classifiers (``imbalance = "smote"``). :mod:`custintel.value.models` fits them as
candidates and chooses between them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FOREST_ROWS", "SMOTE_POOL", "classifier", "monotone_directions", "regressor", "smote"]

# Rows each random-forest tree draws; see _forest.
FOREST_ROWS = 50_000
# Most minority-class rows SMOTE's neighbour search runs over; see smote.
SMOTE_POOL = 40_000


# Features with which, all else equal, a customer's orders to come can only rise: the
# counts so far and BTYD's rates and P(active); spend to come rises with the amounts
# so far too; both fall with the days since the last order.
RISING_WITH_ORDERS = (
    "frequency",
    "purchase_days",
    "orders_7d",
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "btyd_orders_rate",
    "btyd_p_alive",
)
RISING_WITH_SPEND = (
    "monetary",
    "spend_7d",
    "spend_30d",
    "spend_90d",
    "spend_365d",
    "btyd_spend_rate",
)
FALLING = ("recency_days",)


def monotone_directions(features: list[str], target: str) -> list[int] | None:
    """Per feature, +1 where the ``target`` regressor may only rise with it, -1 where
    only fall, 0 where free; None for a target without constraints.

    The regressors learn from customers at earlier cutoffs and predict customers who are
    older and longer silent than any they saw; beyond what it saw a tree is flat, and in
    between its noise may turn more orders so far into fewer to come. Constrained this
    way (LightGBM's and XGBoost's ``monotone_constraints``), the spend and orders
    regressors predicted CDNOW's spend better at both checks inside its calibration
    period (docs/value-experiments.md, "Monotone trees"). Constraining the random forest too
    (scikit-learn's ``monotonic_cst``) or the churn classifiers gained nothing there, so
    they stay free, as does the next-order regressor, whose target (the share of the
    window before the next order) has no such direction.
    """
    if target not in ("spend", "orders"):
        return None
    rising = set(RISING_WITH_ORDERS) | (set(RISING_WITH_SPEND) if target == "spend" else set())
    return [1 if f in rising else -1 if f in FALLING else 0 for f in features]


def _gbm(
    classifier: bool,
    seed: int,
    weighted: bool = False,
    n_jobs: int | None = None,
    monotone: list[int] | None = None,
    objective: str | None = None,
) -> Any:
    """LightGBM: 300 rounds of 15-leaf trees at a learning rate of 0.03, rows and
    columns subsampled to 0.8; histogram training on every core unless ``n_jobs``;
    ``monotone`` constraints (one direction per feature, LightGBM's basic method); a
    regressor's ``objective`` is LightGBM's (squared error unless given).
    Measured at 1M rows × 50 features on 2 cores: 21 s a regressor, 39 s a classifier
    (55 s on the 1.43M rows SMOTE makes of them)."""
    import lightgbm as lgb

    params: dict[str, Any] = {
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_child_samples": 50,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": seed,
        "n_jobs": n_jobs,
        "verbose": -1,
    }
    if monotone:
        params["monotone_constraints"] = monotone
    if not classifier:
        return lgb.LGBMRegressor(objective=objective, **params)
    return lgb.LGBMClassifier(class_weight="balanced" if weighted else None, **params)


def _xgboost(
    classifier: bool,
    seed: int,
    positive_weight: float = 1.0,
    n_jobs: int | None = None,
    monotone: list[int] | None = None,
) -> Any:
    """XGBoost with the histogram method (``tree_method="hist"``, 256 bins: exact
    splits would sort every feature at every node, hopeless at a million rows): 300
    rounds of depth-4 trees (at most 16 leaves, like ``gbm``'s 15) at a learning rate
    of 0.05, rows and columns subsampled to 0.8; missing values follow the learned
    default branch. Every core unless ``n_jobs``. Measured at 1M rows × 50 features on
    2 cores: 25 s a regressor, 43 s a classifier (47 s on SMOTE's 1.43M rows)."""
    import xgboost as xgb

    params: dict[str, Any] = {
        "tree_method": "hist",
        "max_bin": 256,
        "n_estimators": 300,
        "learning_rate": 0.05,
        "max_depth": 4,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "random_state": seed,
        "n_jobs": n_jobs,
    }
    if monotone:
        params["monotone_constraints"] = tuple(monotone)
    if not classifier:
        # Squared error: a leaf's hessian is its row count, so at least 50 rows a leaf.
        return xgb.XGBRegressor(objective="reg:squarederror", min_child_weight=50, **params)
    # Log loss: a row's hessian is p(1 - p) <= 0.25, so 5 is at least 20 rows a leaf.
    return xgb.XGBClassifier(
        objective="binary:logistic",
        min_child_weight=5,
        scale_pos_weight=positive_weight,
        **params,
    )


def _forest(
    classifier: bool, seed: int, rows: int, weighted: bool = False, n_jobs: int | None = None
) -> Any:
    """scikit-learn's random forest, bounded to stay fast at a million rows (its trees
    sort rows at every node; there is no histogram shortcut): 100 trees, each on a
    bootstrap of at most ``FOREST_ROWS`` rows (``max_samples``: with at least 50 rows a
    leaf, more rows a tree buy little, and the trees differ more), at most 12 levels
    deep with at least 50 rows a leaf (``min_samples_leaf``, which also smooths the
    leaf rates and probabilities), the square root of the feature count tried at each
    split; 2 threads (``n_jobs=2`` unless given). Missing values are split on natively
    (scikit-learn >= 1.4). Measured at 1M rows × 50 features on 2 cores: 26 s a
    regressor, 34 s a classifier (33 s on SMOTE's 1.43M rows); with 100,000 rows a tree
    and a third of the features tried, a regressor took 3.6 times the CPU time."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    params: dict[str, Any] = {
        "n_estimators": 100,
        "max_depth": 12,
        "min_samples_leaf": 50,
        "max_features": "sqrt",
        "max_samples": min(FOREST_ROWS, rows),
        "n_jobs": n_jobs or 2,
        "random_state": seed,
    }
    if not classifier:
        return RandomForestRegressor(**params)
    return RandomForestClassifier(class_weight="balanced" if weighted else None, **params)


def regressor(
    learner: str,
    rows: int,
    seed: int = 0,
    n_jobs: int | None = None,
    monotone: list[int] | None = None,
    objective: str | None = None,
) -> Any:
    """An unfitted ``learner`` regressor for ``rows`` training rows, with ``monotone``
    constraints (:func:`monotone_directions`) for LightGBM and XGBoost, and LightGBM's
    ``objective`` (squared error unless given; LightGBM only)."""
    if learner == "gbm":
        return _gbm(False, seed, n_jobs=n_jobs, monotone=monotone, objective=objective)
    if learner == "xgboost":
        return _xgboost(False, seed, n_jobs=n_jobs, monotone=monotone)
    return _forest(False, seed, rows, n_jobs=n_jobs)


def classifier(
    learner: str, churned: np.ndarray, weighted: bool, seed: int = 0, n_jobs: int | None = None
) -> Any:
    if learner == "gbm":
        return _gbm(True, seed, weighted, n_jobs)
    if learner == "xgboost":
        positives = max(int(churned.sum()), 1)
        weight = (len(churned) - positives) / positives if weighted else 1.0
        return _xgboost(True, seed, weight, n_jobs)
    return _forest(True, seed, len(churned), weighted, n_jobs)


def smote(
    features: pd.DataFrame, churned: np.ndarray, seed: int, n_jobs: int | None = None
) -> tuple[pd.DataFrame, np.ndarray, dict[str, float]]:
    """The training rows plus SMOTE's synthetic minority rows, up to equal classes;
    and the fill values (training medians) that replaced missing values, which SMOTE's
    neighbour search cannot take: the classifiers then see them in place of missing
    values at prediction too.

    Neighbours are found on standardised features (so that spend in currency does not
    outweigh counts) among at most ``SMOTE_POOL`` minority rows drawn at random: the
    search costs about the square of the rows searched (at 1M rows × 50 features on 2
    cores, 11 s in all with a pool of 40,000, 25 s with 80,000, 87 s with 160,000,
    while a million customers hold a few hundred thousand minority rows), and a
    synthetic row is still a point between a minority row and one of its 5 nearest
    minority neighbours among 40,000. Every original row is kept."""
    from imblearn.over_sampling import SMOTE
    from sklearn.neighbors import NearestNeighbors

    values = features.astype(float)
    fill = values.median().fillna(0.0)
    filled = values.fillna(fill).to_numpy(float)
    fills = {str(k): float(v) for k, v in fill.items()}
    labels = churned.astype(int)
    counts = np.bincount(labels, minlength=2)
    minority = int(np.argmin(counts))
    missing = int(counts.max() - counts.min())
    if counts.min() < 2 or missing == 0:
        return pd.DataFrame(filled, columns=features.columns), labels, fills
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(labels == minority)
    if len(pool) > SMOTE_POOL:
        pool = np.sort(rng.choice(pool, SMOTE_POOL, replace=False))
    centre = filled.mean(axis=0)
    scale = filled.std(axis=0)
    scale[scale == 0] = 1.0
    # SMOTE needs both classes present; one majority row stands in for the rest (the
    # neighbour search covers only the class being oversampled).
    other = np.flatnonzero(labels != minority)[:1]
    given = (filled[np.concatenate([pool, other])] - centre) / scale
    sampler = SMOTE(
        sampling_strategy={minority: len(pool) + missing},
        k_neighbors=NearestNeighbors(n_neighbors=min(6, len(pool)), n_jobs=n_jobs or 2),
        random_state=seed,
    )
    resampled, _ = sampler.fit_resample(given, labels[np.concatenate([pool, other])])
    # imbalanced-learn returns the given rows first, then the synthetic ones.
    synthetic = resampled[len(given) :] * scale + centre
    rows = np.vstack([filled, synthetic])
    out = np.concatenate([labels, np.full(len(synthetic), minority)])
    return pd.DataFrame(rows, columns=features.columns), out, fills
