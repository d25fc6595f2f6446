"""Customer-value accuracy on CDNOW (docs/accuracy.md).

The classic split: 39 weeks of calibration (orders up to 1997-09-30) and a 39-week holdout
(1997-10-01 to 1998-06-30), all 23,570 customers. Every candidate sees only the
calibration period; custintel's own procedure (``value.service.fit_and_choose``, as
``custintel score`` runs it) plans the cutoffs inside it, fits, and chooses per target
on its validation cutoff; all candidates are then scored on the holdout, in the same run.

    python -m bench.value accuracy          # prints JSON
    python -m bench.value all               # prints the markdown table
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

import numpy as np

from bench.measure import ROOT, Measurement, report, run_step

DATA = ROOT.parent / "shared" / "data"
AS_OF = date(1997, 10, 1)
HORIZON = 273  # 39 weeks: 1997-10-01 to 1998-06-30


def accuracy() -> dict[str, object]:
    from custintel.config import Settings
    from custintel.services import mapping_from_options, open_data
    from custintel.value.examples import examples
    from custintel.value.labels import labels
    from custintel.value.metrics import churn_metrics
    from custintel.value.service import fit_and_choose

    settings = Settings(home=ROOT / "bench" / "results" / "value-cdnow")
    mapping = mapping_from_options(orders=DATA / "cdnow" / "CDNOW_master.txt")
    store, _ = open_data(settings, mapping)
    started = time.perf_counter()
    with store:
        con = store.con
        final, choice, plan = fit_and_choose(store, AS_OF, HORIZON)
        scoring = examples(con, [(AS_OF, HORIZON)], labelled=False)
        truth = labels(con, [AS_OF], HORIZON).set_index("customer_id")
    scoring = scoring.set_index("customer_id").join(truth[["spend", "orders", "churned"]])
    holdout: dict[str, dict[str, dict[str, float]]] = {}
    from custintel.value.metrics import spend_metrics

    for target in ("spend", "orders"):
        actual = scoring[target].to_numpy(float)
        predictions = final.predict(scoring.reset_index(), target, HORIZON)
        holdout[target] = {n: spend_metrics(actual, p) for n, p in predictions.items()}
    churned = scoring["churned"].to_numpy(bool)
    churn = final.predict(scoring.reset_index(), "churn", HORIZON)
    holdout["churn"] = {n: churn_metrics(churned, p) for n, p in churn.items()}
    # Churn ranked by expected orders, as the reference figures are.
    for name, predicted in final.predict(scoring.reset_index(), "orders", HORIZON).items():
        holdout["churn"].setdefault(f"{name} (by expected orders)", {})["roc_auc"] = float(
            churn_metrics(churned, -np.asarray(predicted))["roc_auc"]
        )
    return {
        "customers": len(scoring),
        "fit_seconds": time.perf_counter() - started,
        "chosen": final.chosen,
        "validation": choice,
        "plan": {
            "train": [(c.isoformat(), w) for c, w in plan.train],
            "calibration": [plan.calibration[0].isoformat(), plan.calibration[1]],
            "validation": [plan.validation[0].isoformat(), plan.validation[1]],
        },
        "holdout": holdout,
    }


def step_accuracy() -> None:
    started = time.perf_counter()
    result = accuracy()
    report(time.perf_counter() - started, **result)


STEPS = {"accuracy": step_accuracy}


def markdown(m: Measurement) -> str:
    r = m.result
    holdout = r["holdout"]
    lines = [
        f"CDNOW, {r['customers']:,} customers, holdout 1997-10-01 to 1998-06-30; "
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
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", *STEPS])
    options = parser.parse_args()
    if options.step != "all":
        STEPS[options.step]()
        return
    m = run_step("bench.value", "accuracy")
    print(markdown(m))
    print(json.dumps(m.result, indent=1, default=str))


if __name__ == "__main__":
    main()
