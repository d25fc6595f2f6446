"""Buy-till-you-die customer value: BG/NBD, MBG/NBD or Pareto/NBD for orders, and
Gamma-Gamma for order value.

The models come from PyMC-Marketing (``BetaGeoModel``, ``ModifiedBetaGeoModel``,
``ParetoNBDModel``, ``GammaGammaModel``), fitted by MAP with flat priors (the maximum
likelihood estimates of Fader, Hardie & Lee, Batislam et al. and Schmittlein et al.) by
:mod:`custintel.value.btyd_map`, which compiles each model once per process where the
library's ``fit(method="map")`` compiles it for every fit, and finds the same
parameters. :func:`fit_btyd` fits the three order
models and keeps the one with the highest log-likelihood on the calibration customers
(each has four parameters and describes the same frequency, recency and T, so their
likelihoods compare directly). A fitted model is kept as its parameters in
:class:`~custintel.value.btyd_model.BTYDModel`, which predicts without PyMC
(``btyd_model.py``). This module builds the summary and fits.

Units and conventions (those of the published CDNOW analyses, whose parameters the
tests reproduce):

- Time is in **weeks**, measured between calendar days: a purchase is dated to its day
  and the observation period ends with the last day before ``as_of``. So recency is
  ``(last purchase day - first purchase day) / 7`` and T is
  ``(as_of - 1 day - first purchase day) / 7``; a customer who first bought on
  1997-01-01 has T = 38.86 weeks at ``as_of`` 1997-10-01, as in Fader, Hardie & Lee's
  CDNOW data, and one who first bought the day before ``as_of`` has T = 0.
- An "order" is a purchase day: frequency counts the distinct days with a sale after
  the first one (several orders on one day are one purchase), and every prediction of
  orders counts purchase days.
- Money is in the store's currency, net of returns by the data model's rule
  (``net_amount``; see :class:`custintel.data.model.OrderKind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from custintel.errors import ConfigError, NotEnoughData, StoreError
from custintel.value import btyd_map
from custintel.value.btyd_model import (
    DAYS_PER_WEEK,
    FAMILIES,
    FAMILY_LABELS,
    FORMAT,
    FORMAT_VERSION,
    ORDER_PARAMETERS,
    BTYDModel,
    checked_summary,
)

__all__ = [
    "CHOICE_SAMPLE_SIZE",
    "FAMILIES",
    "FORMAT",
    "FORMAT_VERSION",
    "MIN_REPEAT_CUSTOMERS",
    "SUMMARY_COLUMNS",
    "BTYDModel",
    "btyd_summary",
    "fit_btyd",
    "fit_gamma_gamma",
    "log_likelihood",
]

SUMMARY_COLUMNS: tuple[str, ...] = ("customer_id", "frequency", "recency", "T", "monetary_value")
# Gamma-Gamma is fitted on fewer customers than this only by mistake: three parameters
# from a handful of means are noise, and the mean order value serves better.
MIN_REPEAT_CUSTOMERS = 10
# A horizon that the fitted model must predict finitely for every fitted customer.
_CHECK_HORIZON_DAYS = 365
# The family choice, and any Pareto/NBD fit, use at most this many customers (drawn
# with a fixed seed): Pareto/NBD costs ~200 us per customer to fit (see fit_btyd).
CHOICE_SAMPLE_SIZE = 100_000
_CHOICE_SEED = 20_240_601


# --------------------------------------------------------------------------- summary


def _check_date(name: str, value: date) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise ConfigError(
                f"{name}={value.isoformat()} has a time of day; cutoffs are whole dates",
                hint="pass a date (rows strictly before that day are used)",
            )
        return value.date()
    if not isinstance(value, date):
        raise ConfigError(f"{name}={value!r} is not a date", hint="pass a datetime.date")
    return value


def summary_sql(*, with_start: bool) -> str:
    """The summary query over ``orders``; parameters: as_of, as_of[, start].

    Plain SQL that sqlglot transpiles to Spark (window MIN, CASE inside aggregates,
    ``date_diff('day', ...)``), one scan of ``orders``.
    """
    start = " AND ordered_at >= CAST(? AS TIMESTAMP)" if with_start else ""
    return f"""
WITH days AS (
  -- one row per customer and calendar day with any order row; is_purchase marks the
  -- days with a sale
  SELECT
    customer_id,
    CAST(ordered_at AS DATE) AS order_date,
    MAX(CASE WHEN kind = 'sale' THEN 1 ELSE 0 END) AS is_purchase,
    SUM(net_amount) AS net_spend
  FROM orders
  WHERE ordered_at < CAST(? AS TIMESTAMP){start}
  GROUP BY customer_id, CAST(ordered_at AS DATE)
),
marked AS (
  SELECT
    customer_id,
    order_date,
    is_purchase,
    net_spend,
    MIN(CASE WHEN is_purchase = 1 THEN order_date END)
      OVER (PARTITION BY customer_id) AS first_date
  FROM days
),
customers AS (
  SELECT
    customer_id,
    SUM(is_purchase) - 1 AS frequency,
    date_diff('day', MIN(first_date), MAX(CASE WHEN is_purchase = 1 THEN order_date END))
      AS recency_days,
    date_diff('day', MIN(first_date), CAST(? AS DATE)) - 1 AS t_days,
    -- every row after the first purchase day, sales and returns alike
    SUM(CASE WHEN order_date > first_date THEN net_spend ELSE 0 END) AS repeat_spend,
    SUM(net_spend) AS net_spend
  FROM marked
  WHERE first_date IS NOT NULL
  GROUP BY customer_id
)
SELECT
  customer_id,
  CAST(frequency AS BIGINT) AS frequency,
  CAST(recency_days AS DOUBLE) / {DAYS_PER_WEEK} AS recency,
  CAST(t_days AS DOUBLE) / {DAYS_PER_WEEK} AS "T",
  CASE WHEN frequency > 0 AND repeat_spend > 0 AND net_spend > 0
    THEN CAST(repeat_spend AS DOUBLE) / frequency ELSE 0.0 END AS monetary_value
FROM customers
"""


def btyd_summary(
    con: duckdb.DuckDBPyConnection, as_of: date, *, start: date | None = None
) -> pd.DataFrame:
    """One row per customer with a sale before ``as_of``: the BTYD sufficient statistics.

    Columns (:data:`SUMMARY_COLUMNS`), sorted by customer_id:

    - ``frequency``: repeat purchase days (distinct days with a sale, minus 1);
    - ``recency``: weeks from the first to the last purchase day (0 without repeats);
    - ``T``: weeks from the first purchase day to the last day before ``as_of``;
    - ``monetary_value``: net spend per repeat purchase day, in currency units: the
      ``net_amount`` of every row dated after the first purchase day (sales, and returns
      whichever purchase they undo) divided by ``frequency``; 0 without repeats, and 0
      when that repeat spend or the customer's total net spend is not positive.

    Only rows strictly before ``as_of`` are read, and with ``start`` only rows on or
    after it (a customer's first purchase is then their first since ``start``: use it
    to fit on a recent stretch of a long history). One query; no rows, no error: an
    empty frame says that no customer bought in the period.
    """
    as_of = _check_date("as_of", as_of)
    params: list[object] = [as_of]
    if start is not None:
        start = _check_date("start", start)
        if start >= as_of:
            raise ConfigError(
                f"start={start.isoformat()} should be before as_of={as_of.isoformat()}"
            )
        params.append(start)
    params.append(as_of)
    try:
        frame = con.execute(summary_sql(with_start=start is not None), params).df()
    except duckdb.CatalogException as exc:
        raise StoreError(
            "the store has no 'orders' table", where="orders", hint="ingest orders first"
        ) from exc
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    return frame.astype({"frequency": "int64", "recency": "float64", "T": "float64"})


# --------------------------------------------------------------------------- fitting


def _check_fitted(values: Mapping[str, float], label: str, n: int) -> None:
    if not all(np.isfinite(v) and v > 0 for v in values.values()):
        shown = ", ".join(f"{k}={v:.3g}" for k, v in values.items())
        raise NotEnoughData(
            f"the {label} fit on {n} customers did not find positive finite parameters ({shown})",
            where="BTYD summary",
            hint="fit on more customers or a longer history",
        )


def _check_family(family: str, *, auto: bool = False) -> None:
    allowed = ("auto", *FAMILIES) if auto else FAMILIES
    if family not in allowed:
        raise ConfigError(
            f"family={family!r} is not a BTYD order model; choose one of "
            + ", ".join(repr(name) for name in allowed)
        )


def _order_data(summary: pd.DataFrame) -> pd.DataFrame:
    """The (customer_id, frequency, recency, T) columns an order model is fitted on.

    Raises :class:`NotEnoughData` for an empty summary, or one without any repeat
    purchase (the purchase and dropout processes cannot be told apart then).
    """
    data = checked_summary(summary, ("customer_id", "frequency", "recency", "T"))
    if data.empty:
        raise NotEnoughData(
            "no customer has a sale in the BTYD summary (a positive amount, not cancelled "
            "or refunded), so there is nothing to fit",
            where="BTYD summary",
            hint="check that amount holds what customers paid (sales positive, refunds "
            "negative), or choose an as_of after the first sale",
        )
    repeat = int((data["frequency"] > 0).sum())
    if repeat == 0:
        raise NotEnoughData(
            f"none of the {len(data)} customers has a repeat purchase day; BG/NBD needs "
            "repeat purchases to tell how often customers buy from how soon they leave",
            where="BTYD summary",
            hint="the value models learn from customers who come back: score again once "
            "more customers have ordered on a second day (custintel segment describes "
            "one-order customers now)",
        )
    return data.reset_index(drop=True)


def _fit_family(data: pd.DataFrame, family: str, *, flat: bool = True) -> dict[str, float]:
    """One family's parameters on ``data``: the maximum likelihood estimate, or with
    ``flat=False`` the MAP estimate under PyMC-Marketing's default weakly informative
    priors, which keep the parameters finite where the likelihood runs off to a
    boundary."""
    parameters = btyd_map.fit_map(family, data, flat=flat)
    _check_fitted(parameters, FAMILY_LABELS[family], len(data))
    return parameters


def log_likelihood(family: str, parameters: Mapping[str, float], summary: pd.DataFrame) -> float:
    """The log-likelihood of an order model with these parameters on the summary's
    (frequency, recency, T): the sum over customers of the log of PyMC-Marketing's
    ``BetaGeoNBD``, ``ModifiedBetaGeoNBD`` or ``ParetoNBD`` density (of the purchase
    times in each customer's period, so the three families' values compare directly).
    """
    _check_family(family)
    return btyd_map.log_likelihood(family, parameters, summary)


def fit_gamma_gamma(summary: pd.DataFrame) -> dict[str, float]:
    """PyMC-Marketing's Gamma-Gamma fitted to the customers with a repeat purchase day
    and a positive ``monetary_value`` by MAP with flat priors: its p, q and v.

    Raises :class:`NotEnoughData` with fewer than :data:`MIN_REPEAT_CUSTOMERS` such
    customers, or when the fit has no finite mean order value (q <= 1: a spend
    distribution so heavy-tailed that its mean does not exist).
    """
    data = checked_summary(summary, ("customer_id", "frequency", "monetary_value"))
    repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    if len(repeat) < MIN_REPEAT_CUSTOMERS:
        raise NotEnoughData(
            f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} customers with a repeat "
            f"purchase day and positive repeat spend; the summary has {len(repeat)} "
            f"(of {len(data)} customers)",
            where="BTYD summary",
            hint="use a later as_of (a longer history); until then the mean order value is used",
        )
    parameters = btyd_map.fit_map("gamma_gamma", repeat.reset_index(drop=True))
    _check_fitted(parameters, "Gamma-Gamma", len(repeat))
    q = parameters["q"]
    if not q > 1:
        raise NotEnoughData(
            f"the Gamma-Gamma fit has q={q:.3g} <= 1, so its mean order value does not "
            f"exist ({len(repeat)} repeat customers)",
            where="BTYD summary",
            hint="check the order amounts for outliers; until then the mean order value is used",
        )
    return parameters


def _mean_order_value(summary: pd.DataFrame) -> float:
    """Net spend per repeat purchase day over all customers with repeats (>= 0)."""
    frequency = summary["frequency"].to_numpy(float)
    total = float(frequency.sum())
    if total <= 0:
        return 0.0
    return max(0.0, float((frequency * summary["monetary_value"].to_numpy(float)).sum()) / total)


def _choice_sample(data: pd.DataFrame) -> pd.DataFrame:
    """At most :data:`CHOICE_SAMPLE_SIZE` customers, drawn at random with a fixed seed
    (the same summary gives the same sample)."""
    if len(data) <= CHOICE_SAMPLE_SIZE:
        return data
    rng = np.random.default_rng(_CHOICE_SEED)
    rows = np.sort(rng.choice(len(data), size=CHOICE_SAMPLE_SIZE, replace=False))
    return data.iloc[rows].reset_index(drop=True)


def _reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, NotEnoughData) else str(exc)
    return f"{type(exc).__name__}: {message}"


def _fit_scored(data: pd.DataFrame, family: str) -> tuple[dict[str, float], float, str]:
    """Fit one family and return it with its log-likelihood on ``data`` and a note.

    The maximum likelihood fit comes first. Where it is degenerate (parameters, its
    log-likelihood or its predictions not finite, or a parameter beyond
    :data:`BOUNDARY`: a few dozen steady customers of whom none is seen to drop out send
    r, alpha and b to infinity and a to 0), the family is fitted again with
    PyMC-Marketing's default priors, and the note says so. Raises when that fails too,
    or for any other failure of the fit."""
    try:
        fitted, value = _fit_checked(data, family, flat=True)
        return fitted, value, ""
    except NotEnoughData as degenerate:
        fitted, value = _fit_checked(data, family, flat=False)
        return (
            fitted,
            value,
            f"the maximum likelihood fit was degenerate ({degenerate.message}); fitted "
            "with PyMC-Marketing's default priors instead",
        )


# An order model's parameter above this has run off to the boundary of the likelihood:
# r and alpha grow without end when customers' purchase rates do not vary, b when none
# drops out. Fitted shops' parameters are a few units (CDNOW's r=0.24, alpha=4.4, a=0.79,
# b=2.4); there the predictions rest on hypergeometric series at 1e8 and may turn NaN.
BOUNDARY = 1e6


def _fit_checked(data: pd.DataFrame, family: str, *, flat: bool) -> tuple[dict[str, float], float]:
    """One fit and its log-likelihood on ``data``; raises :class:`NotEnoughData` when
    its parameters, log-likelihood or predictions on ``data`` are not finite, or a
    parameter is above :data:`BOUNDARY`."""
    parameters = _fit_family(data, family, flat=flat)
    value = log_likelihood(family, parameters, data)
    label = FAMILY_LABELS[family]
    shown = ", ".join(f"{k}={v:.3g}" for k, v in parameters.items())
    if not np.isfinite(value):
        raise NotEnoughData(
            f"the {label} fit on {len(data)} customers has log-likelihood {value} ({shown})",
            where="BTYD summary",
        )
    if max(parameters.values()) > BOUNDARY:
        raise NotEnoughData(
            f"the {label} fit on {len(data)} customers ran off to the edge of its "
            f"parameters ({shown}), as when every customer buys at the same pace and "
            "none is seen to leave",
            where="BTYD summary",
        )
    model = BTYDModel.from_parameters(family, parameters, None, mean_order_value=0.0)
    _check_predictions(model, data, label, shown)
    return parameters, value


def _check_predictions(model: BTYDModel, summary: pd.DataFrame, label: str, shown: str) -> None:
    # A degenerate fit makes NaN on the way; this check reports it, numpy need not.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        check = np.concatenate(
            [
                model.expected_orders(summary, _CHECK_HORIZON_DAYS).to_numpy(float),
                model.p_alive(summary).to_numpy(float),
            ]
        )
    if not np.isfinite(check).all():
        repeat = int((summary["frequency"] > 0).sum())
        raise NotEnoughData(
            f"the {label} fit on {len(summary)} customers ({repeat} with repeats) is "
            f"degenerate ({shown}) and cannot predict",
            where="BTYD summary",
            hint="fit on more customers or a longer history",
        )


def fit_btyd(summary: pd.DataFrame, family: str = "auto") -> BTYDModel:
    """Fit an order model and, when the data allow, Gamma-Gamma on a :func:`btyd_summary`.

    ``family`` is ``"bgnbd"``, ``"mbgnbd"``, ``"paretonbd"`` or ``"auto"``. ``"auto"``
    fits all three and keeps the one with the highest log-likelihood on the calibration
    customers (all three have four parameters and describe the same frequency,
    recency and T, so the likelihoods compare directly; ties go to the earlier of
    :data:`FAMILIES`). Each family's log-likelihood is kept in ``log_likelihoods``.

    Speed: a Pareto/NBD fit costs about 200 µs per customer (its likelihood and gradient
    evaluate hypergeometric series): 214 s at 1,000,000 customers, against 12 s for
    BG/NBD and 9 s for MBG/NBD (measured on a 2-core machine). So with more than
    :data:`CHOICE_SAMPLE_SIZE` customers the choice is made on a random sample of that
    many (fixed seed; all three families are fitted and their log-likelihoods compared
    on the same sample, and ``n_choice_customers`` says how many), then a BG/NBD or
    MBG/NBD winner is refitted on every customer, while a Pareto/NBD winner keeps its
    fit on the sample. Pareto/NBD asked for by name is fitted on such a sample too.
    "auto" on 1,000,000 customers takes about 80 s in all, Gamma-Gamma included.

    A family whose fit fails, or whose parameters, log-likelihood or predictions are
    not finite, is skipped with the reason in ``family_notes``. BG/NBD is the fallback:
    when the family asked for cannot be fitted, BG/NBD is fitted instead (with the note).

    With fewer than :data:`MIN_REPEAT_CUSTOMERS` repeat customers with positive spend
    (or a Gamma-Gamma fit without a finite mean), the model's order value is the mean
    net spend per repeat purchase day of all customers (``spend_model ==
    "mean_order_value"``, with the reason in ``spend_note``).

    Raises :class:`ConfigError` for an unknown family, and :class:`NotEnoughData` when
    no order model can be fitted: an empty summary, no repeat purchases, or fits whose
    predictions are not finite (too few customers to pin the parameters down).
    """
    _check_family(family, auto=True)
    data = _order_data(summary)
    candidates = FAMILIES if family == "auto" else (family,)
    sampled = family in ("auto", "paretonbd")
    choice = _choice_sample(data) if sampled else data
    fits: dict[str, dict[str, float]] = {}
    log_likelihoods: dict[str, float] = {}
    notes: dict[str, str] = {}
    with_priors: set[str] = set()  # families whose fit needed the default priors
    failure: Exception | None = None
    for name in candidates:
        try:
            fits[name], log_likelihoods[name], note = _fit_scored(choice, name)
        # A library fit can fail in many ways (optimizer, compiled-graph and numerical
        # errors); any of them only disqualifies this family.
        except Exception as exc:
            failure, notes[name] = exc, _reason(exc)
            continue
        if note:
            notes[name] = note
            with_priors.add(name)
    if not fits and "bgnbd" not in candidates:
        try:
            fits["bgnbd"], log_likelihoods["bgnbd"], note = _fit_scored(data, "bgnbd")
            choice = data
            if note:
                notes["bgnbd"] = note
                with_priors.add("bgnbd")
        except Exception as exc:
            failure, notes["bgnbd"] = exc, _reason(exc)
    if not fits:
        if isinstance(failure, NotEnoughData) and len(notes) == 1:
            raise failure
        raise NotEnoughData(
            f"no BTYD order model could be fitted on {len(data)} customers: "
            + "; ".join(f"{FAMILY_LABELS[name]}: {note}" for name, note in notes.items()),
            where="BTYD summary",
            hint="fit on more customers or a longer history",
        ) from failure
    chosen = max(fits, key=lambda name: log_likelihoods[name])
    orders = fits[chosen]
    if len(choice) < len(data) and chosen != "paretonbd":
        try:
            orders = _fit_family(data, chosen, flat=chosen not in with_priors)
        except Exception as exc:
            notes[chosen] = (
                f"kept the fit on {len(choice)} sampled customers: the refit on all "
                f"{len(data)} failed ({_reason(exc)})"
            )
    try:
        gamma_gamma: dict[str, float] | None = fit_gamma_gamma(summary)
        note = ""
    except NotEnoughData as exc:
        gamma_gamma, note = None, exc.message
    model = BTYDModel.from_parameters(
        chosen,
        orders,
        gamma_gamma,
        mean_order_value=_mean_order_value(summary),
        spend_note=note,
        n_customers=len(summary),
        n_repeat_customers=int((summary["frequency"] > 0).sum()),
        log_likelihoods=log_likelihoods,
        family_notes=notes,
        n_choice_customers=len(choice),
    )
    parameters = {name: getattr(model, name) for name in ORDER_PARAMETERS[chosen]}
    shown = ", ".join(f"{k}={v:.3g}" for k, v in parameters.items())
    _check_predictions(model, summary, FAMILY_LABELS[chosen], shown)
    return model
