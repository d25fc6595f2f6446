"""Candidate value models per target, and the choice between them by a time split.

Targets: ``spend`` and ``orders`` in the next N days (regression on per-day rates, see
examples.py), ``churn`` (no order in the next N days) and the days to the next order.
Candidates (``CANDIDATES``; ``fit_candidates(..., candidates=...)`` fits a subset):

- ``btyd``: BG/NBD + Gamma-Gamma's expectation (its rate over the window × N days);
  for churn, its expected orders a day over the window, inverted and calibrated on the
  calibration cutoff like the learners' scores (BTYD's own chance of no order,
  ``BTYDModel.p_no_orders``, only carries calibrated probabilities to a horizon longer
  than the window, ``service.churn_over_horizon``);
- ``gbm`` (LightGBM), ``xgboost`` (XGBoost) and ``random_forest`` (scikit-learn): trees
  on the point-in-time features plus the BTYD rates (``LEARNERS``, built in
  ``learners.py``);
- ``blend``: half ``btyd``, half the mean of the fitted tree learners (``gbm`` alone in
  a large shop). Fixed weights, not BTYD with whichever learner scores best: that
  partner would be picked on the validation cutoff, and the blend then scored on the
  same cutoff would be flattered by its own selection. Averaging the learners lowers
  the variance of any one of them; on a window inside CDNOW's calibration period it
  beat the mean of BTYD and LightGBM alone on every spend measure and on churn
  (docs/accuracy.md);
- ``orders_x_value`` (spend only): the blend's expected orders times the customer's
  expected order value from Gamma-Gamma (BTYD's expected spend over its expected
  orders): the classic split of spend into how often and how much, with the trees
  helping only with how often, where they rank customers best, and the amount per order
  left to Gamma-Gamma, which shrinks each customer's average order towards the shop's.
  Spend trees must learn both from one heavy-tailed target. Made after it beat the blend
  on spend RMSE and decile error at both checks inside CDNOW's calibration period
  (docs/accuracy.md);
- ``run_rate``: the customer's spend (orders) over the last 365 days, scaled to the
  horizon: the naive "last period" way. Not over their tenure when shorter, which
  turned a first order placed yesterday into a daily rate (docs/decisions.md);
- ``rfm_cell``: the mean training rate of customers in the same recency × frequency
  quintile cell, scaled to the horizon.

Churn is imbalanced (in most shops most customers place no order in a given month), so
the churn learners take ``imbalance``: ``"class_weight"`` (default) weights both classes
equally, ``"smote"`` adds synthetic minority rows (imbalanced-learn's SMOTE) to the
training rows only, never to the calibration or validation rows, and ``"none"`` leaves
the classes as they are. Either way the probabilities are then calibrated (centered
isotonic, ``calibration.py``) on a later cutoff: the imbalance option changes what the
trees learn to rank, not the scale of the probabilities. The next order date is
LightGBM against the usual gap, whatever the candidates.

Spend and orders rates are learnt and predicted on the footing of an average month of
the shop's year (``seasons.py``; flat, so no change, for a shop without three years of
repeat orders): the learners and the RFM cells see each window's rates divided by its
seasonal factor, and every candidate's prediction is multiplied by the factor of the
window it predicts.

Every candidate is fitted on the training cutoffs and scored on the validation cutoff
(later than all training label windows); the best by RMSE (spend, orders) or by Brier
score (churn, whose probabilities must be calibrated) is chosen. For orders, when other
candidates are within noise of the best on that window (``metrics.within_noise``), the
plain mean of them all (``TIES_MEAN``) is served instead: it served orders better at
five of eight checks with ties, while for spend and churn it failed its bar
(bench/tied_mean.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from custintel.errors import ConfigError
from custintel.features.customer import MONEY_DECIMALS, OTHER
from custintel.value import learners as tree_learners
from custintel.value.calibration import CenteredIsotonic
from custintel.value.eligibility import CHANCE_P
from custintel.value.metrics import (
    chosen_ranking_p,
    churn_metrics,
    reliability_table,
    spend_metrics,
    timing_errors,
    timing_p,
    within_noise,
)
from custintel.value.seasons import Seasons

__all__ = [
    "CANDIDATES",
    "COMBINED",
    "IMBALANCE",
    "LEARNERS",
    "TIES_MEAN",
    "ChurnClassifiers",
    "ValueModels",
    "btyd_next_order_days",
    "category_shares",
    "category_spend",
    "choose_category_prior",
    "compare",
    "describe_category_prior",
    "feature_columns",
    "fit_calibrated_churn",
    "fit_candidates",
    "fit_churn",
    "ordinary",
    "realised_by_category",
    "shop_mix",
]

LEARNERS = ("gbm", "xgboost", "random_forest")
CANDIDATES = ("btyd", *LEARNERS, "blend", "orders_x_value", "run_rate", "rfm_cell")
# Candidates made of BTYD and the tree learners' predictions together.
COMBINED = ("blend", "orders_x_value")
# What a target serves when its lowest-error candidate ties with others on the
# validation window (``metrics.within_noise``): the plain mean of them all, whose parts
# are ``ValueModels.averaged[target]``. Orders only: the mean beat the lowest-error
# candidate on orders at 5 of 8 checks with ties, and failed its bar for spend and churn
# (bench/tied_mean.py).
TIES_MEAN = "mean_of_ties"
AVERAGE_TIES = ("orders",)
CHURN_CANDIDATES = ("btyd", *LEARNERS, "blend")
IMBALANCE = ("class_weight", "smote", "none")
NOT_FEATURES = {
    "as_of",
    "customer_id",
    "window_days",
    "spend",
    "orders",
    "churned",
    "days_to_next_order",
    "spend_rate",
    "orders_rate",
    "outlying",
    # In feature rows so that BTYD's summary can be rebuilt from them (value/rows.py);
    # the trees see it through the BTYD rates, and leaving it out keeps the models as
    # measured in docs/accuracy.md.
    "repeat_spend",
}
RATE = {"spend": "spend_rate", "orders": "orders_rate"}
# LightGBM's loss for the days to the next order (as a share of the window); the dates
# are chosen and reported by their mean absolute error in days.
NEXT_ORDER_OBJECTIVE = "l1"


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns a model may learn from (no ids, no labels)."""
    return [
        c
        for c in frame.columns
        if c not in NOT_FEATURES
        and not c.startswith("next_spend__")
        and pd.api.types.is_numeric_dtype(frame[c])
    ]


@dataclass
class ChurnClassifiers:
    """The churn learners fitted on one set of training rows, before calibration;
    ``fill`` holds the values that replaced missing features in training (SMOTE only),
    applied again before every prediction."""

    features: list[str]
    models: dict[str, Any] = field(default_factory=dict)
    fill: dict[str, float] = field(default_factory=dict)

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature columns of ``frame`` as the classifiers saw them in training."""
        columns = frame[self.features]
        return columns.fillna(self.fill) if self.fill else columns

    def scores(
        self, frame: pd.DataFrame, *, btyd: bool = True, learners: Collection[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Raw churn scores, higher for likelier churn: each learner's probability
        (uncalibrated: class weights or SMOTE shift it; only ``learners`` when given)
        and, with ``btyd``, BTYD's expected orders a day, negated."""
        out: dict[str, np.ndarray] = {}
        if btyd:
            out["btyd"] = -np.nan_to_num(frame["btyd_orders_rate"].to_numpy(float))
        models = {n: m for n, m in self.models.items() if learners is None or n in learners}
        if models:
            inputs = self.inputs(frame)
            for name, model in models.items():
                out[name] = model.predict_proba(inputs)[:, 1]
        return out


def fit_churn(
    train: pd.DataFrame,
    features: list[str],
    *,
    learners: Sequence[str] = LEARNERS,
    imbalance: str = "class_weight",
    n_jobs: int | None = None,
    seed: int = 0,
) -> ChurnClassifiers:
    """Fit the churn ``learners`` on ``train``, handling the class imbalance as
    ``imbalance`` says (module docstring). Only ``train``'s rows are resampled.
    ``n_jobs``: threads per learner, as in ``fit_candidates``."""
    _check(tuple(learners), imbalance)
    if not set(learners) <= set(LEARNERS):
        raise ConfigError(
            f"learners={list(learners)} should be among {list(LEARNERS)}",
            hint="btyd and the baselines need no fitting",
        )
    churned = train["churned"].to_numpy(bool)
    fitted = ChurnClassifiers(features=list(features))
    if not learners or churned.all() or not churned.any():
        # Rows of one class only (every customer ordered in every training window, as
        # the stores of a chain do, or none did): there is nothing to tell apart, and
        # the learners fail or mislead (LightGBM gives the one class seen a probability
        # of 1e-15). BTYD's probability, which needs no labels, is left to churn.
        return fitted
    inputs = train[fitted.features]
    labels = churned.astype(int)
    if imbalance == "smote":
        inputs, labels, fitted.fill = tree_learners.smote(inputs, churned, seed, n_jobs)
    for learner in learners:
        model = tree_learners.classifier(learner, labels, imbalance == "class_weight", seed, n_jobs)
        fitted.models[learner] = model.fit(inputs, labels)
    return fitted


def _check(candidates: tuple[str, ...], imbalance: str) -> tuple[str, ...]:
    unknown = sorted(set(candidates) - set(CANDIDATES))
    if unknown:
        raise ConfigError(
            f"unknown value model candidates {unknown}", hint=f"choose from {list(CANDIDATES)}"
        )
    if imbalance not in IMBALANCE:
        raise ConfigError(
            f"imbalance={imbalance!r} is not one of {list(IMBALANCE)}",
            hint='"class_weight" is the default; "smote" oversamples the minority class',
        )
    return tuple(c for c in CANDIDATES if c in candidates)


# The run-rate baseline's period: the last year, whatever the customer's tenure.
RUN_RATE_DAYS = 365


def _run_rate(frame: pd.DataFrame, target: str) -> np.ndarray:
    """The per-day rate of the last ``RUN_RATE_DAYS`` days' spend (orders)."""
    column = "spend_365d" if target == "spend" else "orders_365d"
    return frame[column].to_numpy(float) / RUN_RATE_DAYS


def btyd_next_order_days(frame: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """The median day of each customer's first order in the horizon, given one falls in
    it, if they order at BTYD's rate: lambda = btyd_orders_rate / btyd_p_alive a day
    while active (an order means they are). The first order's time is then
    exponential, and its median given that it falls within H days is
    -ln((1 + exp(-lambda H)) / 2) / lambda: about ln 2 / lambda for a frequent buyer,
    H / 2 for a rare one. Less half a day, for the whole day the order falls on (the
    middle's (H - 1) / 2 in the limit); the middle where BTYD gives no rate. No
    parameter is fitted beyond BTYD's own; it was held to a bar before it was made
    (bench/next_order_btyd.py)."""
    alive = frame["btyd_p_alive"].to_numpy(float)
    rate = np.divide(
        frame["btyd_orders_rate"].to_numpy(float),
        alive,
        out=np.full(len(frame), np.nan),
        where=alive > 0,
    )
    known = np.isfinite(rate) & (rate > 0)
    lam = np.where(known, rate, 1.0)
    median = -np.log1p(np.expm1(-lam * horizon_days) / 2) / lam
    return np.where(known, np.clip(median - 0.5, 0, horizon_days - 1), (horizon_days - 1) / 2)


def _cells(frame: pd.DataFrame, edges: dict[str, np.ndarray]) -> pd.Series:
    r = np.searchsorted(edges["recency_days"], frame["recency_days"].to_numpy(float))
    f = np.searchsorted(edges["frequency"], frame["frequency"].to_numpy(float))
    return pd.Series(r * 10 + f, index=frame.index)


@dataclass
class ValueModels:
    """The fitted candidates of every target, and what the validation split chose.

    ``regressors[target][learner]`` for spend and orders (per-day rates) and
    ``regressors["next_order"]["gbm"]``; ``churn`` holds the churn learners and
    ``calibrators`` the centered-isotonic map of each churn candidate's raw score."""

    features: list[str]
    candidates: tuple[str, ...] = CANDIDATES
    imbalance: str = "class_weight"
    regressors: dict[str, dict[str, Any]] = field(default_factory=dict)
    churn: ChurnClassifiers | None = None
    calibrators: dict[str, Any] = field(default_factory=dict)
    cell_edges: dict[str, np.ndarray] = field(default_factory=dict)
    cell_rates: dict[str, pd.Series] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)
    # Per target whose chosen model is ``TIES_MEAN``: the candidates it averages.
    averaged: dict[str, list[str]] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    # The churn candidates' cross-validation (crossval.CrossValidation.as_dict()), when
    # the caller ran one: it measures, it does not choose.
    crossval: dict[str, Any] = field(default_factory=dict)
    # The label window (days) the churn probabilities were calibrated on; the service
    # carries them to a longer horizon (``service.churn_over_horizon``).
    window_days: int | None = None
    # Per churn candidate, its reliability table on the validation cutoff (``compare``).
    reliability: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    # The shop's monthly season (seasons.py): the regressors learn rates divided by
    # their window's factor, and every spend and orders prediction is multiplied by
    # the factor of the window it predicts.
    seasons: Seasons = field(default_factory=Seasons)
    # How many orders the shop's category mix weighs against each customer's own shares
    # when expected spend is split by category (``category_shares``); chosen by
    # ``compare`` (``choose_category_prior``), 0 (own shares only) until then.
    category_prior: float = 0.0
    # The shop's category mix the shares are shrunk towards (``shop_mix`` of the
    # validation cutoff's customers), kept so that scoring any batch of customers splits
    # each one the same; empty until ``compare`` sets it.
    category_mix: dict[str, float] = field(default_factory=dict)

    @property
    def explained(self) -> str | None:
        """The churn candidate whose SHAP values explain churn (``explain.py``): LightGBM
        when fitted (TreeSHAP on it is fast), else the first learner; None without
        learners. It need not be the chosen one (``service.factor_agreement``)."""
        models = self.churn.models if self.churn else {}
        return "gbm" if "gbm" in models else next(iter(models), None)

    @property
    def classifier(self) -> Any:
        """The fitted classifier of :attr:`explained` (None without learners)."""
        name = self.explained
        return self.churn.models[name] if self.churn and name else None

    def classifier_inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The features of ``frame`` as the churn classifiers see them (missing values
        filled as in training after SMOTE; unchanged otherwise)."""
        return self.churn.inputs(frame) if self.churn else frame[self.features]

    def predict(
        self, frame: pd.DataFrame, target: str, horizon_days: int, *, only: str | None = None
    ) -> dict[str, np.ndarray]:
        """Every fitted candidate's prediction for ``target`` over the horizon (churn:
        the calibrated probability of no order), in ``CANDIDATES`` order; with ``only``,
        that candidate's and those it rests on (a blend's learners). Scoring asks for
        the chosen one: a tree learner nobody chose costs a pass over every customer.
        Spend and orders are for the windows of ``horizon_days`` from each row's
        ``as_of``, in that window's season. A target whose ties are averaged has
        ``TIES_MEAN`` too."""
        parts = self.averaged.get(target, [])
        if only == TIES_MEAN and not parts:
            raise ConfigError(f"no {target} candidates were averaged: {TIES_MEAN} is not fitted")
        wanted = (
            set().union(*(self._wanted(part) for part in parts))
            if only == TIES_MEAN
            else self._wanted(only)
        )
        if target == "churn":
            return self._churn(frame, wanted)
        season = self.season(frame, target, horizon_days)
        predicted = {
            name: rate * season
            for name, rate in self._rates(frame, target, horizon_days, wanted).items()
        }
        if parts and only in (None, TIES_MEAN):
            predicted[TIES_MEAN] = np.mean([predicted[part] for part in parts], axis=0)
        return predicted

    def season(self, frame: pd.DataFrame, target: str, days: int | pd.Series) -> np.ndarray:
        """The seasonal factor of each row's window of ``days`` from its ``as_of``."""
        if self.seasons.flat:
            return np.ones(len(frame))
        return self.seasons.factors(target, frame["as_of"], days)

    def _rates(
        self, frame: pd.DataFrame, target: str, horizon_days: int, wanted: set[str]
    ) -> dict[str, np.ndarray]:
        """Every wanted candidate's prediction over the horizon, before the season."""
        out: dict[str, np.ndarray] = {}
        rate = f"btyd_{target}_rate"
        btyd = np.nan_to_num(frame[rate].to_numpy(float)) * horizon_days
        if "btyd" in wanted:
            out["btyd"] = btyd
        for learner, model in self.regressors[target].items():
            if learner in wanted:
                predicted = model.predict(frame[self.features])
                out[learner] = np.clip(predicted, 0, None) * horizon_days
        if "blend" in wanted:
            out["blend"] = _blend(btyd, out)
        if target == "spend" and "orders_x_value" in wanted:
            orders = self._rates(frame, "orders", horizon_days, {"btyd", *LEARNERS, "blend"})
            out["orders_x_value"] = orders["blend"] * _order_value(frame)
        if "run_rate" in wanted:
            out["run_rate"] = _run_rate(frame, target) * horizon_days
        if "rfm_cell" in wanted:
            cells = _cells(frame, self.cell_edges)
            fallback = float(self.cell_rates[target].mean())
            rfm = cells.map(self.cell_rates[target]).fillna(fallback).to_numpy(float)
            out["rfm_cell"] = rfm * horizon_days
        outlying = ~ordinary(frame)
        if target == "spend" and outlying.any():
            # Of another order than the customers every other candidate learnt from:
            # BTYD's Gamma-Gamma weighs their own orders (examples.OUTLIER_FACTOR).
            out = {name: np.where(outlying, btyd, spend) for name, spend in out.items()}
        return out

    def next_order_days(self, frame: pd.DataFrame, horizon_days: int) -> dict[str, np.ndarray]:
        """Days from as_of to the next order, for a customer who orders within the
        horizon: the trees' estimate, BTYD's (:func:`btyd_next_order_days`), and two
        baselines: the usual gap (mean gap minus days since the last order, at least 0;
        half the horizon without a gap yet) and the middle of the horizon for everyone,
        which is what knowing only that the customer orders within it is worth (an order
        day spread evenly over the horizon is off by a quarter of it on average)."""
        gap = frame["ipi_mean_days"].to_numpy(float) - frame["recency_days"].to_numpy(float)
        usual = np.where(np.isnan(gap), horizon_days / 2, np.clip(gap, 0, horizon_days - 1))
        middle = np.full(len(frame), (horizon_days - 1) / 2)
        out = {
            "btyd_rate": btyd_next_order_days(frame, horizon_days),
            "usual_gap": usual,
            "midpoint": middle,
        }
        learnt = self.regressors["next_order"].get("gbm")
        if learnt is None:  # nobody ordered in a training window (fit_candidates)
            return out
        share = learnt.predict(frame[self.features])
        return {"gbm": np.clip(share, 0, 1) * (horizon_days - 1), **out}

    def _wanted(self, only: str | None) -> set[str]:
        if only is None:
            return set(self.candidates)
        if only not in self.candidates:
            raise ConfigError(
                f"{only!r} is not among the fitted candidates {list(self.candidates)}"
            )
        return {only, "btyd", *LEARNERS} if only in COMBINED else {only}

    def _churn(self, frame: pd.DataFrame, wanted: set[str]) -> dict[str, np.ndarray]:
        churn = self.churn or ChurnClassifiers(features=self.features)
        raw = churn.scores(frame, btyd="btyd" in wanted, learners=wanted)
        calibrated = {name: self.calibrators[name].predict(score) for name, score in raw.items()}
        if "blend" in wanted and any(learner in calibrated for learner in LEARNERS):
            # no learner without two classes to learn from (fit_churn): then no blend
            calibrated["blend"] = _blend(calibrated["btyd"], calibrated)
        return {name: calibrated[name] for name in CHURN_CANDIDATES if name in calibrated}


def ordinary(frame: pd.DataFrame) -> np.ndarray:
    """Which rows of ``frame`` are not marked ``outlying`` (``examples.outlier_spend``);
    every row of a frame without the mark."""
    if "outlying" not in frame:
        return np.ones(len(frame), bool)
    return ~frame["outlying"].to_numpy(bool)


def _order_value(frame: pd.DataFrame) -> np.ndarray:
    """Each customer's expected order value from BTYD (Gamma-Gamma): its expected spend
    over its expected orders, 0 where it expects no orders."""
    spend = np.nan_to_num(frame["btyd_spend_rate"].to_numpy(float))
    orders = np.nan_to_num(frame["btyd_orders_rate"].to_numpy(float))
    return np.divide(spend, orders, out=np.zeros_like(spend), where=orders > 0)


def _blend(btyd: np.ndarray, predictions: dict[str, np.ndarray]) -> np.ndarray:
    """Half BTYD's prediction, half the mean of the tree learners' in ``predictions``."""
    trees = [predictions[learner] for learner in LEARNERS if learner in predictions]
    return (np.asarray(btyd, float) + np.mean(trees, axis=0)) / 2


def fit_candidates(
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    *,
    candidates: Sequence[str] = CANDIDATES,
    imbalance: str = "class_weight",
    regression_rows: pd.DataFrame | None = None,
    seasons: Seasons | None = None,
    n_jobs: int | None = None,
    seed: int = 0,
) -> ValueModels:
    """Fit ``candidates`` (default: all of ``CANDIDATES``) on ``train`` (labelled
    examples); the churn probabilities are calibrated (centered isotonic) on ``calibration``, a
    later labelled cutoff, which ``imbalance`` never resamples. ``blend`` needs
    ``btyd`` and at least one tree learner; at least one churn candidate (``btyd`` or a
    learner) is needed.

    ``regression_rows`` (default ``train``) are the labelled rows the spend, orders and
    next-order regressors and the RFM-cell rates learn from. The final refit includes
    the rows it calibrates churn on (``calibration``): a regressor needs no held-out
    rows, so it may learn from the latest behaviour, while the churn learners must
    leave out the rows their probabilities are calibrated on.

    ``seasons`` (default flat: no adjustment) is the shop's monthly season
    (seasons.py): the regressors and the RFM-cell rates learn each window's rates
    divided by its factor, and predictions are multiplied by the predicted window's.

    ``n_jobs`` is the threads each learner uses; None: LightGBM and XGBoost take every
    core, the forest and SMOTE's neighbour search 2. One thread suits small frames and
    machines shared with other busy processes, where OpenMP threads wait on each other
    (300 LightGBM rounds on 800 rows: 0.4 s on one thread, 27 s on two beside other
    busy processes)."""

    chosen = _check(tuple(candidates), imbalance)
    for combined in (c for c in COMBINED if c in chosen):
        if not ("btyd" in chosen and set(chosen) & set(LEARNERS)):
            raise ConfigError(
                f"the {combined} candidate is made of btyd and the tree learners' "
                f"predictions; candidates={list(chosen)}",
                hint=f'add "btyd" and one of {list(LEARNERS)}, or drop "{combined}"',
            )
    if not set(chosen) & set(CHURN_CANDIDATES):
        raise ConfigError(
            f"candidates={list(chosen)} include no churn model",
            hint=f"add one of {['btyd', *LEARNERS]}",
        )
    learners = [c for c in chosen if c in LEARNERS]
    models = ValueModels(features=feature_columns(train), candidates=chosen, imbalance=imbalance)
    rows = train if regression_rows is None else regression_rows
    models.seasons = seasons or Seasons()
    # Each window's rates on the footing of an average month (``seasons``).
    rates = {
        target: rows[rate] / models.season(rows, target, rows["window_days"])
        for target, rate in RATE.items()
    }
    # Outlying customers' spend is left to BTYD (``_rates``): the spend learners and
    # cell rates learn from the others, whose spend a squared error then weighs.
    learns = {"spend": ordinary(rows), "orders": np.ones(len(rows), bool)}
    for target in RATE:
        keep = learns[target]
        monotone = tree_learners.monotone_directions(models.features, target)
        models.regressors[target] = {
            learner: tree_learners.regressor(learner, int(keep.sum()), seed, n_jobs, monotone).fit(
                rows.loc[keep, models.features], rates[target][keep]
            )
            for learner in learners
        }
    # Next order: among customers who ordered within the window, when (as a share of
    # the window, so that windows of different lengths train together).
    # Nobody ordered in any training window (every customer churned): nothing to learn
    # the timing from, and only the baselines time the next order.
    ordered = rows[rows["days_to_next_order"].notna()]
    share = ordered["days_to_next_order"] / ordered["window_days"]
    models.regressors["next_order"] = (
        {
            "gbm": tree_learners.regressor(
                "gbm", len(ordered), seed, n_jobs, objective=NEXT_ORDER_OBJECTIVE
            ).fit(ordered[models.features], share)
        }
        if len(ordered)
        else {}
    )
    if "rfm_cell" in chosen:
        quantiles = np.linspace(0, 1, 6)[1:-1]
        models.cell_edges = {
            c: np.unique(np.quantile(rows[c].dropna(), quantiles))
            for c in ("recency_days", "frequency")
        }
        cells = _cells(rows, models.cell_edges)
        models.cell_rates = {t: rates[t][learns[t]].groupby(cells[learns[t]]).mean() for t in RATE}
    models.churn, models.calibrators = fit_calibrated_churn(
        train,
        calibration,
        models.features,
        learners=learners,
        btyd="btyd" in chosen,
        imbalance=imbalance,
        n_jobs=n_jobs,
        seed=seed,
    )
    return models


def fit_calibrated_churn(
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    features: list[str],
    *,
    learners: Sequence[str],
    btyd: bool,
    imbalance: str = "class_weight",
    n_jobs: int | None = None,
    seed: int = 0,
) -> tuple[ChurnClassifiers, dict[str, CenteredIsotonic]]:
    """The churn ``learners`` fitted on ``train`` (``fit_churn``) and the centered
    isotonic map of each one's raw score, and of BTYD's with ``btyd``, fitted on
    ``calibration``: a later cutoff, whose rows the learners never saw."""
    churn = fit_churn(
        train, features, learners=learners, imbalance=imbalance, n_jobs=n_jobs, seed=seed
    )
    churned = calibration["churned"].astype(int).to_numpy()
    raw = churn.scores(calibration, btyd=btyd)
    return churn, {name: CenteredIsotonic().fit(score, churned) for name, score in raw.items()}


def compare(
    models: ValueModels, validation: pd.DataFrame, horizon_days: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Every candidate's metrics per target on the validation examples, and the choice
    (stored in ``models.chosen``): lowest RMSE for spend and orders, lowest Brier for
    churn, lowest mean absolute error in days for the next order, and the category
    split's prior (``choose_category_prior``); the chosen candidate's
    ``chance_p`` tests its ranking allowing for that choice (``metrics.chosen_ranking_p``),
    or for the next order its timing against the middle of the window
    (``metrics.timing_p``). Every candidate but the lowest-error one gets
    ``within_noise``: 1 where its loss per customer is within noise of that one's
    (``metrics.within_noise``), so that the choice between them is a tie, else 0. For
    orders a tie is served as the mean of the tied candidates (``_average_ties``),
    measured and chosen under ``TIES_MEAN``. Each churn candidate's reliability table
    goes to ``models.reliability``."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    models.averaged = {}  # the candidates alone are compared
    # Outlying customers get BTYD's spend from every candidate: spend is measured, and
    # chosen, on the others (their error alone would be the RMSE).
    measured = {"spend": validation[ordinary(validation)], "orders": validation}
    for target in ("spend", "orders"):
        actual = measured[target][target].to_numpy(float)
        predicted = models.predict(measured[target], target, horizon_days)
        table[target] = {name: spend_metrics(actual, p) for name, p in predicted.items()}
        chosen = min(table[target], key=lambda n: table[target][n]["rmse"])
        _mark_ties(table[target], {n: (p - actual) ** 2 for n, p in predicted.items()}, chosen)
        if target in AVERAGE_TIES:
            chosen = _average_ties(models, target, table[target], predicted, actual, chosen)
        models.chosen[target] = chosen
        table[target][chosen]["chance_p"] = chosen_ranking_p(
            actual,
            predicted,
            chosen,
            measure="spearman",
            plain_p=table[target][chosen]["spearman_p"],
            settled_below=CHANCE_P,
        )
    churned = validation["churned"].to_numpy(bool)
    churn = models.predict(validation, "churn", horizon_days)
    table["churn"] = {name: churn_metrics(churned, p) for name, p in churn.items()}
    chosen = min(table["churn"], key=lambda n: table["churn"][n]["brier"])
    models.chosen["churn"] = chosen
    _mark_ties(table["churn"], {n: (p - churned) ** 2 for n, p in churn.items()}, chosen)
    table["churn"][chosen]["chance_p"] = chosen_ranking_p(
        churned,
        churn,
        chosen,
        measure="roc_auc",
        plain_p=table["churn"][chosen]["roc_auc_p"],
        settled_below=CHANCE_P,
    )
    models.reliability = {name: reliability_table(churned, p) for name, p in churn.items()}
    ordered = validation[validation["days_to_next_order"].notna()]
    actual_days = ordered["days_to_next_order"].to_numpy(float)
    timing = models.next_order_days(ordered, horizon_days)
    table["next_order"] = timing_errors(actual_days, timing)
    chosen = min(table["next_order"], key=lambda n: table["next_order"][n]["mae_days"])
    models.chosen["next_order"] = chosen
    if len(ordered):
        errors = {n: np.abs(days - actual_days) for n, days in timing.items()}
        _mark_ties(table["next_order"], errors, chosen)
    if chosen != "midpoint" and len(ordered):
        table["next_order"][chosen]["chance_p"] = timing_p(actual_days, timing, chosen)
    models.category_mix = shop_mix(validation)
    models.category_prior = choose_category_prior(validation)
    rows = measured["spend"]
    spend = models.predict(rows, "spend", horizon_days)[models.chosen["spend"]]
    allocated = category_spend(rows, spend, models.category_prior, models.category_mix)
    realised = realised_by_category(rows) if len(allocated.columns) else pd.DataFrame()
    table["spend_by_category"] = {
        column.removeprefix("expected_spend__"): spend_metrics(
            realised[column.replace("expected_spend__", "next_spend__")].to_numpy(),
            allocated[column].to_numpy(float),
        )
        for column in allocated.columns
    }
    return table


def _average_ties(
    models: ValueModels,
    target: str,
    measured: dict[str, dict[str, float]],
    predicted: dict[str, np.ndarray],
    actual: np.ndarray,
    best: str,
) -> str:
    """``TIES_MEAN`` when candidates tie with ``best`` (``_mark_ties``): their mean with
    it is measured beside them (``predicted`` and ``measured`` gain it), its parts are
    marked ``averaged`` and kept in ``models.averaged``; else ``best``."""
    parts = [best, *(name for name, m in measured.items() if m.get("within_noise"))]
    if len(parts) == 1:
        return best
    models.averaged[target] = parts
    predicted[TIES_MEAN] = np.mean([predicted[part] for part in parts], axis=0)
    measured[TIES_MEAN] = spend_metrics(actual, predicted[TIES_MEAN])
    for part in parts:
        measured[part]["averaged"] = 1.0
    return TIES_MEAN


def _mark_ties(
    measured: dict[str, dict[str, float]], losses: dict[str, np.ndarray], chosen: str
) -> None:
    """Sets ``within_noise`` on every candidate but ``chosen``: 1.0 where its ``losses``
    per customer are within noise of the chosen one's (the choice between them is a
    tie that another window may break the other way), else 0.0."""
    tied = set(within_noise(losses, chosen))
    for name, metrics in measured.items():
        if name != chosen:
            metrics["within_noise"] = float(name in tied)


# The prior strengths, in orders, that ``choose_category_prior`` chooses between: 0 is
# each customer's own shares, infinity the shop's mix for everyone.
CATEGORY_PRIORS = (0.0, 1.0, 3.0, 10.0, 30.0, float("inf"))


def shop_mix(frame: pd.DataFrame) -> dict[str, float]:
    """The shop's category mix: the customers' average share of each ``share__`` column,
    adding up to 1 (all 0 when no customer has sales)."""
    shares = frame[[c for c in frame.columns if c.startswith("share__")]].astype(float)
    mix = shares.mean().fillna(0)
    mix = mix / mix.sum() if mix.sum() > 0 else mix
    return {str(k): float(v) for k, v in mix.items()}


def category_shares(
    frame: pd.DataFrame, prior_orders: float = 0.0, mix: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Each customer's category shares (``share__<category>`` columns, rows adding up to
    1), shrunk towards the shop's ``mix``: (n x own + k x mix) / (n + k) for a customer
    with n orders so far and ``prior_orders`` k. Customers without sales get the mix
    whatever k. ``mix`` is the fitted model's (``ValueModels.category_mix``), so that a
    customer's split does not depend on which others are scored with them; without it,
    ``shop_mix`` of ``frame``."""
    shares = frame[[c for c in frame.columns if c.startswith("share__")]].astype(float)
    if shares.empty:
        return shares
    weights = mix or shop_mix(frame)
    average = np.array([weights.get(str(c), 0.0) for c in shares.columns])
    own = shares.fillna(0)
    without = own.sum(axis=1).to_numpy() <= 0
    own.loc[without, :] = average
    own = own.div(own.sum(axis=1).replace(0, np.nan), axis=0).fillna(0)
    if prior_orders == 0:
        return own
    if np.isinf(prior_orders):
        return pd.DataFrame(np.tile(average, (len(own), 1)), own.index, own.columns)
    orders = frame["frequency"].fillna(0).clip(lower=0).to_numpy(float)[:, None]
    shrunk = (orders * own.to_numpy() + prior_orders * average) / (orders + prior_orders)
    return pd.DataFrame(shrunk, own.index, own.columns)


def category_spend(
    frame: pd.DataFrame,
    spend: np.ndarray,
    prior_orders: float = 0.0,
    mix: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Expected spend per category: the total split by ``category_shares`` (each
    customer's own shares so far, shrunk towards the shop's ``mix`` by
    ``prior_orders``), so the categories add up to the total exactly."""
    out = category_shares(frame, prior_orders, mix).mul(np.asarray(spend, float), axis=0)
    out.columns = [c.replace("share__", "expected_spend__") for c in out.columns]
    return out


def realised_by_category(frame: pd.DataFrame) -> pd.DataFrame:
    """Each customer's realised spend per category of the ``share__`` columns, named
    ``next_spend__<category>`` (labels.py); ``other`` (the categories not kept, and
    none) is the realised total less the kept categories."""
    shares = [str(c) for c in frame.columns if str(c).startswith("share__")]
    columns = [c.replace("share__", "next_spend__") for c in shares]
    kept = [c for c in columns if c in frame]
    out = frame[kept].astype(float)
    for column in (c for c in columns if c not in frame):
        if column != "next_spend__" + OTHER:
            raise KeyError(f"{column} is not among the labels")
        # Rounded as sums of money are, so that a shop that sells nothing outside
        # the kept categories realises exactly 0 there, not a residue of the subtraction.
        rest = frame["spend"].to_numpy(float) - out.sum(axis=1).to_numpy()
        out[column] = np.round(rest, MONEY_DECIMALS)
    return out[columns]


def describe_category_prior(prior_orders: float) -> str:
    """The category split of ``prior_orders`` in words, for the CLI and the summary."""
    if prior_orders == 0:
        return "the total split by each customer's own category shares so far"
    if np.isinf(prior_orders):
        return "the total split by the shop's category mix, the same for every customer"
    return (
        "the total split by each customer's own category shares so far, weighed against "
        f"the shop's mix as if it were {prior_orders:g} more orders"
    )


def choose_category_prior(validation: pd.DataFrame) -> float:
    """The prior strength of ``CATEGORY_PRIORS`` whose shares best split the customers'
    realised spend in the validation window into their realised spend per category
    (least squared error summed over customers and categories). Realised totals, not a
    model's, so the split is chosen on its own; 0 (the own shares) wins ties."""
    if not any(c.startswith("share__") for c in validation.columns):
        return 0.0
    actual = realised_by_category(validation).to_numpy()
    total = validation["spend"].to_numpy(float)[:, None]
    errors = {
        k: float(np.sum((category_shares(validation, k).to_numpy() * total - actual) ** 2))
        for k in CATEGORY_PRIORS
    }
    return min(CATEGORY_PRIORS, key=lambda k: errors[k])
