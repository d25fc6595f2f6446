"""Score every customer: expected orders and spend, P(active), churn, CLV, value tier.

The models are fitted and chosen by a time split on the store's own history
(``custintel.value.models``): training cutoffs, a later cutoff to calibrate churn
probabilities, and the most recent complete horizon to choose each target's model. The
chosen models are then refitted (the regressors with the validation cutoff included, the
churn learners calibrated on it) and score the customers known at ``as_of``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from custintel.data.store import Store, require_orders_since
from custintel.errors import ConfigError, NotEnoughData
from custintel.features.customer import top_categories
from custintel.segmentation.builtin import get_scheme
from custintel.segmentation.rfm import DegenerateDataWarning, rfm_scores, rfm_thresholds
from custintel.segmentation.schemes import Scheme, assign_segments
from custintel.value.btyd_model import BTYDModel
from custintel.value.crossval import CV_CANDIDATES, churn_crossval
from custintel.value.eligibility import Statement, assess, history_too_short
from custintel.value.examples import (
    BTYD_FEATURES,
    BTYDViews,
    btyd_rates,
    examples,
    outlier_spend,
)
from custintel.value.explain import explain_churn
from custintel.value.labels import REQUIRED_HISTORY_DAYS, ValuePlan, plan_cutoffs
from custintel.value.metrics import spearman
from custintel.value.models import (
    CANDIDATES,
    COMBINED,
    IMBALANCE,
    LEARNERS,
    TIES_MEAN,
    ValueModels,
    category_spend,
    compare,
    describe_category_prior,
    fit_candidates,
)
from custintel.value.seasons import Seasons, fit_seasons

__all__ = [
    "SCORE_COLUMNS",
    "Applied",
    "ScoreRun",
    "TrainingPlan",
    "ValueSettings",
    "apply_models",
    "churn_inputs",
    "churn_over_horizon",
    "crowded_risk_note",
    "factor_agreement",
    "fit_and_choose",
    "predict_customers",
    "record_scores",
    "score_customers",
    "to_the_cent",
    "training_plan",
]

SCORE_COLUMNS = [
    "customer_id",
    "expected_orders",
    "expected_spend",
    "p_active",
    "churn_probability",
    "churn_risk",
    "next_order_date",
    "clv",
    "rfm_segment",
    "spend_percentile",
    "value_tier",
    "top_factors",
]
# Churn risk levels: probability thresholds for medium and high (config may override).
DEFAULT_RISK_THRESHOLDS = (0.4, 0.7)
# Customers whose top factors a scoring run writes (the most value at risk first).
DEFAULT_EXPLAIN_LIMIT = 100_000
# Training rows kept for the trees (a random sample beyond this); the training cutoffs
# are as many as it takes to fill them, 1 to MAX_TRAIN_CUTOFFS (see training_plan).
MAX_TRAIN_ROWS = 200_000
MAX_TRAIN_CUTOFFS = 4
# From this many customers LightGBM is the only tree learner (XGBoost and the forest
# cost a minute or more each on 2 cores at this size, across the fits a run makes).
LARGE_SHOP = 100_000
LARGE_CANDIDATES = ("btyd", "gbm", "blend", "orders_x_value", "run_rate", "rfm_cell")
TIERS = ((0.9, "top"), (0.7, "high"), (0.3, "medium"), (0.0, "low"))


@dataclass
class ScoreRun:
    """One scoring: a row per customer, the validation comparison, the choices."""

    as_of: date
    horizon_days: int
    scores: pd.DataFrame
    comparison: dict[str, dict[str, dict[str, float]]]
    chosen: dict[str, str]
    cutoffs: dict[str, Any]
    importance: dict[str, float]
    btyd_family: str
    btyd_family_errors: dict[str, float]
    crossval: dict[str, Any]
    # Per churn candidate: predicted against observed churn on the validation cutoff.
    reliability: dict[str, list[dict[str, float]]]
    eligibility: list[Statement]
    # What a served version needs to score feature rows (value/rows.py); None for a
    # history too short to train the learners on.
    applied: Applied | None = None


@dataclass(frozen=True)
class ValueSettings:
    """The ``[value]`` table of custintel.toml: churn risk thresholds, the CLV horizon
    and discount rate, the class-imbalance treatment, and how many customers get their
    top factors written in a scoring run (``explain_limit``: those with the most value
    at risk; TreeSHAP for every customer of a large shop would cost minutes)."""

    risk_thresholds: tuple[float, float] = DEFAULT_RISK_THRESHOLDS
    clv_days: int = 365
    discount_rate: float = 0.1
    imbalance: str = "class_weight"
    explain_limit: int = DEFAULT_EXPLAIN_LIMIT

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> ValueSettings:
        """Settings from the TOML table, with a clear error for an unknown key or value."""
        options = dict(options or {})
        known = {"risk_thresholds", "clv_days", "discount_rate", "imbalance", "explain_limit"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"[value] has unknown keys {unknown}", hint=f"use {', '.join(sorted(known))}"
            )
        thresholds = options.get("risk_thresholds", list(DEFAULT_RISK_THRESHOLDS))
        if (
            not isinstance(thresholds, (list, tuple))
            or len(thresholds) != 2
            or not all(isinstance(t, (int, float)) for t in thresholds)
            or not 0 < thresholds[0] < thresholds[1] < 1
        ):
            raise ConfigError(
                f"[value] risk_thresholds={thresholds!r} should be two churn probabilities "
                "between 0 and 1, medium first",
                hint="for example risk_thresholds = [0.4, 0.7]",
            )
        clv_days = options.get("clv_days", 365)
        if not isinstance(clv_days, int) or clv_days < 1:
            raise ConfigError(f"[value] clv_days={clv_days!r} should be a whole number of days")
        rate = options.get("discount_rate", 0.1)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigError(
                f"[value] discount_rate={rate!r} should be an annual rate such as 0.1 (10 %)"
            )
        imbalance = options.get("imbalance", "class_weight")
        if imbalance not in IMBALANCE:
            raise ConfigError(
                f"[value] imbalance={imbalance!r} should be one of {', '.join(IMBALANCE)}"
            )
        explain_limit = options.get("explain_limit", DEFAULT_EXPLAIN_LIMIT)
        if not isinstance(explain_limit, int) or explain_limit < 0:
            raise ConfigError(
                f"[value] explain_limit={explain_limit!r} should be a whole number of customers",
                hint=f"for example explain_limit = {DEFAULT_EXPLAIN_LIMIT}",
            )
        return cls(
            (float(thresholds[0]), float(thresholds[1])),
            clv_days,
            float(rate),
            imbalance,
            explain_limit,
        )


def to_the_cent(spend: np.ndarray) -> np.ndarray:
    """Expected spends as they are ranked for the percentile: to the cent, so that
    spends differing only by floating-point noise tie."""
    return np.round(np.asarray(spend, float), 2)


def _risk(probability: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    medium, high = thresholds
    return np.where(probability >= high, "high", np.where(probability >= medium, "medium", "low"))


# A churn risk level holding more than this share of the customers sets too few apart.
CROWDED_RISK_SHARE = 0.75


def crowded_risk_note(
    churn_risk: pd.Series, horizon_days: int, *, churn_status: str = "measured"
) -> str | None:
    """A plain note when one churn risk level holds most of the customers, with what to
    change; None otherwise. Churn is "no order in the next ``horizon_days`` days", so a
    horizon shorter than the shop's usual gap between orders puts nearly everyone at high
    risk: true, and no help in choosing whom to win back. Where the churn ranking was
    not measured or is no better than chance (``churn_status``, its eligibility), no
    threshold would set the likelier churners apart, and the note says that instead."""
    shares = churn_risk.dropna().value_counts(normalize=True)
    if shares.empty or shares.iloc[0] <= CROWDED_RISK_SHARE:
        return None
    level, share = str(shares.index[0]), float(shares.iloc[0])
    if churn_status != "measured":
        advice = (
            f"the churn ranking is {churn_status} (the table above says why), so no "
            "threshold would set the likelier churners apart"
        )
    elif level == "high":
        advice = (
            f"most of them place no order within {horizon_days} days, which is what churn "
            "means here; a longer --horizon-days, or higher [value] risk_thresholds, sets "
            "them apart"
        )
    elif level == "low":
        advice = "lower [value] risk_thresholds set the likelier churners apart"
    else:
        advice = "[value] risk_thresholds set around their churn probabilities set them apart"
    return f"{share:.0%} of the customers are at {level} churn risk: {advice}"


def spend_percentile(spend: np.ndarray) -> np.ndarray:
    """Each expected spend's percentile rank among ``spend`` (to the cent), ties at the
    lowest rank of their group: the customers expected to spend nothing rank at the
    bottom and are "low", however many they are (with the middle rank, used until
    2026-11-30, a shop where 40 % expect nothing put them all at 0.2 or more, and
    where most did, "medium")."""
    return pd.Series(to_the_cent(spend)).rank(pct=True, method="min").to_numpy()


def _tier(percentile: np.ndarray) -> np.ndarray:
    out = np.full(len(percentile), "low", dtype=object)
    for threshold, name in reversed(TIERS):
        out[percentile >= threshold] = name
    return out


def fit_and_choose(
    store: Store,
    as_of: date,
    horizon_days: int,
    progress: Callable[[str], None] | None = None,
    *,
    btyd: BTYDViews | None = None,
    imbalance: str = "class_weight",
    refit_all: bool = False,
    seasonal: bool = True,
) -> tuple[ValueModels, dict[str, dict[str, dict[str, float]]], ValuePlan]:
    """Fit every candidate on the time split before ``as_of``, choose per target on the
    validation cutoff, refit with the later cutoffs included (the regressors learn from
    the validation cutoff too; the churn learners are calibrated on it). Returns the final
    models (``chosen`` set), the validation comparison and the plan.

    Only the chosen candidates are refitted (``refit_all`` refits every one, for
    measuring them all on later data). The trees train on a random sample of at most
    ``MAX_TRAIN_ROWS`` rows, from fewer cutoffs and candidates the larger the shop
    (:func:`training_plan`): past a couple of hundred thousand examples the trees gain
    little, and every cutoff costs a pass over the order log. The churn calibration and
    the comparison use as many customers at most, drawn at random. ``seasonal=False`` leaves
    out the shop's season (seasons.py), for measuring what it changes.
    """
    say = progress or (lambda message: None)
    con = store.con
    first = _first_order(store, as_of)
    row = con.execute(
        "SELECT count(DISTINCT customer_id) FROM orders WHERE ordered_at < ?", [as_of]
    ).fetchone()
    customers = int(row[0]) if row else 0
    count, rows, candidates = training_plan(customers)
    plan = plan_cutoffs(first, as_of, horizon_days, count=count)
    require_orders_since(
        store, plan.validation[0], as_of, "latest window", "where the models are checked and chosen"
    )
    views = btyd or BTYDViews(con)
    # One category list for every cutoff, so that the feature columns match.
    categories = top_categories(con, as_of) if _has_categories(store) else []
    say(f"choosing the BTYD family on {plan.calibration[0]}'s window")
    views.choose(*plan.calibration)
    say(f"building examples at {len(plan.train) + 2} cutoffs ({views.family})")
    train = _sample(examples(con, plan.train, categories=categories, btyd=views), rows)
    calibration = examples(con, [plan.calibration], categories=categories, btyd=views)
    check = examples(con, [plan.validation], categories=categories, btyd=views)
    # Fitted before the validation cutoff, so that the window the models are chosen on
    # is predicted with a season that did not see it; the final models keep it.
    seasons = fit_seasons(con, plan.validation[0]) if seasonal else Seasons()
    say(f"fitting and comparing candidates on {len(train):,} examples")
    # Calibrated and checked on a uniform sample of the customers too: 200,000 measure
    # the candidates and fit the calibration maps well, and predicting every candidate
    # for every customer took a minute of a 1M-customer shop's training
    # (docs/performance.md). The regressors' final rows still come from every customer.
    calibration_rows, check_rows = _sample(calibration, rows), _sample(check, rows)
    trial = fit_candidates(
        train, calibration_rows, candidates=candidates, imbalance=imbalance, seasons=seasons
    )
    comparison = compare(trial, check_rows, plan.window_days)
    say("cross-validating churn over the cutoffs")
    # Every labelled cutoff, sampled once: the churn cross-validation and the final
    # regressors learn from the same rows.
    labelled = _sample(pd.concat([train, calibration, check], ignore_index=True), rows)
    # ROC-AUC and PR-AUC over several time splits, for the chosen churn model, BTYD and
    # LightGBM (and the learners a chosen blend averages).
    crossval = churn_crossval(
        labelled,
        candidates=[
            c for c in _needed({"churn": trial.chosen["churn"]}, candidates) if c in CV_CANDIDATES
        ],
        imbalance=imbalance,
        max_folds=2,
    )
    say("refitting the chosen models with the latest cutoffs")
    # The churn learners leave out the validation rows, which calibrate them; the
    # regressors learn from every cutoff, the latest behaviour included.
    final = fit_candidates(
        _sample(pd.concat([train, calibration], ignore_index=True), rows),
        check_rows,
        candidates=candidates if refit_all else _needed(trial.chosen, candidates, trial.averaged),
        imbalance=imbalance,
        regression_rows=labelled,
        seasons=seasons,
    )
    final.chosen = dict(trial.chosen)
    final.averaged = {target: list(parts) for target, parts in trial.averaged.items()}
    final.crossval = crossval.as_dict()
    final.reliability = trial.reliability
    final.window_days = plan.window_days
    final.categories = categories
    final.category_prior = trial.category_prior
    final.category_mix = trial.category_mix
    return final, comparison, plan


class TrainingPlan(NamedTuple):
    """How much the value models of one shop train on."""

    cutoffs: int  # training cutoffs at most (the history may allow fewer)
    rows: int  # training rows at most (a random sample beyond)
    candidates: tuple[str, ...]


def training_plan(customers: int) -> TrainingPlan:
    """The training cutoffs, rows and candidates of a shop of ``customers``.

    Cutoffs: as many as fill ``MAX_TRAIN_ROWS`` rows, between 1 and
    ``MAX_TRAIN_CUTOFFS`` (each costs a pass over the orders and a BTYD fit, and rows
    beyond the cap would be sampled away). Candidates: every one below ``LARGE_SHOP``
    customers, LightGBM as the only tree learner from there. So the trees' cost grows
    with the shop up to the cap and then stays level, where four cutoffs for every shop
    below one fixed size made a 100,000-customer shop train for longer than a
    million-customer one (docs/performance.md, "By shop size").
    """
    count = max(1, min(MAX_TRAIN_CUTOFFS, MAX_TRAIN_ROWS // max(customers, 1)))
    candidates = LARGE_CANDIDATES if customers >= LARGE_SHOP else CANDIDATES
    return TrainingPlan(count, MAX_TRAIN_ROWS, candidates)


def _needed(
    chosen: dict[str, str],
    candidates: Sequence[str],
    averaged: dict[str, list[str]] | None = None,
) -> tuple[str, ...]:
    """The candidates the final models need: the chosen ones (for a chosen
    ``TIES_MEAN``, the ones ``averaged`` names); BTYD and LightGBM, which the next order
    date and the churn explanations rest on; and, when the blend is chosen (or
    ``orders_x_value``, which rests on the blend's orders), every tree learner among
    ``candidates``, which it averages."""
    parts = [part for target_parts in (averaged or {}).values() for part in target_parts]
    needed = {*chosen.values(), *parts, "btyd", "gbm"} - {TIES_MEAN}
    if needed & set(COMBINED):
        needed |= {c for c in candidates if c in LEARNERS}
    return tuple(c for c in CANDIDATES if c in needed)


def _sample(frame: pd.DataFrame, rows: int = MAX_TRAIN_ROWS, seed: int = 0) -> pd.DataFrame:
    """At most ``rows`` rows, drawn at random (all of them when fewer)."""
    if len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def _has_categories(store: Store) -> bool:
    row = store.con.execute("SELECT count(category) FROM orders").fetchone()
    return bool(row and row[0])


def _rfm_segments(
    current: pd.DataFrame, scheme: Scheme | None
) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """Each customer's RFM segment at as_of (the default scheme unless one is given), so
    that a marketer sees the value scores next to the segment they already use; and the
    score boundaries of this population, which place a customer sent as a feature row."""
    with warnings.catch_warnings():
        # A tiny or one-valued shop gets neutral scores; segmentation reports that.
        warnings.simplefilter("ignore", DegenerateDataWarning)
        scores = rfm_scores(current)
    segments = assign_segments(scores, scheme or get_scheme()).astype(str).to_numpy()
    return segments, rfm_thresholds(current, scores)


def score_customers(
    store: Store,
    as_of: date,
    horizon_days: int,
    settings: ValueSettings | None = None,
    *,
    rfm_scheme: Scheme | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScoreRun:
    """Fit, choose and score as described in the module docstring.

    A history too short to hold out a validation window gets BTYD's predictions alone,
    labelled as not measured, and no churn probability or next order date (see
    ``eligibility``)."""
    say = progress or (lambda message: None)
    settings = settings or ValueSettings()
    views = BTYDViews(store.con)
    first = _first_order(store, as_of)
    if (as_of - first).days < REQUIRED_HISTORY_DAYS:
        say("history too short to check models: BTYD only")
        # No labelled window to choose a family on: the classic BG/NBD.
        views.family = "bgnbd"
        return _btyd_only(store, as_of, horizon_days, first, views, settings, rfm_scheme)
    final, comparison, plan = fit_and_choose(
        store, as_of, horizon_days, progress, btyd=views, imbalance=settings.imbalance
    )
    say(f"scoring the customers known at {as_of}")
    applied = apply_models(
        store, final, as_of, horizon_days, settings, btyd=views, rfm_scheme=rfm_scheme
    )
    cutoffs = {
        "train": [c.isoformat() for c, _ in plan.train],
        "calibration": plan.calibration[0].isoformat(),
        "validation": plan.validation[0].isoformat(),
        "validation_ends": as_of.isoformat(),
        "window_days": plan.window_days,
        "note": plan.note,
        "seasons": final.seasons.note,
        "seasons_applied": not final.seasons.flat,
        "category_split": describe_category_prior(final.category_prior),
    }
    validation_customers = int(comparison["churn"][final.chosen["churn"]].get("customers", 0))
    return ScoreRun(
        as_of=as_of,
        horizon_days=horizon_days,
        scores=applied.scores,
        comparison=comparison,
        chosen=final.chosen,
        importance=applied.importance,
        cutoffs=cutoffs,
        btyd_family=views.family,
        btyd_family_errors=views.family_errors,
        crossval=final.crossval,
        reliability=final.reliability,
        eligibility=assess(
            comparison,
            final.chosen,
            cutoffs,
            validation_customers=validation_customers,
            clv_days=settings.clv_days,
            categories=final.categories,
            horizon_days=horizon_days,
            factors=applied.factors,
            outlying=applied.outlying,
            outlier_spend=applied.outlier_spend,
        ),
        applied=applied,
    )


def _first_order(store: Store, as_of: date) -> date:
    first = store.first_order_date(before=as_of)
    if first is None:
        raise NotEnoughData(f"no orders before {as_of}", hint="sync orders, or check --as-of")
    return first


def _btyd_only(
    store: Store,
    as_of: date,
    horizon_days: int,
    first: date,
    views: BTYDViews,
    settings: ValueSettings,
    rfm_scheme: Scheme | None,
) -> ScoreRun:
    """Scores from BTYD fitted on all the history, for a shop too young to check them."""
    days = (as_of - first).days
    reason = (
        f"the history from {first} to {as_of} is {days} days; checking needs "
        f"{REQUIRED_HISTORY_DAYS} (score again after {first + timedelta(REQUIRED_HISTORY_DAYS)})"
    )
    con = store.con
    categories = top_categories(con, as_of) if _has_categories(store) else []
    try:
        current = examples(
            con, [(as_of, horizon_days)], categories=categories, labelled=False, btyd=views
        )
    except NotEnoughData as error:
        raise NotEnoughData(
            f"{error.args[0]}; and {reason}", hint="score again when more orders have come in"
        ) from error
    summary, model = views.at(as_of)
    spend = np.nan_to_num(current["btyd_spend_rate"].to_numpy(float)) * horizon_days
    percentile = spend_percentile(spend)
    scores = pd.DataFrame(
        {
            "customer_id": current["customer_id"].to_numpy(),
            "expected_orders": np.nan_to_num(current["btyd_orders_rate"].to_numpy(float))
            * horizon_days,
            "expected_spend": spend,
            "p_active": current["btyd_p_alive"].fillna(0.0).to_numpy(float),
            "churn_probability": np.nan,
            "churn_risk": None,
            "next_order_date": None,
            "clv": _clv(current, summary, model, settings.clv_days, settings.discount_rate),
            "rfm_segment": _rfm_segments(current, rfm_scheme)[0],
            "spend_percentile": percentile,
            "value_tier": _tier(percentile),
            "top_factors": None,
        }
    )
    by_category = category_spend(current, spend)
    scores = pd.concat([scores, by_category], axis=1)
    chosen = {"spend": "btyd", "orders": "btyd"}
    return ScoreRun(
        as_of=as_of,
        horizon_days=horizon_days,
        scores=scores[[*SCORE_COLUMNS[:3], *by_category.columns, *SCORE_COLUMNS[3:]]],
        comparison={},
        chosen=chosen,
        importance={},
        cutoffs={"note": reason},
        btyd_family=views.family,
        btyd_family_errors={},
        crossval={},
        reliability={},
        eligibility=history_too_short(
            reason,
            settings.clv_days,
            customers=len(summary),
            repeat_buyers=int((summary["frequency"] > 0).sum()),
        ),
    )


def churn_inputs(
    current: pd.DataFrame,
    summary: pd.DataFrame,
    model: BTYDModel,
    window_days: int,
    horizon_days: int,
) -> pd.DataFrame:
    """``current`` (examples over the horizon) with BTYD's rates over the label window
    instead, when the window is the shorter: what the churn learners were trained and
    calibrated on. Their probability is of no order in the window, carried to the
    horizon afterwards (:func:`churn_over_horizon`); fed the horizon's rates, lower for
    every customer who may drop out, they would count the longer horizon once more. The
    spend and orders learners keep the horizon's rates, from which they learnt per-day
    rates (examples.py)."""
    if window_days >= horizon_days:
        return current
    rates = btyd_rates(summary, model, window_days)
    window = current[["customer_id"]].merge(rates, on="customer_id", how="left")
    out = current.copy()
    for column in BTYD_FEATURES:
        out[column] = window[column].to_numpy()
    return out


def churn_over_horizon(
    churn: np.ndarray,
    current: pd.DataFrame,
    summary: pd.DataFrame,
    model: BTYDModel,
    window_days: int,
    horizon_days: int,
) -> np.ndarray:
    """Churn probabilities over the horizon from ones calibrated on a shorter label
    window (a history too short to label the whole horizon, docs/decisions.md).

    No order in the horizon is no order in the window and none in the rest of it, so
    P(churn over H) = P(churn over W) x P(no order in H) / P(no order in W): the learned
    model where it was measured, and BTYD's view of how many of those customers stay
    silent for the rest of the horizon. Unchanged when the window is the horizon, and for
    customers without a completed purchase (BTYD knows nothing of them)."""
    if window_days >= horizon_days:
        return churn
    longer = model.p_no_orders(summary, horizon_days).to_numpy(float)
    shorter = model.p_no_orders(summary, window_days).to_numpy(float)
    ratio = np.divide(longer, shorter, out=np.ones_like(longer), where=shorter > 0)
    by_customer = pd.Series(np.clip(ratio, 0, 1), index=summary["customer_id"])
    return churn * by_customer.reindex(current["customer_id"]).fillna(1.0).to_numpy(float)


def _clv(
    current: pd.DataFrame, summary: pd.DataFrame, model: Any, clv_days: int, rate: float
) -> np.ndarray:
    """BTYD's discounted spend over ``clv_days`` per row of ``current`` (0 for customers
    without a completed purchase)."""
    clv = pd.Series(
        model.clv(summary, clv_days, rate).to_numpy(float), index=summary["customer_id"]
    )
    return clv.reindex(current["customer_id"]).fillna(0.0).to_numpy(float)


@dataclass
class Applied:
    """Fitted models applied to the customers known at as_of: the scores and the churn
    model's global importance, and what scored them (the models, the BTYD model fitted
    at as_of, the population's RFM score boundaries), kept so that a served version can
    score customers sent as feature rows the same way."""

    scores: pd.DataFrame
    importance: dict[str, float]
    models: ValueModels
    btyd_model: BTYDModel
    rfm_thresholds: dict[str, dict[str, float]]
    # Which churn model the top factors explain, and how its ranking of the customers
    # agrees with churn_probability's (factor_agreement); None without churn learners.
    factors: dict[str, Any] | None = None
    # The net spend past which a customer is outlying at as_of (examples.outlier_spend),
    # and the customers who are: their expected spend is BTYD's.
    outlier_spend: float = float("inf")
    outlying: list[str] = field(default_factory=list)


def apply_models(
    store: Store,
    final: ValueModels,
    as_of: date,
    horizon_days: int,
    settings: ValueSettings | None = None,
    *,
    btyd: BTYDViews | None = None,
    rfm_scheme: Scheme | None = None,
) -> Applied:
    """Score every customer known at ``as_of`` with fitted, chosen models: a row per
    customer in the ``SCORE_COLUMNS`` layout (see :func:`predict_customers`), ranked
    against each other for the spend percentile."""
    settings = settings or ValueSettings()
    con = store.con
    views = btyd or BTYDViews(con)
    current = examples(
        con, [(as_of, horizon_days)], categories=final.categories, labelled=False, btyd=views
    )
    summary, model = views.at(as_of)
    segments, thresholds = _rfm_segments(current, rfm_scheme)
    scores, importance = predict_customers(
        final,
        current,
        summary,
        model,
        [as_of] * len(current),
        horizon_days,
        settings,
        rfm_segment=segments,
        percentile=spend_percentile,
    )
    agreement = factor_agreement(
        final, current, summary, model, horizon_days, scores["churn_probability"].to_numpy(float)
    )
    outlying = current.loc[current["outlying"], "customer_id"].astype(str).tolist()
    return Applied(
        scores,
        importance,
        final,
        model,
        thresholds,
        agreement,
        outlier_spend=outlier_spend(current["monetary"]),
        outlying=outlying,
    )


# Customers sampled to measure how the explained churn model's ranking agrees with the
# served one: the standard error of a Spearman correlation on 10,000 is at most 0.01.
AGREEMENT_SAMPLE = 10_000


def factor_agreement(
    final: ValueModels,
    current: pd.DataFrame,
    summary: pd.DataFrame,
    btyd_model: BTYDModel,
    horizon_days: int,
    served: np.ndarray,
    *,
    sample: int = AGREEMENT_SAMPLE,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Which churn model the top factors explain (``ValueModels.explained``) and, when
    the validation chose another for churn_probability, the Spearman correlation of the
    two models' churn probabilities over the horizon, on a uniform sample of the
    customers in ``current`` (``served`` holds churn_probability in their order).

    The factors are TreeSHAP values of one tree model, the fast one, while the chosen
    model may be BTYD or a blend: the correlation says how far "why this customer is at
    risk" by the explained model is also why the served probability ranks them there."""
    explained = final.explained
    if explained is None:
        return None
    chosen = final.chosen["churn"]
    if explained == chosen:
        return {"model": explained, "chosen": chosen, "spearman": 1.0, "customers": len(current)}
    rows = len(current)
    picked = np.sort(np.random.default_rng(seed).choice(rows, min(rows, sample), replace=False))
    part = current.iloc[picked]
    window = final.window_days or horizon_days
    inputs = churn_inputs(part, summary, btyd_model, window, horizon_days)
    in_window = final.predict(inputs, "churn", horizon_days, only=explained)[explained]
    theirs = churn_over_horizon(in_window, part, summary, btyd_model, window, horizon_days)
    rho, _ = spearman(np.asarray(served, float)[picked], theirs)
    return {"model": explained, "chosen": chosen, "spearman": rho, "customers": len(picked)}


def predict_customers(
    final: ValueModels,
    current: pd.DataFrame,
    summary: pd.DataFrame,
    btyd_model: BTYDModel,
    starts: Sequence[date],
    horizon_days: int,
    settings: ValueSettings,
    *,
    rfm_segment: np.ndarray,
    percentile: Callable[[np.ndarray], np.ndarray],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The ``SCORE_COLUMNS`` row of each customer in ``current`` (examples with the BTYD
    rates over the horizon; ``summary`` their BTYD summary, ``starts`` the day each
    row's horizon starts), and the churn model's global importance. ``percentile``
    ranks expected spends (within the scored customers, or against a served version's
    population).

    CLV is the BTYD models' discounted expected spend over ``clv_days`` (monthly steps
    at the annual ``discount_rate``): a lifetime figure needs a model of dropping out,
    which the trees, trained on short windows, do not have. Top factors are written for
    the ``settings.explain_limit`` customers with the most value at risk (churn
    probability × CLV); the others' are None.
    """
    chosen = final.chosen
    spend = final.predict(current, "spend", horizon_days, only=chosen["spend"])[chosen["spend"]]
    orders = final.predict(current, "orders", horizon_days, only=chosen["orders"])[chosen["orders"]]
    window = final.window_days or horizon_days
    churn_frame = churn_inputs(current, summary, btyd_model, window, horizon_days)
    in_window = final.predict(churn_frame, "churn", horizon_days, only=chosen["churn"])
    churn = churn_over_horizon(
        in_window[chosen["churn"]], current, summary, btyd_model, window, horizon_days
    )
    clv = _clv(current, summary, btyd_model, settings.clv_days, settings.discount_rate)
    ranks = percentile(spend)
    scores = pd.DataFrame(
        {
            "customer_id": current["customer_id"].to_numpy(),
            "expected_orders": orders,
            "expected_spend": spend,
            # Customers without a completed purchase (only cancelled or refunded orders)
            # have no BTYD history: nothing says they are active.
            "p_active": current["btyd_p_alive"].fillna(0.0).to_numpy(float),
            "churn_probability": churn,
            "churn_risk": _risk(churn, settings.risk_thresholds),
            "clv": clv,
            "rfm_segment": rfm_segment,
            "spend_percentile": ranks,
            "value_tier": _tier(ranks),
        }
    )
    scores["next_order_date"] = _next_order_dates(final, current, starts, horizon_days, churn)
    factors, importance = explain_churn(
        final.classifier,
        final.classifier_inputs(churn_frame),
        final.features,
        priority=churn * clv,
        limit=settings.explain_limit,
        # medium or high churn risk (_risk): their factors say why they may leave
        at_risk=churn >= settings.risk_thresholds[0],
    )
    scores["top_factors"] = factors
    by_category = category_spend(current, spend, final.category_prior, final.category_mix)
    scores = pd.concat([scores, by_category], axis=1)
    columns = [*SCORE_COLUMNS[:3], *by_category.columns, *SCORE_COLUMNS[3:]]
    return scores[columns], importance


def _next_order_dates(
    final: ValueModels,
    current: pd.DataFrame,
    starts: Sequence[date],
    horizon_days: int,
    churn: np.ndarray,
) -> np.ndarray:
    """The expected date of each customer's next order (ISO), only for the customers
    more likely than not to order within the horizon (None for the others). Only their
    rows are predicted: in a shop where most customers order less often than the
    horizon, predicting everyone's date to throw most away cost 8 s of a 1M-customer
    scoring run (docs/performance.md)."""
    dates = np.full(len(current), None, dtype=object)
    expected = np.flatnonzero(churn < 0.5)
    if not len(expected):
        return dates
    rows = current.iloc[expected]
    days = final.next_order_days(rows, horizon_days)[final.chosen["next_order"]]
    dates[expected] = [
        (starts[int(i)] + timedelta(days=round(float(d)))).isoformat()
        for i, d in zip(expected, days, strict=True)
    ]
    return dates


def record_scores(store: Store, run: ScoreRun, model_version: int) -> None:
    """Keep the scores in the store's ``customer_scores`` table with the model version,
    replacing an earlier run for the same horizon (one current score per question). The
    table is rebuilt when the columns change (a new category)."""
    con = store.con
    frame = run.scores.assign(
        model_version=model_version, as_of=run.as_of, horizon_days=run.horizon_days
    )
    columns = list(frame.columns)
    with store.transaction():
        if store.has_table("customer_scores"):
            existing = [r[0] for r in con.execute("DESCRIBE customer_scores").fetchall()]
            if existing != columns:
                con.execute("DROP TABLE customer_scores")
        con.register("_scores", frame)
        con.execute("CREATE TABLE IF NOT EXISTS customer_scores AS SELECT * FROM _scores LIMIT 0")
        con.execute("DELETE FROM customer_scores WHERE horizon_days = ?", [run.horizon_days])
        con.execute("INSERT INTO customer_scores SELECT * FROM _scores")
        con.unregister("_scores")
