"""What the shop's season changes in the value models' validation figures (docs/value.md).

The same procedure as ``custintel score`` (``value.service.fit_and_choose``) run twice on
each shop, with and without the season (``seasonal=False``), and every spend and orders
candidate's figures on the validation window printed side by side:

- the fictional Tableau Superstore export (../shared/data/superstore: four years,
  804 customers, a fourth quarter that sells about twice the first), 90 days;
- the demo shop (`custintel demo`'s 10,000 customers, seed 42: four years with a
  Black Friday and Christmas season), 30 and 90 days.

    python -m bench.seasons          # markdown tables (about 5 minutes on 2 cores)
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.measure import ROOT, report, run_step

SUPERSTORE = ROOT.parent / "shared" / "data" / "superstore" / "Sample - Superstore.csv"
RUNS = (("superstore", 90), ("demo", 30), ("demo", 90))
MEASURES = ("rmse", "top_decile_capture", "aggregate_error")


def _store(shop: str, folder: Path) -> Any:
    """The shop synced into a store under ``folder``."""
    from custintel.data import Mapping, Store, sync
    from custintel.demo import generate_shop, write_shop

    orders = SUPERSTORE
    if shop == "demo":
        write_shop(generate_shop(customers=10_000, seed=42), folder, formats=("parquet",))
        orders = folder / "orders.parquet"
    store = Store(folder / "store.duckdb")
    sync(store, Mapping.for_files(orders=orders))
    return store


def step_compare(shop: str, horizon: str) -> None:
    """``fit_and_choose`` on ``shop`` with and without the season; the validation
    figures of each, and the season's note."""
    from custintel.value.service import fit_and_choose

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        store = _store(shop, Path(folder))
        as_of = store.last_order_date()
        assert as_of is not None
        as_of = date.fromordinal(as_of.toordinal() + 1)
        result: dict[str, Any] = {"shop": shop, "horizon": int(horizon), "as_of": str(as_of)}
        for seasonal in (False, True):
            final, comparison, plan = fit_and_choose(store, as_of, int(horizon), seasonal=seasonal)
            key = "with" if seasonal else "without"
            result[key] = {
                target: {
                    name: {m: metrics[m] for m in MEASURES}
                    for name, metrics in comparison[target].items()
                }
                for target in ("spend", "orders")
            }
            result[key]["chosen"] = {t: final.chosen[t] for t in ("spend", "orders")}
            result["validation"] = f"{plan.validation[0]} to {as_of}"
            result["seasons"] = final.seasons.note
        store.close()
    report(time.perf_counter() - started, **result)


def markdown(results: list[Any]) -> str:
    import os

    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores. Reproduce: "
        "`python -m bench.seasons`. Validation window figures, without the season → with it.",
    ]
    for m in results:
        r = m.result
        lines += [
            "",
            f"**{r['shop']}, {r['horizon']} days** (validation {r['validation']}; chosen "
            f"without: {r['without']['chosen']}, with: {r['with']['chosen']}). {r['seasons']}.",
            "",
            "| target | candidate | RMSE | top-10 % capture | aggregate |",
            "|---|---|---:|---:|---:|",
        ]
        for target in ("spend", "orders"):
            for name, before in r["without"][target].items():
                after = r["with"][target][name]
                lines.append(
                    f"| {target} | {name} | {before['rmse']:.3f} → {after['rmse']:.3f} | "
                    f"{before['top_decile_capture']:.3f} → {after['top_decile_capture']:.3f} | "
                    f"{before['aggregate_error']:+.1%} → {after['aggregate_error']:+.1%} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1:
        {"compare": step_compare}[sys.argv[1]](*sys.argv[2:])
        return
    results = [run_step("bench.seasons", "compare", shop, str(horizon)) for shop, horizon in RUNS]
    print(markdown(results))


if __name__ == "__main__":
    main()
