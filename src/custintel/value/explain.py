"""Why a customer is at risk: SHAP values of the churn trees, in plain words.

TreeSHAP (LightGBM's own ``pred_contrib`` for the LightGBM model, the ``shap`` package
for other trees) splits each customer's churn score (log-odds of the
gradient-boosting churn model) into one contribution per feature. Features that say one
thing about the customer (the days since the last order and the usual gap; BTYD's three
outputs; the spend in each category and its share) are one reason, named once, at its
largest feature. Three reasons, with their direction, become ``top_factors``: "last
order 94 days ago, usual gap between orders 31 days (raises churn risk); ...". For a
customer at risk, the largest of the contributions that raise the risk come first; for
one not at risk, the largest that lower it; the largest of the others fill the list.
The mean absolute contribution per feature is the global importance.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from custintel.value.distinct import distinct_rows

__all__ = ["describe", "explain_churn"]

_WINDOW = re.compile(r"(orders|spend)_(\d+)d$")
_PHRASES = {
    "recency_days": "last order {v:.0f} days ago",
    "ipi_mean_days": "usual gap between orders {v:.0f} days",
    "ipi_std_days": "gaps between orders vary by {v:.0f} days",
    "recency_vs_usual": "{v:.1f}× their usual gap since the last order",
    "frequency": "{v:.0f} orders so far",
    "purchase_days": "bought on {v:.0f} days so far",
    "monetary_mean": "{v:,.2f} per order on average",
    "tenure_days": "customer for {v:.0f} days",
    "refund_count": "{v:.0f} refunds",
    "refund_amount": "refunds of {v:,.2f} so far",
    "cancelled_count": "{v:.0f} cancelled orders",
    "order_value_max": "largest order {v:,.2f}",
    "order_value_std": "order values vary by {v:,.2f}",
    "distinct_products": "{v:.0f} different products bought",
    "distinct_categories": "bought in {v:.0f} categories",
    "distinct_stores": "bought in {v:.0f} stores",
    "weekend_share": "{v:.0%} of purchase days at the weekend",
    "avg_basket_lines": "{v:.1f} lines per order on average",
    "btyd_p_alive": "P(active) {v:.0%}",
}


# BTYD's rates are per day of the horizon; a month reads without a decimal pile-up, and
# a month's rate under MONTHLY_FLOOR as "under 0.01" (not 8.4e-06, nor a spend of 0.00).
def _count(value: float) -> str:
    """Two significant digits below 10 (0.49, 2.2), whole numbers above (1,250), never
    e-notation."""
    return f"{value:.2g}" if value < 10 else f"{value:,.0f}"


_MONTHLY = {
    "btyd_orders_rate": (_count, "{} expected orders a month"),
    "btyd_spend_rate": ("{:,.2f}".format, "{} expected spend a month"),
}
MONTHLY_FLOOR = 0.01

# What a missing value means, where it has one: the gap features need two purchase days
# (a customer with none or one has made no repeat purchase), the order values and shares
# a completed purchase (a customer with only cancelled or refunded orders has none),
# BTYD a purchase history. Features missing for one reason share its words, and a
# customer's factors name each reason once (_in_words).
_NO_REPEAT = "no repeat purchase yet"
_NO_PURCHASE = "no completed purchase yet"
_MISSING = {
    "ipi_mean_days": _NO_REPEAT,
    "ipi_std_days": _NO_REPEAT,
    "recency_vs_usual": _NO_REPEAT,
    **dict.fromkeys(
        (
            "monetary_mean",
            "order_value_max",
            "order_value_std",
            "weekend_share",
            "avg_basket_lines",
            "btyd_p_alive",
            "btyd_orders_rate",
            "btyd_spend_rate",
        ),
        _NO_PURCHASE,
    ),
}


# A count or amount of exactly 0 reads as "no ...", not "0 refunds" or "spent 0.00"; a
# reason's figures that read alike at 0 are said once ("no refunds", "no orders so far").
_NONE = {
    "frequency": "no orders so far",
    "purchase_days": "no orders so far",
    "refund_count": "no refunds",
    "refund_amount": "no refunds",
    "cancelled_count": "no cancelled orders",
    "distinct_products": "no product bought",
    "distinct_categories": "no category bought",
    "distinct_stores": "no store bought from",
}
# Money that refunds can take below 0, and where it was spent: "spent -31.99 in the last
# 90 days" reads as "refunded 31.99 more than spent in the last 90 days".
_NET_MONEY = {"monetary": "so far", "repeat_spend": "after the first purchase day"}

# Figures whose 0 stands for something another figure of the row says plainly: the spread
# of order values of a single order, of the gaps of two purchase days, the trend of two
# empty 90-day windows. Each such 0 is read beside that other figure (_figure's context).
_CONTEXT = {
    "order_value_std": ("frequency", 1.0, "a single order so far"),
    "ipi_std_days": ("purchase_days", 2.0, "a single gap between orders so far"),
    "trend_90d": ("spend_90d", 0.0, "no spend in the last 180 days"),
}


def _money(value: float, where: str) -> str:
    """An amount spent ``where`` ("in the last 90 days", "on beauty"), net of refunds."""
    if value == 0:
        return f"no spend {where}"
    if value < 0:
        return f"refunded {-value:,.2f} more than spent {where}"
    return f"spent {value:,.2f} {where}"


def _trend_in_words(value: float) -> str:
    """``trend_90d`` is (S1 - S0) / (|S1| + |S0|) for the spend of the last 90 days (S1)
    and the 90 before (S0), docs/features.md."""
    if value > 0:
        return f"spent more in the last 90 days than in the 90 before (trend {value:+.2f})"
    if value < 0:
        return f"spent less in the last 90 days than in the 90 before (trend {value:+.2f})"
    return "spent as much in the last 90 days as in the 90 before"


# Which reason each feature tells (the others tell one of their own), and the words
# said once after a reason's figures. BTYD's P(active), orders and spend a month are one
# model's view, and listed apart they filled all three places of many lapsed customers.
_REASON_OF = {
    **dict.fromkeys(
        ("recency_days", "recency_vs_usual", "ipi_mean_days", "ipi_std_days", "tenure_days"),
        "timing",
    ),
    **dict.fromkeys(("btyd_p_alive", "btyd_orders_rate", "btyd_spend_rate"), "btyd"),
    **dict.fromkeys(("frequency", "purchase_days"), "orders"),
    **dict.fromkeys(("monetary", "repeat_spend", "trend_90d"), "spend"),
    **dict.fromkeys(
        ("monetary_mean", "order_value_max", "order_value_std", "avg_basket_lines"), "order size"
    ),
    **dict.fromkeys(("refund_count", "refund_amount", "cancelled_count"), "returns"),
    "distinct_categories": "categories",
}
_REASON_TAIL = {"btyd": " by the BTYD model"}
# Figures said first whenever their reason is named, as the issue's "last order 94 days
# ago, usual gap 31 days"; the gap as a multiple of the usual one is what they imply.
_LEAD = ("recency_days", "ipi_mean_days")
_LEAD_IMPLIES = ("recency_vs_usual",)
# A figure the lead says when the two are equal: the first order of a customer who
# bought on one day only was their last ("last order 509 days ago, no repeat purchase
# yet" needs no "customer for 509 days", which filled the third place of half of
# CDNOW's customers' factors when tenure was a reason of its own).
_SAME_AS_LEAD = {"tenure_days": "recency_days"}
# Figures of one reason said at most: the largest contributions pointing its way.
_FIGURES_PER_REASON = 2


def reason_of(feature: str) -> str:
    """The reason ``feature`` tells: "orders" for the order counts (``orders_90d`` too),
    "categories" for each category's spend and share, the feature itself for one that
    tells its own."""
    window = _WINDOW.match(feature)
    if window:
        return window.group(1)
    if feature.startswith(("share__", "spend__")):
        return "categories"
    return _REASON_OF.get(feature, feature)


# Places of the features' ranking read per factor in one pass, to pass over the later
# features of a reason already named and words already said.
_PLACES_PER_FACTOR = 3

# A count that reads as exactly 1 takes the singular: "1 day ago", "1 order so far".
_SINGULAR = {
    "days": "day",
    "orders": "order",
    "refunds": "refund",
    "expected orders": "expected order",
    "cancelled orders": "cancelled order",
    "different products": "different product",
    "stores": "store",
    "categories": "category",
}
_ONE = re.compile(r"(?<![\d.,])1 (" + "|".join(_SINGULAR) + r")\b")


def describe(feature: str, value: float, context: float | None = None) -> str:
    """One feature's value in words a marketer reads without a glossary. ``context`` is
    the row's value of the figure a 0 of ``feature`` stands for (``_CONTEXT``), where it
    has one: an ``order_value_std`` of 0 with one order reads "a single order so far"."""
    return _joined([_figure(feature, value, context)], reason_of(feature), not _missing(value))


def _missing(value: float | None) -> bool:
    return value is None or value != value  # NaN is the one value unequal to itself


def _figure(feature: str, value: float, context: float | None = None) -> str:
    """One feature's value in words, without its reason's tail; ``context`` as in
    :func:`describe`."""
    if _missing(value):
        if feature.startswith(("share__", "spend__")):  # a category of no sale spend
            return _NO_PURCHASE
        return _MISSING.get(feature, f"no {feature.replace('_', ' ')} yet")
    if value == 0 and feature in _CONTEXT:
        _, stands_for, words = _CONTEXT[feature]
        if context == stands_for:
            return words
    text = _in_phrase(feature, value)
    return _ONE.sub(lambda m: "1 " + _SINGULAR[m.group(1)], text) if "1 " in text else text


def _joined(words: list[str], reason: str, known: bool) -> str:
    """One reason in words: its figures' words (largest contribution first), each said
    once, then the reason's tail ("by the BTYD model") where a figure has a value."""
    return ", ".join(dict.fromkeys(words)) + (_REASON_TAIL.get(reason, "") if known else "")


def _in_phrase(feature: str, value: float) -> str:
    if feature == "trend_90d":
        return _trend_in_words(value)
    if value == 0 and feature in _NONE:
        return _NONE[feature]
    if feature in _NET_MONEY:
        return _money(value, _NET_MONEY[feature])
    if feature in _PHRASES:
        return _PHRASES[feature].format(v=value)
    if feature in _MONTHLY:
        number, phrase = _MONTHLY[feature]
        month = value * 30
        return phrase.format(
            f"under {MONTHLY_FLOOR}" if 0 < month < MONTHLY_FLOOR else number(month)
        )
    window = _WINDOW.match(feature)
    if window:
        what, days = window.groups()
        if what == "orders":
            return (
                f"{value:.0f} orders in the last {days} days"
                if value
                else f"no orders in the last {days} days"
            )
        return _money(value, f"in the last {days} days")
    if feature.startswith("share__"):
        category = feature.removeprefix("share__")
        return f"{value:.0%} of spend on {category}" if value else f"no spend on {category}"
    if feature.startswith("spend__"):
        return _money(value, f"on {feature.removeprefix('spend__')}")
    return f"{feature.replace('_', ' ')} {value:,.3g}"


# From this many rows TreeSHAP by split pattern (below) beats LightGBM's pred_contrib on
# every row: about 0.4 s against 0.3 s at 1,000 rows of a 300-tree model, 0.8 against
# 2.9 s at 10,000 (docs/performance.md).
PATTERN_ROWS = 2_000
# Bits per split in a pattern key (see _split_patterns); a key is one 64-bit integer.
_BITS_PER_SPLIT = 3
# LightGBM treats values this close to 0 as zero (kZeroThreshold).
_ZERO = 1e-35


def _shap_values(classifier: Any, inputs: pd.DataFrame) -> np.ndarray:
    """SHAP values of the churn class, one row per customer and column per feature.

    LightGBM computes TreeSHAP itself (``pred_contrib``, the same algorithm as the shap
    package, on every core), by split pattern from ``PATTERN_ROWS`` rows
    (:func:`_lightgbm_by_pattern`): at 1M customers that is many times faster than
    shap's single-threaded explainer, which serves the other tree models.
    """
    import lightgbm as lgb

    from custintel.value.persist import SavedLightGBM

    if isinstance(classifier, lgb.LGBMModel | SavedLightGBM):
        booster = (
            classifier.booster if isinstance(classifier, SavedLightGBM) else classifier.booster_
        )
        if len(inputs) >= PATTERN_ROWS:
            contributions = _lightgbm_by_pattern(booster, inputs)
        else:
            contributions = np.asarray(booster.predict(inputs, pred_contrib=True), float)
        return contributions[:, :-1]  # the last column is the base value
    with warnings.catch_warnings():
        # shap's import trips matplotlib deprecation notes; not ours to act on.
        warnings.simplefilter("ignore")
        import shap

        values = shap.TreeExplainer(classifier).shap_values(inputs)
    if isinstance(values, list):  # older shap: one array per class
        values = values[1]
    values = np.asarray(values, float)
    return values[:, :, 1] if values.ndim == 3 else values


def _lightgbm_by_pattern(booster: Any, inputs: pd.DataFrame) -> np.ndarray:
    """LightGBM's ``pred_contrib`` for every row of ``inputs`` (the contributions and the
    base value), computed once per split pattern of each tree.

    Why by hand: a tree's TreeSHAP values depend on a row only through the side of each
    of the tree's splits it falls on, so rows that agree at every split share them. A
    15-leaf tree sees about a thousand such patterns among 100,000 customers, so each tree
    is explained by LightGBM on one row per pattern (``start_iteration``, one tree at a
    time) and the values are summed over the trees: the same numbers as ``pred_contrib``
    on every row (tested), about 6 times faster at 100,000 rows. Neither LightGBM nor
    the shap package does this, and fasttreeshap (a faster TreeSHAP) ships only sources
    to compile against the NumPy of its time. Models with categorical features, or with
    too many splits a tree for one key, are explained row by row.
    """
    splits = booster.trees_to_dataframe()
    splits = splits[splits["split_feature"].notna()]
    too_many = splits.groupby("tree_index").size().max() * _BITS_PER_SPLIT > 63
    numeric = all(pd.api.types.is_numeric_dtype(kind) for kind in inputs.dtypes)
    if too_many or not numeric or (splits["decision_type"] != "<=").any():
        return np.asarray(booster.predict(inputs, pred_contrib=True), float)
    data = inputs.to_numpy(float)
    rows, width = data.shape
    column = {name: i for i, name in enumerate(booster.feature_name())}
    out = np.zeros((width + 1, rows))  # one row per feature and the base value
    for tree, nodes in splits.groupby("tree_index", sort=True):
        used = [column[name] for name in nodes["split_feature"]]
        codes, first = _split_patterns(data, used, nodes["threshold"].to_numpy(float))
        part = booster.predict(
            data[first], pred_contrib=True, start_iteration=int(tree), num_iteration=1
        )
        for j in (*sorted(set(used)), width):
            out[j] += part[codes, j]
    return out.T


def _split_patterns(
    data: np.ndarray, columns: list[int], thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's split pattern in one tree, as a code (0, 1, ...), and the first row of
    each code. A split contributes three bits: value at most the threshold, missing, and
    zero (LightGBM can send missing or zero values either way, whatever the threshold), so
    rows with one code take the same side of every split."""
    key = np.zeros(len(data), np.int64)
    for position, (j, threshold) in enumerate(zip(columns, thresholds, strict=True)):
        values = data[:, j]
        bits = (
            (values <= threshold) | (np.isnan(values) << 1) | ((np.abs(values) <= _ZERO) << 2)
        ).astype(np.int64)
        key |= bits << (_BITS_PER_SPLIT * position)
    return distinct_rows(key)


def _windows(features: list[str]) -> dict[int, tuple[str, int]]:
    """The window features' indices, each with its kind and days: ``orders_90d`` is
    ("orders", 90)."""
    return {
        k: (window.group(1), int(window.group(2)))
        for k, feature in enumerate(features)
        if (window := _WINDOW.match(feature))
    }


def _shorter_empty_windows(
    figures: list[tuple[int, float]], windows: dict[int, tuple[str, int]]
) -> set[int]:
    """Of (feature index, value) figures, the windows (:func:`_windows`) at 0 inside a
    longer window of the same kind at 0: "no orders in the last 365 days" says the last
    90 days' too."""
    empty = [windows[k] + (k,) for k, value in figures if value == 0 and k in windows]
    if len(empty) < 2:
        return set()
    longest: dict[str, int] = {}
    for kind, days, _ in empty:
        longest[kind] = max(longest.get(kind, 0), days)
    return {k for kind, days, k in empty if days < longest[kind]}


def _reasons(features: list[str], by_reason: bool = True) -> list[list[int]]:
    """The feature indices of each reason (:func:`reason_of`), in the order the reasons
    first appear; with ``by_reason=False`` every feature is a reason of its own."""
    if not by_reason:
        return [[j] for j in range(len(features))]
    members: dict[str, list[int]] = {}
    for j, feature in enumerate(features):
        members.setdefault(reason_of(feature), []).append(j)
    return list(members.values())


# A figure's words depend on its feature, its value (every NaN alike) and, for a 0 of a
# _CONTEXT feature, the row's value of the figure that 0 stands for.
_Key = tuple[int, float | None, float | None]


class Factor(NamedTuple):
    """One of a customer's top factors: a reason in words, which way it points, and the
    features whose values the words name: those they put in figures, then those the
    figures say without naming them (the tenure of a customer who bought on one day,
    which "last order 509 days ago, no repeat purchase yet" says)."""

    words: str
    raises: bool
    named: tuple[int, ...]


def _top_factors(
    values: np.ndarray,
    data: np.ndarray,
    features: list[str],
    top: int,
    at_risk: np.ndarray | None = None,
    *,
    by_reason: bool = True,
) -> list[list[Factor]]:
    """Each row's ``top`` factors, one per reason (:func:`reason_of`; ``by_reason=False``
    makes every feature a reason, for measuring what the grouping changes).

    The features are ranked by their contributions, the largest first or, with
    ``at_risk``, the largest of those that raise the risk first in a row at risk (those
    that lower it in the others), then the largest of the rest. Down that ranking, a
    reason is named at its first feature, with that feature's direction; its words name
    the reason's lead figures (the last order and the usual gap: "last order 94 days ago,
    usual gap between orders 31 days"), then that feature and the reason's next largest
    pointing the same way among the places of the ranking read, ``_FIGURES_PER_REASON``
    at most, those the lead says already left out. Its later features are passed over,
    as is a reason whose words an earlier factor already said (shares and order values
    missing for one reason all read "no completed purchase yet").

    Why the direction comes first: a valuable customer at 60 % churn risk in a shop
    where 90 % of customers order nothing in the horizon is less at risk than most, so
    their largest contributions all lower the risk (many orders a month, a recent
    order); listed by size alone, the at-risk table said why they might stay and never
    why they might leave. Credit scoring's reason codes list a declined applicant's
    adverse factors the same way. Why a reason is named at its largest feature rather
    than ranked by its features' sum: a sum nets a reason's figures against each other
    (a late last order against a long usual gap), and the three reasons so ranked
    carried less of what pushes a customer the wanted way than three features
    (bench/churn_reasons.py).

    Each distinct (feature, value) is put in words once: among the 100,000 customers
    explained at a time many share a recency or an order count, and describing every
    factor anew took 6 of a 1M-customer scoring run's 64 s (docs/performance.md)."""
    reasons = _reasons(features, by_reason)
    reason_of_feature = [0] * len(features)
    for r, members in enumerate(reasons):
        for j in members:
            reason_of_feature[j] = r
    names = [reason_of(features[members[0]]) for members in reasons]
    leads = [[j for name in _LEAD for j in members if features[j] == name] for members in reasons]
    unsaid = [
        set(lead) | {j for j in members if lead and features[j] in _LEAD_IMPLIES}
        for members, lead in zip(reasons, leads, strict=True)
    ]
    size = np.abs(values)
    if at_risk is not None:
        wanted = np.where(np.asarray(at_risk, bool)[:, None], values > 0, values < 0)
        # Every contribution pointing the wanted way ranks above every other.
        size = size + wanted * (size.max(initial=0.0) + 1.0)
    ranked = np.argsort(-size, axis=1, kind="stable")
    words: dict[_Key, str] = {}
    alone: dict[_Key, str] = {}
    # The row's value of the figure a 0 of these features stands for (_CONTEXT).
    column = {name: k for k, name in enumerate(features)}
    stood_for = {
        k: column[_CONTEXT[name][0]]
        for k, name in enumerate(features)
        if name in _CONTEXT and _CONTEXT[name][0] in column
    }
    context_values = {k: data[:, c].tolist() for k, c in stood_for.items()}

    def key_of(i: int, k: int, value: float) -> _Key:
        context = context_values[k][i] if k in context_values and value == 0 else None
        return (k, value if value == value else None, context)  # every NaN is one key

    def says_other(i: int, k: int, value: float) -> bool:
        """Whether feature ``k``'s ``value`` in row ``i`` reads as the figure it stands
        for (_CONTEXT), which then need not be said beside it."""
        return (
            value == 0 and k in context_values and context_values[k][i] == _CONTEXT[features[k]][1]
        )

    def figure(i: int, k: int, value: float) -> str:
        key = key_of(i, k, value)
        text = words.get(key)
        if text is None:
            text = words[key] = _figure(features[k], value, key[2])
        return text

    single = [len(members) == 1 for members in reasons]
    windows = _windows(features)
    # The lead figures' values, said whatever their place in a row's ranking.
    lead_values = {j: data[:, j].tolist() for lead in leads for j in lead}
    # The features the lead says when equal to it (_SAME_AS_LEAD), and whether they are,
    # per row.
    said_by_lead = {
        k: [a == b for a, b in zip(data[:, k].tolist(), lead_values[lead], strict=True)]
        for k, name in enumerate(features)
        if name in _SAME_AS_LEAD and (lead := column.get(_SAME_AS_LEAD[name])) in lead_values
    }
    lead_says = [
        [k for k in said_by_lead if reason_of_feature[k] == r] for r in range(len(reasons))
    ]

    def walk(i: int, picks: list[int], row: list[float], row_data: list[float]) -> list[Factor]:
        """Row ``i``'s factors down its ranked features ``picks`` (``row`` and
        ``row_data``: their contributions and values, in that order)."""
        reason = [reason_of_feature[j] for j in picks]
        named_reasons: set[int] = set()
        said: set[str] = set()
        factors: list[Factor] = []
        for p, j in enumerate(picks):
            r = reason[p]
            if r in named_reasons:
                continue
            named_reasons.add(r)
            raises = row[p] > 0
            if single[r]:  # most reasons: one feature, its words kept by value
                key = key_of(i, j, row_data[p])
                phrase = alone.get(key)
                if phrase is None:
                    phrase = alone[key] = describe(features[j], row_data[p], key[2])
                named = [j]
            else:
                # j and the reason's next features down the ranking pointing its way:
                # the largest of them, as the ranking puts each way's largest first
                same_way = [
                    q
                    for q in range(p, len(picks))
                    if reason[q] == r
                    and picks[q] not in unsaid[r]
                    and (row[q] > 0) == raises
                    and not (picks[q] in said_by_lead and said_by_lead[picks[q]][i])
                ][:_FIGURES_PER_REASON]
                worded = leads[r] + [picks[q] for q in same_way]
                shown = [lead_values[k][i] for k in leads[r]] + [row_data[q] for q in same_way]
                if not worded:  # the lead's own ratio, with no lead to say it
                    worded, shown = [j], [row_data[p]]
                pairs = list(zip(worded, shown, strict=True))
                # Figures the words say without naming them: "no spend in the last 180
                # days" says the last 90 days' 0, "no repeat purchase yet" the tenure.
                implied = {k for k in lead_says[r] if said_by_lead[k][i]}
                if any(v == 0 for _, v in pairs):
                    implied |= {stood_for[k] for k, v in pairs if says_other(i, k, v)}
                    implied |= _shorter_empty_windows(pairs, windows)
                if implied:
                    pairs = [(k, v) for k, v in pairs if k not in implied]
                phrase = _joined(
                    [figure(i, k, v) for k, v in pairs],
                    names[r],
                    any(v == v for _, v in pairs),
                )
                named = [k for k, _ in pairs] + sorted(implied)
            if phrase in said:
                continue
            said.add(phrase)
            factors.append(Factor(phrase, raises, tuple(named)))
            if len(factors) == top:
                break
        return factors

    # A few places per reason pass over most repeats; a row that still falls short (a
    # customer with no purchase, whose many missing figures all read alike) reads its
    # whole ranking. Only the places read are gathered into lists.
    places = min(top * _PLACES_PER_FACTOR, len(features))
    wanted_parts = min(top, len(reasons))
    order = ranked[:, :places]
    at = np.arange(len(values))[:, None]
    listed = []
    rows = zip(order.tolist(), values[at, order].tolist(), data[at, order].tolist(), strict=True)
    for i, (picks, row, row_data) in enumerate(rows):
        factors = walk(i, picks, row, row_data)
        if len(factors) < wanted_parts and places < len(features):
            whole = ranked[i]
            factors = walk(i, whole.tolist(), values[i, whole].tolist(), data[i, whole].tolist())
        listed.append(factors)
    return listed


def _in_words(
    values: np.ndarray,
    data: np.ndarray,
    features: list[str],
    top: int,
    at_risk: np.ndarray | None = None,
    *,
    by_reason: bool = True,
) -> list[str]:
    """Each row's ``top`` factors (:func:`_top_factors`) as "<reason in words> (raises
    churn risk)", joined by semicolons."""
    return [
        "; ".join(f"{f.words} ({'raises' if f.raises else 'lowers'} churn risk)" for f in row)
        for row in _top_factors(values, data, features, top, at_risk, by_reason=by_reason)
    ]


def explain_churn(
    classifier: Any,
    frame: pd.DataFrame,
    features: list[str],
    top: int = 3,
    *,
    priority: np.ndarray | None = None,
    limit: int | None = None,
    importance_rows: int = 10_000,
    seed: int = 0,
    at_risk: np.ndarray | None = None,
) -> tuple[list[str | None], dict[str, float]]:
    """Per row of ``frame``, its ``top`` churn factors in words; and the global
    importance (mean |SHAP| per feature, largest first). Without a ``classifier``, None
    for every row and no importance.

    ``at_risk`` (one bool per row) says which way each row's factors should point: the
    contributions that raise churn risk first for a row at risk, those that lower it
    for the others, each group largest first (:func:`_in_words`). Without it, the
    largest contributions whichever way they point.

    TreeSHAP costs about 0.045 ms a row for a 300-tree model on 2 cores by split pattern
    (0.29 ms row by row; docs/performance.md), so with more rows than ``limit`` only
    the ``limit`` rows of highest ``priority`` are explained (the rest get None; their
    feature rows are explained when sent to the API, ``value/rows.py``), and the global
    importance comes from a uniform sample of ``importance_rows`` rows, so that it
    describes every customer, not only the chosen.
    """
    rows = len(frame)
    if classifier is None:  # no churn learner was fitted (models.fit_churn): no factors
        return [None] * rows, {}
    data = frame[features]
    if limit is None or rows <= limit:
        values = _shap_values(classifier, data)
        texts: list[str | None] = list(
            _in_words(values, data.to_numpy(float), features, top, at_risk)
        )
        spread = values
    else:
        if priority is None:
            raise ValueError("explain_churn needs a priority to choose the rows to explain")
        chosen = np.argsort(-np.asarray(priority, float), kind="stable")[:limit]
        sample = np.random.default_rng(seed).choice(rows, min(rows, importance_rows), replace=False)
        # One TreeSHAP pass over both sets of rows: each pass reads every tree's splits.
        both = np.concatenate([chosen, np.sort(sample)])
        values = _shap_values(classifier, data.iloc[both])
        picked = values[:limit]
        toward = None if at_risk is None else np.asarray(at_risk, bool)[chosen]
        words = _in_words(picked, data.iloc[chosen].to_numpy(float), features, top, toward)
        texts = [None] * rows
        for row, text in zip(chosen, words, strict=True):
            texts[row] = text
        spread = values[limit:]
    importance = pd.Series(np.abs(spread).mean(axis=0), index=features).sort_values(ascending=False)
    return texts, {str(k): float(v) for k, v in importance.items()}
