"""Customer-value accuracy on CDNOW (docs/accuracy.md).

The classic split: 39 weeks of calibration (orders up to 1997-09-30) and a 39-week holdout
(1997-10-01 to 1998-06-30), all 23,570 customers. Every candidate sees only the
calibration period; custintel's own procedure (``value.service.fit_and_choose``, as
``custintel score`` runs it) plans the cutoffs inside it, fits, and chooses per target
on its validation cutoff; all candidates are then scored on the holdout, in the same run.

    python -m bench.value accuracy          # prints JSON
    python -m bench.value cdnow             # accuracy on CDNOW, prints the markdown
    python -m bench.value cdnow_30          # 30-day horizon, six monthly origins in 1998
    python -m bench.value complete_journey  # accuracy on The Complete Journey, last 90 days
    python -m bench.value all               # accuracy and speed
    python -m bench.value speed --customers 1000000   # speed only
    python -m bench.value refit_check       # the final refit, checked before the holdout
    python -m bench.value horizon_check     # churn carried to the horizon, checked before it
    python -m bench.value spend_horizon_check  # spend and orders carried the same way
    python -m bench.value reference_designs # designs that might have made the reference
    python -m bench.value sizes             # 100k and 200k customers, plan before and now
    python -m bench.value treeshap          # churn explanations, row by row and by pattern

Speed: the demo shop generator at N customers (four years, about 10 lines each), synced
into a DuckDB store; one process trains every value model as ``custintel score`` does
(``fit_and_choose``) and then scores every customer (``apply_models``), timing each phase.
The naive way, measured in the same run on a smaller shop (it is too slow at 1M): the same
pipeline without the large-shop plan: every BTYD fit on every customer, every tree learner
on every training row of as many cutoffs as a small shop gets, and every customer
explained.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from unittest import mock

import numpy as np

from bench.cdnow import cdnow_store
from bench.measure import ROOT, Measurement, report, run_step

if TYPE_CHECKING:
    from custintel.value.service import TrainingPlan

AS_OF = date(1997, 10, 1)
HORIZON = 273  # 39 weeks: 1997-10-01 to 1998-06-30


class FittedOnCdnow(NamedTuple):
    """custintel's procedure run on CDNOW before ``as_of``, every candidate refitted, and
    what it is scored against: the customers' examples at ``as_of`` (unlabelled), the
    BTYD summary and model there, and what happened over the horizon; ``seconds`` from
    the synced store to the end."""

    final: Any
    choice: Any
    plan: Any
    views: Any
    current: Any
    summary: Any
    model: Any
    truth: Any
    seconds: float


def fitted_on_cdnow(as_of: date, horizon: int, shop: Any = None) -> FittedOnCdnow:
    """custintel's procedure on CDNOW (or on the store ``shop(results)`` returns) before
    ``as_of``, every candidate refitted, with what it is scored against over
    ``horizon`` days (per category too where the shop has categories)."""
    from custintel.value.examples import BTYDViews, examples
    from custintel.value.labels import labels
    from custintel.value.service import fit_and_choose

    with (shop or cdnow_store)("value-cdnow") as store:
        started = time.perf_counter()
        views = BTYDViews(store.con)
        final, choice, plan = fit_and_choose(store, as_of, horizon, btyd=views, refit_all=True)
        kept = final.categories
        current = examples(
            store.con, [(as_of, horizon)], categories=kept, labelled=False, btyd=views
        )
        summary, model = views.at(as_of)
        truth = labels(store.con, [as_of], horizon, categories=kept).set_index("customer_id")
    seconds = time.perf_counter() - started
    return FittedOnCdnow(final, choice, plan, views, current, summary, model, truth, seconds)


def lowest_error(run: FittedOnCdnow, target: str) -> str:
    """``run``'s candidate of lowest validation error for ``target``: the chosen one, or
    for orders served as the mean of their ties (``models.TIES_MEAN``) its first part."""
    return run.final.averaged.get(target, [run.final.chosen[target]])[0]


def ties(run: FittedOnCdnow, target: str) -> list[str]:
    """The candidates ``run``'s validation comparison marks within noise of the
    lowest-error one for ``target`` (``models.compare``, ``metrics.within_noise``)."""
    return [name for name, m in run.choice[target].items() if m.get("within_noise")]


@contextmanager
def extra_btyd_columns(
    columns: Mapping[str, Callable[[Any, Any, int], np.ndarray]],
) -> Iterator[None]:
    """Inside the block BTYD's rate columns (``examples.btyd_rates``) carry ``columns``
    too, each ``make(summary, model, window_days)``; scoring feeds them to the churn
    candidates over the label window like the rates (``service.churn_inputs``), and no
    model learns from them: what a variant reading more of BTYD's view needs."""
    from custintel.value import examples, models, service

    plain = examples.btyd_rates

    def with_columns(summary: Any, model: Any, window_days: int) -> Any:
        rates = plain(summary, model, window_days)
        for name, make in columns.items():
            rates[name] = make(summary, model, window_days)
        return rates

    with (
        mock.patch.object(examples, "btyd_rates", with_columns),
        mock.patch.object(service, "btyd_rates", with_columns),
        mock.patch.object(service, "BTYD_FEATURES", (*examples.BTYD_FEATURES, *columns)),
        mock.patch.object(models, "NOT_FEATURES", models.NOT_FEATURES | set(columns)),
    ):
        yield


class Holdout(NamedTuple):
    """Every candidate's predictions for the customers at ``as_of`` and what they did
    over the horizon, with the issue's measures of each (``measures``: target ->
    candidate -> measure), churn carried to the horizon as scoring does."""

    measures: dict[str, dict[str, dict[str, float]]]
    actual_spend: np.ndarray
    spend: dict[str, np.ndarray]
    churned: np.ndarray
    churn: dict[str, np.ndarray]
    orders: dict[str, np.ndarray]


def scored_on_holdout(run: FittedOnCdnow, horizon: int) -> Holdout:
    """``run``'s candidates scored on the customers' next ``horizon`` days."""
    from custintel.value.metrics import churn_metrics, spend_metrics
    from custintel.value.service import churn_inputs, churn_over_horizon

    final, summary, model = run.final, run.summary, run.model
    labels = ["spend", "orders", "churned", "days_to_next_order"]
    labels += [c for c in run.truth.columns if c.startswith("next_spend__")]
    scoring = run.current.set_index("customer_id").join(run.truth[labels])
    current = scoring.reset_index()
    measures: dict[str, dict[str, dict[str, float]]] = {}
    predicted = {}
    for target in ("spend", "orders"):
        actual = scoring[target].to_numpy(float)
        predicted[target] = final.predict(current, target, horizon)
        measures[target] = {n: spend_metrics(actual, p) for n, p in predicted[target].items()}
    churned = scoring["churned"].to_numpy(bool)
    # Each candidate's window probabilities, on BTYD's window rates, carried to the
    # horizon, as scoring does (value.service.churn_inputs, churn_over_horizon).
    window = final.window_days or horizon
    inputs = churn_inputs(current, summary, model, window, horizon)
    churn = {
        name: churn_over_horizon(p, current, summary, model, window, horizon)
        for name, p in final.predict(inputs, "churn", horizon).items()
    }
    measures["churn"] = {n: churn_metrics(churned, p) for n, p in churn.items()}
    measures["next_order"] = next_order_on_holdout(
        run, current, churn[final.chosen["churn"]], horizon
    )
    chosen = predicted["spend"][final.chosen["spend"]]
    measures["spend_by_category"] = by_category(
        scoring, chosen, final.category_prior, final.category_mix
    )
    return Holdout(
        measures,
        scoring["spend"].to_numpy(float),
        predicted["spend"],
        churned,
        churn,
        predicted["orders"],
    )


def next_order_on_holdout(
    run: FittedOnCdnow, current: Any, churn: np.ndarray, horizon: int
) -> dict[str, dict[str, float]]:
    """Each next-order candidate's mean absolute error in days on the customers who
    ordered within the horizon, as the choice measures it; and, under ``served``, what
    a marketer reads: how many customers are given a date (served churn probability
    below 0.5), the share of them who ordered, and the chosen candidate's error on
    those."""
    from custintel.value.metrics import timing_errors

    ordered = current["days_to_next_order"].notna().to_numpy()
    actual = current["days_to_next_order"].to_numpy(float)
    days = run.final.next_order_days(current, horizon)
    out = timing_errors(actual[ordered], {name: d[ordered] for name, d in days.items()})
    dated = churn < 0.5
    chosen = days[run.final.chosen["next_order"]]
    both = dated & ordered
    off = np.abs(chosen[both] - actual[both])
    out["served"] = {
        "dated": float(dated.sum()),
        "ordered_share": float(both.sum() / max(dated.sum(), 1)),
        "mae_days": float(np.mean(off)) if both.any() else float("nan"),
    }
    return out


def by_category(
    scoring: Any, spend: np.ndarray, prior_orders: float, mix: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """Per category, the measures of the chosen spend split three ways: as custintel
    serves it (each customer's own shares so far weighed against the shop's mix as
    ``prior_orders`` more orders, the prior chosen on the validation window), by the
    customer's own shares alone, and by the shop's mix for everyone (the naive way);
    empty without categories."""
    from custintel.value.metrics import spend_metrics
    from custintel.value.models import category_spend, realised_by_category

    frame = scoring.reset_index()
    ways = {"served": prior_orders, "own_shares": 0.0, "shop_mix": float("inf")}
    splits = {way: category_spend(frame, spend, prior, mix) for way, prior in ways.items()}
    if splits["served"].empty:
        return {}
    realised = realised_by_category(frame)
    out: dict[str, dict[str, Any]] = {}
    for column in splits["served"].columns:
        name = column.removeprefix("expected_spend__")
        actual = realised[f"next_spend__{name}"].to_numpy()
        out[name] = {
            way: spend_metrics(actual, split[column].to_numpy(float))
            for way, split in splits.items()
        }
        out[name]["share_of_spend"] = float(actual.sum() / frame["spend"].sum())
    return out


def accuracy(
    as_of: date = AS_OF, horizon: int = HORIZON, shop: Any = None, shop_name: str = "CDNOW"
) -> dict[str, object]:
    from custintel.value.metrics import churn_metrics, reliability_table
    from custintel.value.models import describe_category_prior

    run = fitted_on_cdnow(as_of, horizon, shop)
    scoring_started = time.perf_counter()
    final, choice, plan, views = run.final, run.choice, run.plan, run.views
    held = scored_on_holdout(run, horizon)
    holdout = held.measures
    intervals = top_decile_intervals(
        held.actual_spend, held.spend[final.chosen["spend"]], held.spend["btyd"]
    )
    # Churn ranked by expected orders, as the reference figures are.
    for name, predicted in held.orders.items():
        holdout["churn"].setdefault(f"{name} (by expected orders)", {})["roc_auc"] = float(
            churn_metrics(held.churned, -np.asarray(predicted))["roc_auc"]
        )
    last = as_of + timedelta(days=horizon - 1)
    return {
        "title": f"{shop_name}, holdout {as_of} to {last}",
        "customers": len(held.churned),
        "fit_seconds": run.seconds + (time.perf_counter() - scoring_started),
        "chosen": final.chosen,
        "btyd_family": views.family,
        "btyd_family_rmse": views.family_errors,
        "churn_crossval": final.crossval.get("summary"),
        "category_split": describe_category_prior(final.category_prior),
        "churn_crossval_folds": final.crossval.get("folds"),
        "validation": choice,
        "plan": {
            "train": [(c.isoformat(), w) for c, w in plan.train],
            "calibration": [plan.calibration[0].isoformat(), plan.calibration[1]],
            "validation": [plan.validation[0].isoformat(), plan.validation[1]],
        },
        "holdout": holdout,
        "top_decile_intervals": intervals,
        # The chosen churn model, predicted against observed on the holdout.
        "churn_reliability": reliability_table(held.churned, held.churn[final.chosen["churn"]]),
    }


def top_decile_intervals(
    actual: np.ndarray, chosen: np.ndarray, btyd: np.ndarray, reps: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """95 % bootstrap intervals (customers resampled ``reps`` times) of the chosen spend
    model's top-decile capture, and of its gain over BTYD's on the same resamples: how far
    a difference of a few thousandths is from the noise of one holdout."""
    from custintel.value.metrics import spend_metrics

    rng = np.random.default_rng(seed)
    own, gain = [], []
    for _ in range(reps):
        rows = rng.integers(0, len(actual), len(actual))
        ours = spend_metrics(actual[rows], chosen[rows])["top_decile_capture"]
        theirs = spend_metrics(actual[rows], btyd[rows])["top_decile_capture"]
        own.append(ours)
        gain.append(ours - theirs)
    return {
        "chosen": [float(q) for q in np.quantile(own, [0.025, 0.975])],
        "gain_over_btyd": [float(q) for q in np.quantile(gain, [0.025, 0.975])],
    }


def step_accuracy() -> None:
    started = time.perf_counter()
    result = accuracy()
    report(time.perf_counter() - started, **result)


# The Complete Journey (bench/complete_journey.py): its last 90 days held out.
JOURNEY_AS_OF = date(2017, 10, 1)
JOURNEY_HORIZON = 90


def step_journey_accuracy() -> None:
    from bench.complete_journey import complete_journey_store

    started = time.perf_counter()
    result = accuracy(
        JOURNEY_AS_OF, JOURNEY_HORIZON, complete_journey_store, "The Complete Journey"
    )
    report(time.perf_counter() - started, **result)


# What issue 5's "done" names: `custintel score --horizon-days 30` on CDNOW against the
# classic BTYD models, on data it did not see. Each first of the month of the classic
# holdout's second half is an origin: the procedure sees only the orders before it and
# is scored on the 30 days after it.
ROLLING_ORIGINS = tuple(date(1998, month, 1) for month in range(1, 7))
ROLLING_HORIZON = 30
ROLLING_MEASURES = ("rmse", "normalised_gini", "top_decile_capture", "decile_error")


def step_rolling() -> None:
    """custintel's procedure at each of ``ROLLING_ORIGINS`` with a 30-day horizon: every
    candidate's measures on the next 30 days, and what was chosen."""
    started = time.perf_counter()
    origins = []
    for as_of in ROLLING_ORIGINS:
        run = fitted_on_cdnow(as_of, ROLLING_HORIZON)
        held = scored_on_holdout(run, ROLLING_HORIZON)
        origins.append(
            {
                "as_of": as_of.isoformat(),
                "chosen": run.final.chosen,
                "customers": len(held.churned),
                "buyers": int((~held.churned).sum()),
                "holdout": held.measures,
            }
        )
    report(time.perf_counter() - started, origins=origins)


def rolling_markdown(m: Measurement) -> str:
    """Per origin, the chosen spend and churn models against BTYD, and how often the
    chosen ones did better."""
    import os

    origins = m.result["origins"]
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores, {m.seconds:.0f} s. Reproduce: "
        "`python -m bench.value cdnow_30`. Chosen / btyd on the 30 days after each origin.",
        "",
        "| origin | buyers | spend chosen | RMSE | norm. Gini | top-10 % capture | "
        "decile error | aggregate | churn chosen | churn AUC | churn Brier |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    wins = dict.fromkeys([*ROLLING_MEASURES, "aggregate_error", "roc_auc", "brier"], 0)
    for o in origins:  # type: ignore[attr-defined]
        spend, churn = o["holdout"]["spend"], o["holdout"]["churn"]
        ours, btyd = spend[o["chosen"]["spend"]], spend["btyd"]
        ours_c, btyd_c = churn[o["chosen"]["churn"]], churn["btyd"]
        for k in ROLLING_MEASURES:
            better = ours[k] < btyd[k] if k in ("rmse", "decile_error") else ours[k] > btyd[k]
            wins[k] += int(better)
        wins["aggregate_error"] += int(abs(ours["aggregate_error"]) < abs(btyd["aggregate_error"]))
        wins["roc_auc"] += int(ours_c["roc_auc"] > btyd_c["roc_auc"])
        wins["brier"] += int(ours_c["brier"] < btyd_c["brier"])
        lines.append(
            f"| {o['as_of']} | {o['buyers']:,} | {o['chosen']['spend']} | "
            f"{ours['rmse']:.2f} / {btyd['rmse']:.2f} | "
            f"{ours['normalised_gini']:.3f} / {btyd['normalised_gini']:.3f} | "
            f"{ours['top_decile_capture']:.3f} / {btyd['top_decile_capture']:.3f} | "
            f"{ours['decile_error']:.3f} / {btyd['decile_error']:.3f} | "
            f"{ours['aggregate_error']:+.1%} / {btyd['aggregate_error']:+.1%} | "
            f"{o['chosen']['churn']} | {ours_c['roc_auc']:.3f} / {btyd_c['roc_auc']:.3f} | "
            f"{ours_c['brier']:.4f} / {btyd_c['brier']:.4f} |"
        )
    n = len(origins)  # type: ignore[arg-type]
    lines += [
        "",
        "Origins where the chosen model did better than BTYD (ties count as not better; "
        "aggregate error: closer to zero): "
        + ", ".join(f"{k.replace('_', ' ')} {v} of {n}" for k, v in wins.items())
        + ".",
        "",
    ]
    lines += [
        f"{o['as_of']}: " + next_order_line(o["holdout"]["next_order"], o["chosen"]["next_order"])
        for o in origins  # type: ignore[attr-defined]
    ]
    return "\n".join(lines) + "\n"


# A check inside the calibration period: scored on 1997-07-22 to 1997-09-30, so it reads
# nothing of the holdout.
CHECK_AS_OF = date(1997, 7, 22)
CHECK_HORIZON = 71


def step_refit_check() -> None:
    """The final refit's regressors with and without the validation cutoff, scored on a
    window that ends where CDNOW's calibration period does (docs/accuracy.md)."""
    import pandas as pd

    from custintel.value.examples import BTYDViews, examples
    from custintel.value.labels import plan_cutoffs
    from custintel.value.metrics import spend_metrics
    from custintel.value.models import compare, fit_candidates

    store = cdnow_store("value-cdnow")
    started = time.perf_counter()
    with store:
        con = store.con
        first = store.first_order_date(before=CHECK_AS_OF)
        assert first is not None
        plan = plan_cutoffs(first, CHECK_AS_OF, CHECK_HORIZON)
        views = BTYDViews(con)
        views.choose(*plan.calibration)
        train = examples(con, plan.train, btyd=views)
        calibration = examples(con, [plan.calibration], btyd=views)
        check = examples(con, [plan.validation], btyd=views)
        scored = examples(con, [(CHECK_AS_OF, CHECK_HORIZON)], btyd=views)
    trial = fit_candidates(train, calibration)
    compare(trial, check, plan.window_days)
    earlier = pd.concat([train, calibration], ignore_index=True)
    actual = scored["spend"].to_numpy(float)
    result: dict[str, Any] = {"chosen": trial.chosen, "window_days": plan.window_days}
    for name, rows in {
        "without_validation_cutoff": None,
        "with_validation_cutoff": pd.concat([earlier, check], ignore_index=True),
    }.items():
        final = fit_candidates(earlier, check, regression_rows=rows)
        result[name] = {
            candidate: spend_metrics(actual, predicted)
            for candidate, predicted in final.predict(scored, "spend", CHECK_HORIZON).items()
        }
    report(time.perf_counter() - started, **result)


# Two windows inside the calibration period with a horizon longer than the label windows
# the history allows: the first as in step_refit_check (47-day windows), the second with
# the holdout's 4:1 ratio of horizon to window (30-day windows).
HORIZON_CHECKS = ((CHECK_AS_OF, CHECK_HORIZON), (date(1997, 6, 1), 121))


def carried_by_alive_share(
    churn: np.ndarray, current: Any, summary: Any, model: Any, window_days: int, horizon_days: int
) -> np.ndarray:
    """The alternative to ``service.churn_over_horizon`` tried on 2026-11-30 (not kept):
    read the window probability as a share of active customers instead of a share of
    silent ones. With Q(t) BTYD's probability that an active customer orders nothing in
    t days, the learned P(churn over W) implies an active share
    min(1, (1 - P(churn over W)) / (1 - Q(W))), and P(churn over H) = 1 - that share x
    (1 - Q(H))."""
    import pandas as pd

    alive = model.p_alive(summary).to_numpy(float)
    quiet = {}
    for days in (window_days, horizon_days):
        silent = model.p_no_orders(summary, days).to_numpy(float)
        active_quiet = np.divide(
            silent - (1 - alive), alive, out=np.ones_like(alive), where=alive > 0
        )
        by_customer = pd.Series(active_quiet, index=summary["customer_id"])
        quiet[days] = by_customer.reindex(current["customer_id"]).fillna(1.0).to_numpy(float)
    ordering_w, ordering_h = 1 - quiet[window_days], 1 - quiet[horizon_days]
    share = np.divide(1 - churn, ordering_w, out=np.ones_like(churn), where=ordering_w > 0)
    return 1 - np.minimum(share, 1.0) * ordering_h


def step_horizon_check() -> None:
    """Churn carried from the label window to a longer horizon, on ``HORIZON_CHECKS``
    (nothing of the holdout is read): each candidate's ROC-AUC and Brier as calibrated on
    the window, carried as scoring does (``churn_over_horizon``), and carried by
    :func:`carried_by_alive_share`."""
    from custintel.value.metrics import churn_metrics
    from custintel.value.service import churn_inputs, churn_over_horizon

    started = time.perf_counter()
    checks = []
    for as_of, horizon in HORIZON_CHECKS:
        final, _, _, _, current, summary, model, truth, _ = fitted_on_cdnow(as_of, horizon)
        churned = truth["churned"].reindex(current["customer_id"]).fillna(True).to_numpy(bool)
        window = final.window_days or horizon
        on_window = final.predict(
            churn_inputs(current, summary, model, window, horizon), "churn", horizon
        )
        measured: dict[str, dict[str, dict[str, float]]] = {}
        for name, p in final.predict(current, "churn", horizon).items():
            # "window", "product_horizon_rates" and "alive_share" feed the learners BTYD's
            # rates over the horizon, as scoring did until 2026-11-30; "product" feeds
            # them the window's, as scoring does now (service.churn_inputs).
            ways = {
                "window": p,
                "product_horizon_rates": churn_over_horizon(
                    p, current, summary, model, window, horizon
                ),
                "product": churn_over_horizon(
                    on_window[name], current, summary, model, window, horizon
                ),
                "alive_share": carried_by_alive_share(p, current, summary, model, window, horizon),
            }
            measured[name] = {way: churn_metrics(churned, q) for way, q in ways.items()}
        checks.append(
            {
                "as_of": as_of.isoformat(),
                "horizon_days": horizon,
                "window_days": window,
                "chosen": final.chosen["churn"],
                "churn": measured,
            }
        )
    report(time.perf_counter() - started, checks=checks)


def carried_by_btyd_ratio(
    final: Any, current: Any, summary: Any, model: Any, target: str, horizon: int
) -> dict[str, np.ndarray]:
    """Every candidate's ``target`` over the horizon with the tree learners fed BTYD's
    rates over the label window (as they were trained) and their per-day rate carried
    to the horizon by BTYD's ratio of its per-day rate over the horizon to its rate over
    the window; BTYD and the baselines as scoring gives them."""
    from custintel.value.service import churn_inputs

    window = final.window_days or horizon
    as_scored = final.predict(current, target, horizon)
    if window >= horizon:
        return as_scored
    on_window = churn_inputs(current, summary, model, window, horizon)
    rate = f"btyd_{target}_rate"
    longer = np.nan_to_num(current[rate].to_numpy(float))
    shorter = np.nan_to_num(on_window[rate].to_numpy(float))
    ratio = np.divide(longer, shorter, out=np.ones_like(longer), where=shorter > 0)
    learnt = final.predict(on_window, target, horizon)
    learners = [name for name in final.regressors[target] if name in learnt]
    out = dict(as_scored)
    for name in learners:
        out[name] = learnt[name] * ratio
    if "blend" in out and learners:
        out["blend"] = (as_scored["btyd"] + np.mean([out[n] for n in learners], axis=0)) / 2
    return out


def step_spend_horizon_check() -> None:
    """Spend and orders learners fed BTYD's window rates and carried to the horizon by
    BTYD's ratio (:func:`carried_by_btyd_ratio`) against scoring as it is (the learners
    fed the horizon's rates), on ``HORIZON_CHECKS`` (nothing of the holdout is read).

    Written before it ran (2026-12-02): the change is kept if, at both checks, the
    blend's spend RMSE and decile error are lower and its top-decile capture and
    normalised Gini fall by no more than 0.003; otherwise it is not made and the holdout
    is not run with it."""
    from custintel.value.metrics import spend_metrics

    started = time.perf_counter()
    checks = []
    for as_of, horizon in HORIZON_CHECKS:
        run = fitted_on_cdnow(as_of, horizon)
        current = run.current.set_index("customer_id").join(run.truth[["spend", "orders"]])
        current = current.reset_index()
        measured: dict[str, Any] = {}
        for target in ("spend", "orders"):
            actual = current[target].fillna(0).to_numpy(float)
            ways = {
                "horizon_rates": run.final.predict(current, target, horizon),
                "window_rates_carried": carried_by_btyd_ratio(
                    run.final, current, run.summary, run.model, target, horizon
                ),
            }
            measured[target] = {
                way: {name: spend_metrics(actual, p) for name, p in predicted.items()}
                for way, predicted in ways.items()
            }
        checks.append(
            {
                "as_of": as_of.isoformat(),
                "horizon_days": horizon,
                "window_days": run.final.window_days,
                "chosen": run.final.chosen,
                **measured,
            }
        )
    report(time.perf_counter() - started, checks=checks)


RFM_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
REFERENCE_CUTOFFS = (date(1997, 4, 1), date(1997, 5, 16), date(1997, 7, 1))


def step_reference_designs() -> None:
    """Designs that might have made the issue's reference "gradient boosting on RFM
    features" (RMSE 92.6, top decile 0.525, aggregate -2.7 %, AUC 0.765), each with
    scikit-learn's gradient boosting at its defaults on BTYD's RFM summary:

    - ``customer_split``: 5-fold cross-validation over customers, trained on the
      holdout's own spend (not a time split: every fold learns from the holdout);
    - ``time_split``: trained at a cutoff inside the calibration period on the spend up
      to 1997-09-30, applied at 1997-10-01 as it is (``raw``) or scaled by the ratio of
      the holdout to the training window (``rate``).
    """
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.model_selection import KFold, cross_val_predict

    from custintel.value.btyd import btyd_summary
    from custintel.value.labels import labels
    from custintel.value.metrics import churn_metrics, spend_metrics

    def outcome(con: Any, cutoff: date, days: int, index: Any) -> tuple[np.ndarray, np.ndarray]:
        """Spend and churn over ``days`` from ``cutoff`` of the customers in ``index``."""
        truth = labels(con, [cutoff], days).set_index("customer_id").reindex(index)
        spend = truth["spend"].fillna(0).to_numpy(float)
        return spend, truth["churned"].fillna(True).to_numpy(bool)

    def scored(spend: np.ndarray, churned: np.ndarray, p: np.ndarray, q: np.ndarray) -> dict:
        measured = spend_metrics(spend, p)
        return {**measured, "churn_auc": churn_metrics(churned, q)["roc_auc"]}

    started = time.perf_counter()
    store = cdnow_store("value-cdnow")
    designs: dict[str, dict[str, float]] = {}
    with store:
        con = store.con
        target = btyd_summary(con, AS_OF).set_index("customer_id")
        features = target[RFM_COLUMNS].to_numpy(float)
        spend, churned = outcome(con, AS_OF, HORIZON, target.index)
        folds = KFold(5, shuffle=True, random_state=0)
        p = cross_val_predict(GradientBoostingRegressor(random_state=0), features, spend, cv=folds)
        q = cross_val_predict(
            GradientBoostingClassifier(random_state=0),
            features,
            churned,
            cv=folds,
            method="predict_proba",
        )[:, 1]
        designs["customer_split"] = scored(spend, churned, p, q)
        for cutoff in REFERENCE_CUTOFFS:
            days = (AS_OF - cutoff).days
            train = btyd_summary(con, cutoff).set_index("customer_id")
            train_spend, train_churned = outcome(con, cutoff, days, train.index)
            inputs = train[RFM_COLUMNS].to_numpy(float)
            p = GradientBoostingRegressor(random_state=0).fit(inputs, train_spend).predict(features)
            classifier = GradientBoostingClassifier(random_state=0).fit(inputs, train_churned)
            q = classifier.predict_proba(features)[:, 1]
            for way, factor in (("raw", 1.0), ("rate", HORIZON / days)):
                designs[f"time_split {cutoff} {way}"] = scored(spend, churned, p * factor, q)
    report(time.perf_counter() - started, designs=designs)


SPEED_DIR = ROOT / "bench" / "results" / "value-speed"
SPEED_AS_OF = date(2026, 1, 1)
SPEED_HORIZON = 30


def step_shop(customers: str) -> None:
    """Generate and sync the demo shop at ``customers`` (skipped when it exists)."""
    from custintel.data import Mapping, Store, sync
    from custintel.demo import generate_shop, write_shop

    data, store_path = _speed_paths(int(customers))
    started = time.perf_counter()
    if not store_path.exists():
        write_shop(generate_shop(customers=int(customers), seed=7), data, formats=("parquet",))
        with Store(store_path) as store:
            sync(store, Mapping.for_files(orders=data / "orders.parquet"))
    report(time.perf_counter() - started, store=str(store_path))


def _speed_paths(customers: int) -> tuple[Path, Path]:
    folder = SPEED_DIR / f"shop-{customers}"
    return folder / "data", folder / "store.duckdb"


def _stamp(started: float) -> Any:
    """Progress lines with the seconds since ``started``, on stderr."""
    import sys

    def say(message: str) -> None:
        print(f"{time.perf_counter() - started:7.1f} s  {message}", file=sys.stderr, flush=True)

    return say


def _fixed_plan(customers: int) -> TrainingPlan:
    """The training plan before 2026-11-30: four cutoffs, 500,000 rows and every learner
    below 250,000 customers; one cutoff, 250,000 rows and LightGBM only from there."""
    from custintel.value import service

    if customers >= 250_000:
        return service.TrainingPlan(1, 250_000, service.LARGE_CANDIDATES)
    return service.TrainingPlan(4, 500_000, service.CANDIDATES)


def step_train_and_score(customers: str, mode: str = "") -> None:
    """Train (fit_and_choose) then score (apply_models), each phase timed; ``mode``
    "naive" for the naive way, "fixed" for the training plan before 2026-11-30."""
    import custintel.value.examples as value_examples
    import custintel.value.service as value_service
    from custintel.data import Store
    from custintel.value import btyd, explain
    from custintel.value.examples import BTYDViews

    settings = value_service.ValueSettings()
    if mode == "fixed":
        value_service.training_plan = _fixed_plan
    elif mode == "naive":
        value_examples.BTYD_FIT_SAMPLE = 10**12
        value_service.MAX_TRAIN_ROWS = 10**12
        value_service.LARGE_SHOP = 10**12
        btyd.CHOICE_SAMPLE_SIZE = 10**12
        settings = value_service.ValueSettings(explain_limit=10**12)
        explain.PATTERN_ROWS = 10**12  # TreeSHAP on every row
    _, store_path = _speed_paths(int(customers))
    with Store(store_path, read_only=True) as store:
        views = BTYDViews(store.con)
        started = time.perf_counter()
        final, _, plan = value_service.fit_and_choose(
            store, SPEED_AS_OF, SPEED_HORIZON, btyd=views, progress=_stamp(started)
        )
        trained = time.perf_counter()
        scores = value_service.apply_models(
            store, final, SPEED_AS_OF, SPEED_HORIZON, settings, btyd=views
        ).scores
        done = time.perf_counter()
    report(
        done - started,
        train_seconds=trained - started,
        score_seconds=done - trained,
        customers_scored=len(scores),
        training_cutoffs=len(plan.train),
        chosen=final.chosen,
        btyd_family=views.family,
    )


SHAP_ROWS = (1_000, 10_000, 100_000)


def step_shap(customers: str) -> None:
    """The churn trees' TreeSHAP, row by row (LightGBM's ``pred_contrib``) and by split
    pattern (``explain._lightgbm_by_pattern``), on ``SHAP_ROWS`` customers of the speed
    shop: LightGBM's churn classifier as custintel fits it, on one labelled cutoff."""
    from datetime import timedelta

    from custintel.data import Store
    from custintel.value import learners
    from custintel.value.examples import examples
    from custintel.value.explain import _lightgbm_by_pattern
    from custintel.value.models import feature_columns

    _, store_path = _speed_paths(int(customers))
    cutoff = SPEED_AS_OF - timedelta(days=SPEED_HORIZON)
    with Store(store_path, read_only=True) as store:
        rows = examples(store.con, [(cutoff, SPEED_HORIZON)])
    features = feature_columns(rows)
    churned = rows["churned"].to_numpy(int)
    model = learners.classifier("gbm", churned, weighted=True).fit(rows[features], churned)
    booster = model.booster_
    timings = []
    for count in SHAP_ROWS:
        inputs = rows[features].iloc[:count]
        started = time.perf_counter()
        row_by_row = booster.predict(inputs, pred_contrib=True)
        middle = time.perf_counter()
        by_pattern = _lightgbm_by_pattern(booster, inputs)
        done = time.perf_counter()
        timings.append(
            {
                "rows": count,
                "row_by_row_seconds": middle - started,
                "by_pattern_seconds": done - middle,
                "max_difference": float(np.abs(by_pattern - row_by_row).max()),
            }
        )
    report(sum(t["row_by_row_seconds"] + t["by_pattern_seconds"] for t in timings), shap=timings)


STEPS = {
    "accuracy": step_accuracy,
    "journey_accuracy": step_journey_accuracy,
    "horizon_check": step_horizon_check,
    "spend_horizon_check": step_spend_horizon_check,
    "reference_designs": step_reference_designs,
    "refit_check": step_refit_check,
    "rolling": step_rolling,
    "shap": step_shap,
    "shop": step_shop,
    "train_and_score": step_train_and_score,
}


def next_order_line(timing: dict[str, dict[str, float]], chosen: str) -> str:
    """The next-order candidates' days off on the holdout, and what the dated customers
    read."""
    served = timing["served"]
    others = ", ".join(
        f"{name} {m['mae_days']:.2f}"
        for name, m in timing.items()
        if name not in ("served", chosen)
    )
    return (
        f"Next order ({chosen}, chosen on the validation split) on the holdout: "
        f"{timing[chosen]['mae_days']:.2f} days off on the {timing[chosen]['customers']:,.0f} "
        f"customers who ordered ({others}); {served['dated']:,.0f} customers were given a "
        f"date, {served['ordered_share']:.0%} of them ordered, "
        f"{served['mae_days']:.2f} days off on those."
    )


def markdown(m: Measurement) -> str:
    r = m.result
    holdout = r["holdout"]
    lines = [
        f"{r['title']}, {r['customers']:,} customers; "
        f"chosen on the validation split: {r['chosen']}. {m.seconds:.0f} s in all.",
        "",
        "| candidate | RMSE | MAE | Spearman | norm. Gini | top-10 % capture | decile error "
        "| aggregate | churn AUC | churn Brier |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in holdout["spend"].items():  # type: ignore[index]
        c = holdout["churn"].get(name, {})  # type: ignore[index]
        lines.append(
            f"| {name} | {s['rmse']:.1f} | {s['mae']:.1f} | {s['spearman']:.3f} | "
            f"{s['normalised_gini']:.3f} | {s['top_decile_capture']:.3f} | "
            f"{s['decile_error']:.3f} | {s['aggregate_error']:+.1%} | "
            f"{c.get('roc_auc', float('nan')):.3f} | {c.get('brier', float('nan')):.3f} |"
        )
    low, high = r["top_decile_intervals"]["chosen"]
    gain_low, gain_high = r["top_decile_intervals"]["gain_over_btyd"]
    lines += [
        "",
        f"Top-10 % capture of the chosen spend model, 95 % bootstrap interval: {low:.3f} to "
        f"{high:.3f}; its gain over BTYD on the same resamples: {gain_low:+.3f} to "
        f"{gain_high:+.3f}.",
        "",
        f"Reliability of the chosen churn model ({r['chosen']['churn']}) on the holdout:",
        "",
        "| predicted | customers | mean predicted | churned |",
        "|---|---:|---:|---:|",
    ]
    for b in r["churn_reliability"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {b['low']:.1f}–{b['high']:.1f} | {b['customers']:,.0f} | "
            f"{b['predicted']:.1%} | {b['observed']:.1%} |"
        )
    lines += ["", next_order_line(holdout["next_order"], r["chosen"]["next_order"])]  # type: ignore[index]
    categories = holdout.get("spend_by_category")  # type: ignore[union-attr]
    if categories:
        lines += [
            "",
            f"Spend per category: the chosen spend ({r['chosen']['spend']}) split as served "
            f"({r['category_split']}) / by each customer's own shares alone / by the shop's "
            "mix for everyone:",
            "",
            "| category | share of spend | RMSE | norm. Gini | top-10 % capture |",
            "|---|---:|---:|---:|---:|",
        ]
        ways = ("served", "own_shares", "shop_mix")
        shown = (("rmse", ".2f"), ("normalised_gini", ".3f"), ("top_decile_capture", ".3f"))
        for name, c in categories.items():
            cells = [" / ".join(f"{c[w][k]:{f}}" for w in ways) for k, f in shown]
            lines.append(f"| {name} | {c['share_of_spend']:.1%} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# The large-shop plan starts at 250,000 customers (value/service.py LARGE_SHOP): below
# it, ours and the naive way are the same code, so the comparison is made above it.
NAIVE_CUSTOMERS = 300_000


def speed(customers: int) -> list[Measurement]:
    """Ours at ``customers``; ours and the naive way at ``NAIVE_CUSTOMERS``."""
    module = "bench.value"
    out = []
    for n in sorted({customers, NAIVE_CUSTOMERS}):
        run_step(module, "shop", str(n))
    out.append(run_step(module, "train_and_score", str(customers)))
    if customers != NAIVE_CUSTOMERS:
        out.append(run_step(module, "train_and_score", str(NAIVE_CUSTOMERS)))
    out.append(run_step(module, "train_and_score", str(NAIVE_CUSTOMERS), "naive"))
    return out


# Shop sizes where the plan before 2026-11-30 trained for longer than at a million.
SIZES = (100_000, 200_000)


def sizes() -> list[Measurement]:
    """At each of ``SIZES``: the training plan before 2026-11-30, then today's."""
    out = []
    for n in SIZES:
        run_step("bench.value", "shop", str(n))
        for mode in ("fixed", ""):
            out.append(run_step("bench.value", "train_and_score", str(n), mode))
    return out


def sizes_markdown(results: list[Measurement]) -> str:
    import os

    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores. Reproduce: `python -m "
        "bench.value sizes`.",
        "",
        "| customers | plan | training cutoffs | train | score | peak memory |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for m, mode in zip(results, ("before", "now") * len(SIZES), strict=True):
        r = m.result
        lines.append(
            f"| {r['customers_scored']:,} | {mode} | {r['training_cutoffs']} | "
            f"{r['train_seconds']:.0f} s | {r['score_seconds']:.0f} s | {m.peak_mib:,.0f} MiB |"
        )
    return "\n".join(lines) + "\n"


def speed_markdown(results: list[Measurement], customers: int) -> str:
    import os
    import platform

    big, *rest = results
    ours, naive = rest[-2] if len(rest) == 2 else big, rest[-1]
    r = big.result
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores ({platform.machine()}), the demo "
        f"shop at {customers:,} customers (four years of orders), horizon "
        f"{SPEED_HORIZON} days. Reproduce: `python -m bench.value speed --customers "
        f"{customers}`.",
        "",
        "| run | customers scored | train | score | peak memory |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = [("custintel", big)]
    if ours is not big:
        rows.append(("custintel", ours))
    rows.append(("naive way", naive))
    for name, m in rows:
        lines.append(
            f"| {name} | {m.result['customers_scored']:,} | {m.result['train_seconds']:.0f} s | "
            f"{m.result['score_seconds']:.0f} s | {m.peak_mib:,.0f} MiB |"
        )
    lines += [
        "",
        f"Targets (1M customers, 2 cores): training under 300 s (measured "
        f"{r['train_seconds']:.0f} s), scoring under 60 s ({r['score_seconds']:.0f} s), peak "
        f"memory under 6 GB ({big.peak_mib / 1024:.1f} GiB). Against the naive way at "
        f"{NAIVE_CUSTOMERS:,} customers, custintel trains "
        f"**{naive.result['train_seconds'] / ours.result['train_seconds']:.1f}x faster** "
        f"with {naive.peak_mib / ours.peak_mib:.1f}x less peak memory.",
    ]
    return "\n".join(lines) + "\n"


def treeshap_markdown(m: Measurement) -> str:
    import os

    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores, the churn LightGBM of the "
        f"{NAIVE_CUSTOMERS:,}-customer speed shop. Reproduce: `python -m bench.value treeshap`.",
        "",
        "| customers explained | row by row | by split pattern | faster | largest difference |",
        "|---:|---:|---:|---:|---:|",
    ]
    for t in m.result["shap"]:
        lines.append(
            f"| {t['rows']:,} | {t['row_by_row_seconds']:.2f} s | {t['by_pattern_seconds']:.2f} s "
            f"| {t['row_by_row_seconds'] / t['by_pattern_seconds']:.1f}x | "
            f"{t['max_difference']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def _print_json_lines(results: list[Measurement]) -> None:
    """Each measurement as one JSON line, after the markdown."""
    for m in results:
        print(json.dumps({"seconds": m.seconds, "peak_mib": m.peak_mib, **m.result}))


COMMANDS = ("all", "cdnow", "cdnow_30", "complete_journey", "speed", "sizes", "treeshap")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "step",
        choices=[*COMMANDS, *STEPS],
    )
    parser.add_argument("args", nargs="*")
    parser.add_argument("--customers", type=int, default=1_000_000)
    options = parser.parse_args()
    if options.step in STEPS:
        STEPS[options.step](*options.args)
        return
    if options.step == "treeshap":
        run_step("bench.value", "shop", str(NAIVE_CUSTOMERS))
        measured = run_step("bench.value", "shap", str(NAIVE_CUSTOMERS))
        print(treeshap_markdown(measured))
        _print_json_lines([measured])
        return
    if options.step == "cdnow_30":
        measured = run_step("bench.value", "rolling")
        print(rolling_markdown(measured))
        _print_json_lines([measured])
        return
    if options.step == "sizes":
        measured = sizes()
        print(sizes_markdown(measured))
        _print_json_lines(measured)
        return
    if options.step == "complete_journey":
        m = run_step("bench.value", "journey_accuracy")
        print(markdown(m))
        print(json.dumps(m.result, indent=1, default=str))
        return
    if options.step in ("all", "cdnow"):
        m = run_step("bench.value", "accuracy")
        print(markdown(m))
        print(json.dumps(m.result, indent=1, default=str))
        if options.step == "cdnow":
            return
    results = speed(options.customers)
    print(speed_markdown(results, options.customers))
    _print_json_lines(results)


if __name__ == "__main__":
    main()
