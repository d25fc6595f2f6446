"""What each score column rests on: measured, not measured, or not available, and why.

A shop with little history still gets the predictions its data supports, each labelled
with how it was measured (model, error, on how many customers over which window) and,
for the rest, a plain statement of what is missing. ``custintel score`` prints these
lines and writes them to the summary JSON (``eligibility``).

Thresholds below which a figure is flagged as rough are rules of thumb, not tests: a
validation split with fewer than ``FEW_CUSTOMERS`` customers, or fewer than
``FEW_EVENTS`` churned (or active) customers, measures little. Whether a chosen model
ranks customers better than chance is a test: the one-sided p-value of its Spearman
correlation (spend, orders) or ROC-AUC (churn) on the validation window, allowing for its
having been chosen as the best of the candidates on that same window
(``metrics.chosen_ranking_p``); from ``CHANCE_P`` up the column's status is "no better
than chance", so that a shop whose history carries no signal is told so instead of being
handed confident-looking ranks. The next order date is tested the same way against the
middle of the window for everyone, which knows nothing of the customers' timing
(``metrics.timing_p``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from custintel.features.customer import MAX_CATEGORIES, OTHER, category_slugs
from custintel.value.examples import OUTLIER_FACTOR

__all__ = [
    "AT_CHANCE",
    "CHANCE_P",
    "FEW_CUSTOMERS",
    "FEW_EVENTS",
    "Statement",
    "assess",
    "caveats_cell",
    "chance_caveats",
    "history_too_short",
]

FEW_CUSTOMERS = 200
FEW_EVENTS = 30
# A ranking whose p-value against chance is at least this could be luck.
CHANCE_P = 0.05

Status = Literal["measured", "no better than chance", "not measured", "not available"]
AT_CHANCE: Status = "no better than chance"


@dataclass(frozen=True)
class Statement:
    """One score column: its status, the model behind it, and the plain-words note."""

    output: str
    status: Status
    model: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """The statement as plain JSON-ready values."""
        return asdict(self)


def _at_chance(p_value: float | None) -> bool:
    """Whether a ranking's one-sided p-value leaves it indistinguishable from chance
    (a run stored before the p-values were kept has none and is not judged)."""
    return p_value is not None and p_value == p_value and p_value >= CHANCE_P


def _untested(p_value: float | None, unit: str) -> str:
    """What a NaN p-value means: no ranking to test (every customer got the same
    prediction, or brought the same in the window), so the amounts are measured but
    not who brings the most."""
    if p_value is None or p_value == p_value:
        return ""
    return (
        f"; its ranking could not be tested (every customer got the same prediction, or "
        f"brought the same {unit} in the window), so it does not tell who will bring the most"
    )


def _chosen_p(measured: dict[str, float], plain: str) -> float | None:
    """The chosen model's p-value against chance, allowing for its choice among the
    candidates (``chance_p``); a run stored before that was kept has the plain one."""
    return measured.get("chance_p", measured.get(plain))


def _among(candidates: dict[str, dict[str, float]], measured: dict[str, float]) -> str:
    """Says that the p-value allows for the choice, when it does."""
    return f", as the best of {len(candidates)} candidates" if "chance_p" in measured else ""


def _in_all(aggregate_error: float | None, unit: str) -> str:
    """How far the predicted total came from the actual one over the window."""
    if aggregate_error is None or aggregate_error != aggregate_error:
        return ""
    if abs(aggregate_error) < 0.005:  # "0% below" would read as a contradiction
        return f"; in all within 0.5% of the actual {unit}"
    side = "below" if aggregate_error < 0 else "above"
    return f"; in all {abs(aggregate_error):.0%} {side} the actual {unit}"


def _customers(count: float) -> str:
    """``"1 customer"``, ``"1,234 customers"``."""
    return f"{count:,.0f} customer" + ("" if round(count) == 1 else "s")


def _rough(customers: float) -> str:
    if customers < FEW_CUSTOMERS:
        were = "was" if round(customers) == 1 else "were"
        return f"; only {_customers(customers)} {were} there to check it on, so treat it as rough"
    return ""


def _listed(names: Sequence[str], shown: int = 3) -> str:
    """``"a"``, ``"a and b"``, ``"a, b, c and 4 more"``: up to ``shown`` names."""
    if len(names) > shown:
        return ", ".join(names[:shown]) + f" and {len(names) - shown:,} more"
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return "".join(names)


def _tied(candidates: dict[str, dict[str, float]], words: dict[str, str] | None = None) -> str:
    """Names the candidates that the chosen one's lead over could not be told from the
    window's noise (``within_noise``, ``models.compare``): another window may choose one
    of them (``words`` says a candidate's name in words)."""
    tied = [
        (words or {}).get(n, n)
        for n, m in candidates.items()
        if m.get("within_noise") and not m.get("averaged")
    ]
    if not tied:
        return ""
    them = "it" if len(tied) == 1 else "one of them"
    return (
        f"; {_listed(tied)} did as well within the noise of this window, so another "
        f"window may choose {them}"
    )


def _model_words(candidates: dict[str, dict[str, float]], model: str) -> str:
    """The chosen model as a note names it: the mean of tied candidates
    (``models.TIES_MEAN``) by the parts marked ``averaged``."""
    parts = [name for name, measured in candidates.items() if measured.get("averaged")]
    if not parts or model in parts:
        return model
    named = _listed(parts, shown=len(parts))
    return f"the mean of {named}, which tied within the noise of this window"


def _outlying(outlying: Sequence[str], outlier_spend: float) -> str:
    """Who is outlying at as_of (``examples.outlier_spend``), and what that changes."""
    if not outlying:
        return ""
    named = _listed(outlying)
    has = "has" if len(outlying) == 1 else "have"
    return (
        f"; {_customers(len(outlying))} ({named}) {has} spent over {outlier_spend:,.2f}, "
        f"more than {OUTLIER_FACTOR:,.0f} times the median customer: their expected spend "
        "is BTYD's, from their own orders, and they are left out of this measure and of "
        "what the other candidates learn"
    )


# A next-order candidate's name as a rival is said in words, and what it stands for is
# said beside it when it is chosen (the learners' names are said as they are, as for
# every other output).
_TIMING_WORDS = {
    "midpoint": "the middle of the window",
    "usual_gap": "their usual gap",
    "btyd_rate": "BTYD's purchase rate",
}
_TIMING_MEANS = {
    "midpoint": "the middle of the window for every customer: nothing in their history "
    "timed their orders better",
    "btyd_rate": "the median day of a first order within the window at each customer's "
    "purchase rate by the BTYD model",
}


def _sold_nothing(metrics: dict[str, float] | None) -> bool:
    """Whether a category's validation figures say that nobody had bought from it, or
    did in the window: every prediction 0 and every realised spend 0 (error 0, and no
    top 10 % to measure)."""
    if not metrics:
        return False
    capture = metrics.get("top_decile_capture", float("nan"))
    return metrics.get("rmse") == 0 and capture != capture


# What ``expected_spend__other`` holds, in the words of a statement.
_OTHER_WORDS = (
    f"other: the spend on the categories past the {MAX_CATEGORIES} with the most sales, and "
    "on order lines without a category"
)


def assess(
    comparison: dict[str, dict[str, dict[str, float]]],
    chosen: dict[str, str],
    cutoffs: dict[str, Any],
    *,
    validation_customers: int,
    clv_days: int,
    categories: list[str],
    horizon_days: int | None = None,
    factors: dict[str, Any] | None = None,
    outlying: Sequence[str] = (),
    outlier_spend: float = float("inf"),
) -> list[Statement]:
    """Statements for a run whose models were chosen on a validation split (over
    ``horizon_days``, when longer than the label windows, churn says how it is carried
    there; ``factors``, ``service.factor_agreement``'s, says which model the top factors
    explain; ``outlying``, the customers past ``outlier_spend`` at as_of, whose spend is
    BTYD's)."""
    window = f"{cutoffs['validation']} to {cutoffs['validation_ends']}"
    carried = (
        f"; measured over {cutoffs['window_days']}-day windows and carried to the "
        f"{horizon_days}-day horizon by BTYD's chance of no order in the rest of it"
        if horizon_days and horizon_days > cutoffs["window_days"]
        else ""
    )
    out = []
    for target, column, unit in (
        ("spend", "expected_spend", "spend"),
        ("orders", "expected_orders", "orders"),
    ):
        model = chosen[target]
        m = comparison[target][model]
        # Customers whose spend is BTYD's whatever the model (examples.outlier_spend).
        apart = _outlying(outlying, outlier_spend) if target == "spend" else ""
        capture = m.get("top_decile_capture", float("nan"))
        if capture != capture:  # NaN: nothing to capture, the window's total is not positive
            out.append(
                Statement(
                    column,
                    "not measured",
                    model,
                    f"the customers' {unit} in {window} added up to nothing, so neither the "
                    f"amounts nor who brings the most {unit} could be checked; the "
                    "predictions rest on the earlier windows the models learnt from" + apart,
                )
            )
            continue
        base = comparison[target].get("run_rate", {}).get("rmse", float("nan"))
        p_value = _chosen_p(m, "spearman_p")
        chance = _at_chance(p_value)
        out.append(
            Statement(
                column,
                AT_CHANCE if chance else "measured",
                model,
                f"{_model_words(comparison[target], model)}: RMSE {m['rmse']:,.2f} {unit} "
                "per customer over "
                f"{cutoffs['window_days']} days ({window}), "
                + (
                    "last year's run rate itself: no model did better; "
                    if model == "run_rate"
                    else f"against {base:,.2f} for last year's run rate; "
                )
                + "the top 10 % predicted made "
                f"{m['top_decile_capture']:.0%} of the {unit}"
                + _in_all(m.get("aggregate_error"), unit)
                + (
                    f"; its ranking of customers could not be told from chance (Spearman "
                    f"{m['spearman']:.2f}, p = {p_value:.2f}{_among(comparison[target], m)}):"
                    f" it does not tell who will bring the most {unit}"
                    if chance
                    else _untested(p_value, unit)
                    + _tied(comparison[target])
                    + _rough(validation_customers)
                )
                + apart,
            )
        )
    churn = comparison["churn"][chosen["churn"]]
    churn_rate = churn.get("churn_rate", float("nan"))
    events = min(churn_rate, 1 - churn_rate) * validation_customers
    if churn["roc_auc"] != churn["roc_auc"]:  # NaN: one class only
        out.append(
            Statement(
                "churn_probability",
                "not measured",
                chosen["churn"],
                f"in {window} {'every' if churn_rate >= 0.5 else 'no'} customer churned, so "
                "the ranking of churn risk could not be checked; the probabilities are "
                "calibrated on earlier windows",
            )
        )
    else:
        p_value = _chosen_p(churn, "roc_auc_p")
        chance = _at_chance(p_value)
        if chance:
            caveat = (
                f"; that ranking could not be told from chance (p = {p_value:.2f}"
                f"{_among(comparison['churn'], churn)}):"
                " the probabilities say about how many customers may leave, not which ones,"
                " and churn_risk and the top factors do not tell which ones either"
            )
        elif events < FEW_EVENTS:
            caveat = f"; only {_customers(events)} on the rarer side, so treat it as rough"
        else:
            caveat = _rough(validation_customers)
        if not chance:
            caveat = _tied(comparison["churn"]) + caveat
        out.append(
            Statement(
                "churn_probability",
                AT_CHANCE if chance else "measured",
                chosen["churn"],
                f"{chosen['churn']}: ROC-AUC {churn['roc_auc']:.3f}, Brier {churn['brier']:.3f} "
                f"on {window} (churn rate {churn_rate:.0%})" + carried + caveat,
            )
        )
    if factors:
        out.append(_top_factors(factors, comparison["churn"], window))
    else:
        out.append(
            Statement(
                "top_factors",
                "not available",
                None,
                "no churn tree model was fitted, so there is nothing to explain: the "
                "candidates leave them out, or in every training window every customer "
                "ordered (or none did), so nothing told churners apart",
            )
        )
    out.append(
        Statement(
            "p_active",
            "not measured",
            "btyd",
            "BTYD's probability that the customer has not dropped out; no record shows "
            "that (a quiet customer may still come back), so churn_probability, the "
            "chance of no order within the horizon, is the measured figure to act on",
        )
    )
    timing = comparison.get("next_order", {})
    nxt = timing.get(chosen.get("next_order", ""), {})
    if nxt and nxt.get("customers", 0) > 0:
        others = [
            f"{measured['mae_days']:.1f} for {_TIMING_WORDS.get(name, name)}"
            for name, measured in timing.items()
            if name != chosen["next_order"]
        ]
        what = chosen["next_order"]
        if what in _TIMING_MEANS:
            what += f" ({_TIMING_MEANS[what]})"
        measured = (
            f"{what}: off by {nxt['mae_days']:.1f} days on average for "
            f"the {_customers(nxt['customers'])} who ordered in {window}"
            + (f", against {', '.join(others)}" if others else "")
        )
        timing_p = nxt.get("chance_p")
        if _at_chance(timing_p):
            rivals = sum(1 for name in timing if name != "midpoint")
            out.append(
                Statement(
                    "next_order_date",
                    AT_CHANCE,
                    chosen["next_order"],
                    f"{measured}; that lead over the middle of the window, which knows "
                    f"nothing of their timing, could not be told from chance (p = "
                    f"{timing_p:.2f}, as the best of {rivals} models): read the date as "
                    "somewhere within the horizon, not as a day to plan for",
                )
            )
        else:
            out.append(
                Statement(
                    "next_order_date",
                    "measured",
                    chosen["next_order"],
                    measured
                    + _tied(timing, _TIMING_WORDS)
                    + "; given only where churn probability is below 0.5"
                    + _rough(nxt["customers"]),
                )
            )
    else:
        out.append(
            Statement(
                "next_order_date",
                "not available",
                None,
                f"nobody ordered in {window}, so the timing of orders could not be learnt",
            )
        )
    out.append(
        Statement(
            "clv",
            "not measured",
            "btyd",
            f"BTYD's discounted spend over {clv_days} days; a {clv_days}-day value cannot "
            f"be checked on a {cutoffs['window_days']}-day window, but BTYD's spend over "
            "that window is measured as the btyd candidate of expected_spend",
        )
    )
    by_category = comparison.get("spend_by_category", {})
    split = cutoffs.get(
        "category_split", "the total split by each customer's own category shares so far"
    )
    columns = list(zip(categories, category_slugs(categories), strict=True))
    if categories:  # the spend in no named category has a column too (features.customer)
        columns.append(("the other categories", OTHER))
    for category, slug in columns:
        slug_metrics = by_category.get(slug)
        note = split + (f"; {_OTHER_WORDS}" if slug == OTHER else "")
        if slug not in (OTHER, category.lower()):  # the column's name does not say it
            note += f'; the category "{category}"'
        status: Status = "measured" if slug_metrics else "not measured"
        if slug == OTHER and _sold_nothing(slug_metrics):
            status = "not measured"
            note += (
                "; nothing was sold outside the named categories before "
                f"{cutoffs['validation_ends']}, so it is 0 for everyone"
            )
        elif slug_metrics:
            note += f"; RMSE {slug_metrics['rmse']:,.2f} on {window}"
            capture = slug_metrics.get("top_decile_capture", float("nan"))
            if capture == capture:
                note += f"; the top 10 % predicted made {capture:.0%} of its spend"
            else:  # nobody bought in the category in the window
                status = "not measured"
                note += (
                    f"; nobody bought from {category} in the window, so who spends most "
                    "on it could not be checked"
                )
            # The split is a rule whose one setting is chosen on this window from the
            # customers' realised totals, not from these measures: its plain p-value.
            if _at_chance(slug_metrics.get("spearman_p")):
                status = AT_CHANCE
                note += (
                    f"; its ranking of customers could not be told from chance (Spearman "
                    f"{slug_metrics['spearman']:.2f}, p = {slug_metrics['spearman_p']:.2f}): "
                    f"it does not tell who will spend the most on {category}"
                )
        out.append(Statement(f"expected_spend__{slug}", status, chosen["spend"], note))
    if cutoffs.get("seasons"):
        applied = bool(cutoffs.get("seasons_applied"))
        out.append(
            Statement(
                "season",
                "measured" if applied else "not available",
                None,
                str(cutoffs["seasons"])
                + (
                    "; expected_spend and expected_orders are for the horizon's months, and "
                    "the figures above were measured with it"
                    if applied
                    else ""
                ),
            )
        )
    if cutoffs.get("note"):
        out.append(Statement("all", "measured", None, str(cutoffs["note"])))
    return out


def _top_factors(
    factors: dict[str, Any], churn: dict[str, dict[str, float]], window: str
) -> Statement:
    """What the top factors explain: the explained model's own ranking on the validation
    window and, when churn_probability comes from another model, how the two rankings
    agree."""
    model, chosen = factors["model"], factors["chosen"]
    measured = churn.get(model, {})
    auc = measured.get("roc_auc", float("nan"))
    note = f"TreeSHAP values of {model}'s churn model"
    if auc == auc:
        note += f" (ROC-AUC {auc:.3f} on {window})"
    rho = factors["spearman"]
    if model == chosen:
        note += ", the model behind churn_probability"
    elif rho != rho:  # NaN: one of the two gives every customer the same probability
        note += (
            f"; churn_probability comes from {chosen}, and one of the two gives every "
            f"customer the same probability, so the factors say why {model} sees the "
            f"risk, not why {chosen} does"
        )
    else:
        note += (
            f"; churn_probability comes from {chosen}, whose ranking of the customers "
            f"agrees with {model}'s at Spearman {rho:.2f} (on "
            f"{factors['customers']:,} customers): where the two disagree, a factor says "
            f"why {model} sees the risk, not why {chosen} does"
        )
    # explain._top_factors: one factor per reason, those pointing the way of the
    # customer's risk first
    note += (
        "; each factor is one reason (features that say one thing, such as the last order "
        "and the usual gap, together); a customer at medium or high risk reads first what "
        "raises it, one at low risk what lowers it"
    )
    chance = _at_chance(_chosen_p(measured, "roc_auc_p"))
    if chance:
        note += (
            "; its ranking could not be told from chance, so the factors do not tell who will leave"
        )
    return Statement("top_factors", AT_CHANCE if chance else "measured", model, note)


def history_too_short(
    reason: str, clv_days: int, customers: int, repeat_buyers: int
) -> list[Statement]:
    """Statements for a shop whose history cannot hold out a validation window: BTYD's
    predictions only, none of them measured, what they were fitted on (``customers``,
    of whom ``repeat_buyers`` ordered more than once: BTYD learns how often and how long
    customers buy from the repeat buyers), rough below ``FEW_CUSTOMERS`` or
    ``FEW_EVENTS``, and what is missing for the rest."""
    fitted_on = f"{_customers(customers)}, of whom {repeat_buyers:,} ordered again"
    rough = (
        "; so few to learn from that the models' parameters are a guess: treat them as rough"
        if customers < FEW_CUSTOMERS or repeat_buyers < FEW_EVENTS
        else ""
    )
    unmeasured = (
        f"BTYD models fitted on all the history ({fitted_on}){rough}; not measured: {reason}"
    )
    return [
        Statement("expected_orders", "not measured", "btyd", unmeasured),
        Statement("expected_spend", "not measured", "btyd", unmeasured),
        Statement("p_active", "not measured", "btyd", unmeasured),
        Statement("clv", "not measured", "btyd", f"over {clv_days} days; {unmeasured}"),
        Statement(
            "churn_probability",
            "not available",
            None,
            f"churn probabilities are calibrated on past windows, and there are none yet: {reason}",
        ),
        Statement(
            "next_order_date",
            "not available",
            None,
            f"the timing of orders is learnt from past windows: {reason}",
        ),
    ]


def chance_caveats(summary: dict[str, Any] | None) -> list[dict[str, str]]:
    """The statements of a stored scoring run (its summary's ``eligibility``) whose
    column ranks customers no better than chance, as ``output``, ``status`` and ``note``:
    what the API, the dashboard and bulk results repeat wherever predictions are shown."""
    statements = (summary or {}).get("eligibility", [])
    return [
        {"output": s["output"], "status": s["status"], "note": s["note"]}
        for s in statements
        if isinstance(s, dict) and s.get("status") == AT_CHANCE
    ]


def caveats_cell(caveats: list[dict[str, str]]) -> str:
    """The caveats as one cell of a downloaded file, which leaves the notes behind:
    ``"churn_probability: no better than chance; top_factors: no better than chance"``,
    or ``""`` when every column is measured. Bulk results repeat it on every row, so that
    a spreadsheet or mailing list made from the file still says which columns not to
    rank by (the dashboard's at-risk download, customers.js, writes the same form)."""
    return "; ".join(f"{c['output']}: {c['status']}" for c in caveats)
