"""RFM scores: recency, frequency and monetary value scored 1-5 by quintiles.

A score says where a customer stands among the shop's customers at the same ``as_of``
date, not an absolute level: F5 means "orders more often than at least 80 % of the
customers", whatever the number of orders is.

The tie rule (docs/segmentation.md, "RFM scores")::

    score = min(5, 1 + floor(5 * below / (n - 1)))

where ``n`` is the number of customers scored together (same ``as_of``) and ``below`` is
the number of them with a strictly worse value (SQL's ``PERCENT_RANK``, which gives tied
values their lowest rank). Equal values therefore always get equal scores, and a large
tie at the bottom stays at the bottom: if 60 % of the customers have one order, all of
them get F1 and the next value up starts well above it. Without ties the rule gives
exact quintiles (n = 100: ranks 1-20 score 1, ..., 81-100 score 5). Worse means a larger
``recency_days`` and a smaller ``frequency`` or ``monetary``.

The rule is integer arithmetic on ranks, so it is exact (no cut point falls on a
float boundary) and portable: the same expression runs on DuckDB or Spark SQL.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from custintel.errors import ConfigError, InputError, MissingColumns, NotEnoughData

__all__ = [
    "SCORE_COLUMNS",
    "DegenerateDataWarning",
    "rfm_scores",
    "rfm_thresholds",
    "score_by_thresholds",
]

# The feature column behind each score, and whether a larger value is better.
_SCORED: tuple[tuple[str, str, bool], ...] = (
    ("r_score", "recency_days", False),
    ("f_score", "frequency", True),
    ("m_score", "monetary", True),
)
SCORE_COLUMNS: tuple[str, ...] = ("r_score", "f_score", "m_score")

# The score everyone gets on a column where every customer has the same value.
NEUTRAL_SCORE = 3
# Fewer customers than this cannot fill the five score levels.
MIN_CUSTOMERS = 5
# Shown ids in an error message.
_SHOW = 5


class DegenerateDataWarning(UserWarning):
    """The data can be scored, but some scores carry little or no information.

    Raised (as a warning) for fewer than five customers, or a feature column where every
    customer has the same value; the affected scores are set to the neutral 3.
    """


def rfm_scores(features: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Score every customer's recency, frequency and monetary value 1 (worst) to 5 (best).

    ``features`` is the output of :func:`custintel.features.customer_features` (or any
    frame with ``customer_id``, ``recency_days`` (days), ``frequency`` (orders) and
    ``monetary`` (net spend, currency)). When it has an ``as_of`` column with several
    dates, customers are ranked only against customers of the same date, so one call
    scores many cutoffs.

    Returns a frame with the same rows, order and index as ``features`` and the columns
    ``customer_id``, ``r_score``, ``f_score``, ``m_score`` (int64, 1-5).

    Rules (the why is in docs/segmentation.md):

    * score = ``min(5, 1 + floor(5 * below / (n - 1)))``, ``below`` being the number of
      customers with a strictly worse value: equal values get equal scores, and a tie
      at the bottom (most customers with one order) all get 1;
    * ``monetary`` is compared to the cent (rounded to 2 decimals), so sums that differ
      only by floating-point noise tie;
    * a customer with ``frequency <= 0`` or ``monetary <= 0`` (only cancelled or
      refunded orders) gets F1 or M1 whatever the others have;
    * a column where every customer has the same value carries no information: everyone
      gets the neutral 3 on it, with a :class:`DegenerateDataWarning` (so does a lone
      customer, on every column); fewer than five customers also warn.

    Raises :class:`~custintel.errors.NotEnoughData` for an empty frame or a missing,
    NaN or infinite value (naming the customers and columns),
    :class:`~custintel.errors.MissingColumns` for absent columns and
    :class:`~custintel.errors.InputError` for non-numeric columns or a customer listed
    twice for the same date.
    """
    value_columns = [column for _, column, _ in _SCORED]
    frame = _as_frame(features, ["customer_id", *value_columns])
    if len(frame) == 0:
        raise NotEnoughData(
            "there are no customers to score",
            where="customer features",
            hint="check --as-of: only orders strictly before it are used",
        )
    ids = frame["customer_id"]
    groups, labels = _groups(frame)
    _check_unique(ids, groups, labels)
    values = {column: _numeric(frame, column) for column in value_columns}
    _check_finite(ids, values)
    values["monetary"] = np.round(values["monetary"], 2)

    sizes = np.bincount(groups)
    out: dict[str, Any] = {"customer_id": ids.array}
    notes = _small_group_notes(sizes, labels)
    for score, column, higher_is_better in _SCORED:
        key = values[column] if higher_is_better else -values[column]
        scores, single_valued = _quintile_scores(key, groups, sizes)
        if higher_is_better:
            scores[values[column] <= 0] = 1
        out[score] = scores
        if single_valued.any() and sizes[single_valued].max() > 1:
            notes.append(_single_value_note(score, column, values[column], groups, labels))
    if notes:
        warnings.warn("; ".join(notes), DegenerateDataWarning, stacklevel=2)
    return pd.DataFrame(out, index=frame.index)


def rfm_thresholds(features: pd.DataFrame, scores: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per score column, the boundary value of each score level seen in a population
    (``scores`` from :func:`rfm_scores` of ``features``): the smallest value reaching it
    (larger is better) or the largest (recency). :func:`score_by_thresholds` scores
    customers outside that population by them."""
    out: dict[str, dict[str, float]] = {}
    for score, column, larger_better in _SCORED:
        frame = pd.DataFrame(
            {"s": scores[score].to_numpy(), "v": features[column].to_numpy(dtype=float)}
        )
        grouped = frame.groupby("s")["v"]
        bounds = grouped.min() if larger_better else grouped.max()
        out[score] = {str(s): float(v) for s, v in zip(bounds.index, bounds, strict=True)}
    return out


def score_by_thresholds(
    features: pd.DataFrame, thresholds: dict[str, dict[str, float]]
) -> pd.DataFrame:
    """R, F and M scores (columns ``r_score``, ``f_score``, ``m_score``) of feature rows
    by the boundaries :func:`rfm_thresholds` saved from a population: each row gets the
    highest level whose boundary it reaches, 1 when it reaches none, and F1 or M1 with
    no orders or no positive spend, as :func:`rfm_scores` gives."""
    missing = [c for _, c, _ in _SCORED if c not in features.columns]
    if missing:
        raise ConfigError(f"feature rows need {', '.join(missing)}")
    out = {}
    for score, column, larger_better in _SCORED:
        values = features[column].to_numpy(dtype=float)
        levels = sorted((int(s), v) for s, v in thresholds[score].items())
        result = np.ones(len(values), dtype=np.int64)
        for level, bound in levels:
            reached = values >= bound if larger_better else values <= bound
            result = np.where(reached, np.maximum(result, level), result)
        out[score] = result
    scores = pd.DataFrame(out)
    scores.loc[features["frequency"].to_numpy() <= 0, "f_score"] = 1
    scores.loc[features["monetary"].to_numpy() <= 0, "m_score"] = 1
    return scores


def _as_frame(features: pd.DataFrame | pa.Table, required: Sequence[str]) -> pd.DataFrame:
    """Return ``features`` as a pandas frame, checking the required columns are there."""
    columns = list(features.column_names if isinstance(features, pa.Table) else features.columns)
    missing = [c for c in required if c not in columns]
    if missing:
        raise MissingColumns(
            missing,
            [str(c) for c in columns],
            where="customer features",
            hint="pass the output of custintel.features.customer_features",
        )
    if isinstance(features, pa.Table):
        keep = [*required, "as_of"] if "as_of" in columns else list(required)
        return features.select(keep).to_pandas()
    return features


def _groups(frame: pd.DataFrame) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Return a group code per row (one group per ``as_of`` date) and the group labels."""
    if "as_of" not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64), [None]
    codes, uniques = pd.factorize(frame["as_of"], use_na_sentinel=False)
    return codes.astype(np.int64), list(uniques)


def _where(label: Any) -> str:
    return "" if label is None else f" as of {label}"


def _check_unique(ids: pd.Series, groups: npt.NDArray[np.int64], labels: list[Any]) -> None:
    """Refuse a customer listed twice for the same date: it would be ranked twice."""
    if len(labels) == 1:
        keys: pd.Index = pd.Index(ids.array)
    else:
        keys = pd.MultiIndex.from_arrays([groups, ids.array])
    if keys.is_unique:  # the fast path; the details below only on failure
        return
    dup = np.asarray(keys.duplicated())
    shown = ", ".join(repr(i) for i in pd.unique(ids.to_numpy()[dup])[:_SHOW])
    raise InputError(
        f"{int(dup.sum())} row(s) repeat a customer_id{_where(labels[groups[dup][0]])}, "
        f"e.g. {shown}; scores need one row per customer and as_of date",
        where="customer features",
        hint="aggregate the features to one row per customer (customer_features does)",
    )


def _numeric(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64]:
    """Return a column as float64 (NaN for missing values), whatever its dtype."""
    try:
        return np.asarray(frame[column].to_numpy(dtype="float64", na_value=np.nan))
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"column {column!r} is not numeric (dtype {frame[column].dtype}): {exc}",
            where="customer features",
            hint=f"{column} must hold numbers",
        ) from exc


def _check_finite(ids: pd.Series, values: dict[str, npt.NDArray[np.float64]]) -> None:
    """Refuse NaN or infinite features, naming the first customers and the columns."""
    problems = []
    for column, array in values.items():
        bad = ~np.isfinite(array)
        if bad.any():
            shown = ", ".join(repr(i) for i in ids.to_numpy()[bad][:_SHOW])
            more = " ..." if bad.sum() > _SHOW else ""
            problems.append(f"{column}: {int(bad.sum())} customer(s), e.g. {shown}{more}")
    if problems:
        raise NotEnoughData(
            "cannot score customers with a missing, NaN or infinite value; " + "; ".join(problems),
            where="customer features",
            hint="fix the order rows of these customers (dates, amounts) or leave the "
            "customers out before scoring",
        )


def _quintile_scores(
    key: npt.NDArray[np.float64], groups: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Score ``key`` (larger is better) 1-5 within each group by the module's tie rule.

    Returns the scores in row order and, per group, whether it has a single distinct
    value (those rows get ``NEUTRAL_SCORE``).
    """
    n = len(key)
    # Ties are found as runs after sorting, so an unstable (SIMD) sort is fine. Several
    # dates: sort by value, then stably by date (a radix sort for small group codes).
    order = np.argsort(key)
    if len(sizes) > 1:
        small = groups.astype(np.int16) if len(sizes) < 2**15 else groups
        order = order[np.argsort(small[order], kind="stable")]
    k, g = key[order], groups[order]
    position = np.arange(n, dtype=np.int64)
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(g[1:], g[:-1], out=new_group[1:])
    new_run = new_group.copy()
    new_run[1:] |= k[1:] != k[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    run_start = np.maximum.accumulate(np.where(new_run, position, 0))
    below = run_start - group_start
    size = sizes[g]
    distinct = np.bincount(g, weights=new_run, minlength=len(sizes)).astype(np.int64)
    single_valued = distinct == 1
    scores_sorted = np.minimum(5, 1 + (5 * below) // np.maximum(size - 1, 1))
    scores_sorted[single_valued[g]] = NEUTRAL_SCORE
    scores = np.empty(n, dtype=np.int64)
    scores[order] = scores_sorted
    return scores, single_valued


def _small_group_notes(sizes: npt.NDArray[np.int64], labels: list[Any]) -> list[str]:
    """Describe dates with fewer than ``MIN_CUSTOMERS`` customers."""
    small = np.flatnonzero(sizes < MIN_CUSTOMERS)
    if len(small) == 0:
        return []
    first = int(small[0])
    count = int(sizes[first])
    others = f" (and {len(small) - 1} more as_of dates)" if len(small) > 1 else ""
    if count == 1:
        return [
            f"only one customer{_where(labels[first])}{others}: there is no one to compare "
            f"with, so it gets {NEUTRAL_SCORE} on every score"
        ]
    return [
        f"only {count} customers{_where(labels[first])}{others}: quintile scores need at "
        f"least {MIN_CUSTOMERS} customers to use all five levels"
    ]


def _single_value_note(
    score: str,
    column: str,
    values: npt.NDArray[np.float64],
    groups: npt.NDArray[np.int64],
    labels: list[Any],
) -> str:
    """Describe a column where every customer (of some date) has the same value."""
    sizes = np.bincount(groups)
    lo = np.full(len(sizes), np.inf)
    hi = np.full(len(sizes), -np.inf)
    np.minimum.at(lo, groups, values)
    np.maximum.at(hi, groups, values)
    flat = np.flatnonzero((lo == hi) & (sizes > 1))
    first = int(flat[0])
    value = lo[first]
    shown = int(value) if float(value).is_integer() else value
    others = f" (and {len(flat) - 1} more as_of dates)" if len(flat) > 1 else ""
    letter = score[0].upper()
    neutral = 1 if column != "recency_days" and value <= 0 else NEUTRAL_SCORE
    return (
        f"every customer has {column} = {shown}{_where(labels[first])}{others}, so "
        f"{letter} carries no information and everyone gets {letter}{neutral}"
    )
