"""What grouping the churn factors into reasons changes in ``top_factors`` (docs/value.md).

``top_factors`` names three things per customer: three features, the largest TreeSHAP
contributions (those pointing the wanted way first: up for a customer at medium or high
risk, down for the others). Several features say one thing about a customer
(``explain.reason_of``: BTYD's P(active), orders and spend a month are one reason; the
days since the last order, the usual gap and its spread another; each category's spend
and share a third), so three features were often one reason named two or three times.
Measured on the same contributions of the churn model a scoring run explains, for every
customer:

- ``distinct reasons``: how many different reasons the three listed items name, on
  average, and the share of customers whose three items name fewer than three;
- ``covered``: the share of a customer's contributions pointing the wanted way that the
  figures the three items name carry;
- ``seconds``: putting every customer's three items in words.

Both are measured on the three factors as scoring lists them (``explain._top_factors``;
by feature, with every feature a reason of its own).

Two ways of grouping were tried. The first, run before any bar was written, summed each
reason's contributions and ranked the sums: every customer read three reasons, but the
sums net a reason's figures against each other (the last order 182 days ago raises a
CDNOW customer's risk, their 45-day usual gap lowers it more, and the timing "lowers" it
in all), and the three items carried 63 % and 59 % of the wanted-way contributions
against 72 % for three features. The second walks the features' own ranking and names
each reason once, at its largest feature, with the reason's figures pointing the same
way. Written down before it ran: the second is made if, on both shops, it names three
reasons for every customer and its items carry no less of the wanted-way contributions
than three features; otherwise ``top_factors`` stays by feature.

    python -m bench.churn_reasons          # demo shop (30 days) and CDNOW (273 days); ~4 minutes
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import report, run_step

RUNS = (("demo", "30"), ("cdnow", "273"))
TOP = 3


def _fitted(shop: str, horizon: int, folder: Path) -> tuple[Any, ...]:
    """The churn model's contributions for every customer at as_of, their feature rows
    and whether each is at risk, as ``custintel score`` would explain them."""
    from bench.cdnow import cdnow_store
    from bench.seasons import _store
    from custintel.value.examples import BTYDViews, examples
    from custintel.value.explain import _shap_values
    from custintel.value.service import (
        ValueSettings,
        apply_models,
        churn_inputs,
        fit_and_choose,
    )

    if shop == "demo":
        store = _store("demo", folder)
        last = store.last_order_date()
        assert last is not None
        as_of = date.fromordinal(last.toordinal() + 1)
    else:
        store = cdnow_store("churn-reasons")
        as_of = date(1997, 10, 1)
    with store:
        views = BTYDViews(store.con)
        final, _, _ = fit_and_choose(store, as_of, horizon, btyd=views)
        settings = ValueSettings()
        applied = apply_models(store, final, as_of, horizon, settings, btyd=views)
        current = examples(
            store.con, [(as_of, horizon)], categories=final.categories, labelled=False, btyd=views
        )
        summary, model = views.at(as_of)
    window = final.window_days or horizon
    inputs = final.classifier_inputs(churn_inputs(current, summary, model, window, horizon))
    features = list(final.features)
    values = _shap_values(final.classifier, inputs[features])
    churn = applied.scores.set_index("customer_id")["churn_probability"]
    at_risk = churn.reindex(current["customer_id"]).to_numpy(float) >= settings.risk_thresholds[0]
    return values, inputs[features].to_numpy(float), features, at_risk, str(as_of)


def _measures(
    values: np.ndarray,
    data: np.ndarray,
    features: list[str],
    at_risk: np.ndarray,
    by_reason: bool,
) -> dict[str, float]:
    """Distinct reasons among each customer's top three factors as scoring lists them,
    and the share of the wanted-way contributions their figures carry (module
    docstring)."""
    from custintel.value.explain import _top_factors, reason_of

    listed = _top_factors(values, data, features, TOP, at_risk, by_reason=by_reason)
    sign = np.where(at_risk, 1.0, -1.0)
    wanted = np.clip(values * sign[:, None], 0, None).sum(axis=1)
    distinct, carried = [], []
    for i, factors in enumerate(listed):
        distinct.append(len({reason_of(features[f.named[0]]) for f in factors}))
        named = sorted({k for f in factors for k in f.named})  # a figure counts once
        carried.append(float(np.clip(values[i, named] * sign[i], 0, None).sum()))
    share = np.divide(carried, wanted, out=np.ones_like(wanted), where=wanted > 0)
    counts = np.array(distinct)
    return {
        "distinct_reasons": float(counts.mean()),
        "fewer_than_three": float((counts < TOP).mean()),
        "covered": float(share.mean()),
    }


def step_compare(shop: str, horizon: str) -> None:
    """Both ways on ``shop``'s customers (module docstring)."""
    from custintel.value.explain import _in_words

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        values, data, features, at_risk, as_of = _fitted(shop, int(horizon), Path(folder))
    result: dict[str, Any] = {
        "shop": shop,
        "horizon": int(horizon),
        "as_of": as_of,
        "customers": len(values),
        "at_risk": float(at_risk.mean()),
    }
    for by_reason in (False, True):
        clock = time.perf_counter()
        texts = _in_words(values, data, features, TOP, at_risk, by_reason=by_reason)
        seconds = time.perf_counter() - clock
        key = "by_reason" if by_reason else "by_feature"
        result[key] = {
            **_measures(values, data, features, at_risk, by_reason),
            "seconds": seconds,
            "examples": [texts[i] for i in np.flatnonzero(at_risk)[:3]],
        }
    report(time.perf_counter() - started, **result)


def markdown(results: list[Any]) -> str:
    import os

    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores (`python -m bench.churn_reasons`).",
        "",
        "| shop | customers | top three by | distinct reasons | fewer than three | "
        "wanted-way contributions covered | seconds to word |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for m in results:
        r = m.result
        for key, name in (("by_feature", "feature"), ("by_reason", "reason")):
            f = r[key]
            lines.append(
                f"| {r['shop']} ({r['horizon']} days from {r['as_of']}) | {r['customers']:,} | "
                f"{name} | {f['distinct_reasons']:.2f} | {f['fewer_than_three']:.0%} | "
                f"{f['covered']:.0%} | {f['seconds']:.2f} |"
            )
    for m in results:
        for key in ("by_feature", "by_reason"):
            lines.append("")
            lines.append(f"{m.result['shop']}, {key}, first customers at risk:")
            lines.extend(f"- {text}" for text in m.result[key]["examples"])
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1:
        {"compare": step_compare}[sys.argv[1]](*sys.argv[2:])
        return
    results = [run_step("bench.churn_reasons", "compare", shop, h) for shop, h in RUNS]
    print(markdown(results))


if __name__ == "__main__":
    main()
