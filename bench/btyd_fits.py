"""Eight fits of each BTYD model, as a scoring run makes at its cutoffs: PyMC-Marketing's
``fit(method="map")``, which compiles the model for every fit (the naive way), against
``value/btyd_map.py``, which compiles the library's model once per process.

The models: BG/NBD with flat priors (the maximum likelihood fit every shop gets),
BG/NBD with the library's default priors (what a shop gets whose maximum likelihood fit
is degenerate) and Gamma-Gamma (on the customers with repeats). Each way runs in a
fresh process (``bench.measure.run_step``), with PyTensor's compile cache as it is
("warm") and with an empty one ("cold", a machine that has never compiled these graphs,
as a fresh install or CI), on 600 CDNOW customers (a small shop) and on all 23,570.
Reproduce: ``python -m bench.btyd_fits`` (about 10 minutes).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from typing import Any

from bench.measure import Measurement, report, run_step

FITS = 8
SIZES = (600, 23_570)
# name: (the kind of btyd_map.MODELS, flat priors)
MODELS = {
    "BG/NBD": ("bgnbd", True),
    "BG/NBD, default priors": ("bgnbd", False),
    "Gamma-Gamma": ("gamma_gamma", True),
}


def step_fits(how: str, name: str, customers: str) -> None:
    """``FITS`` fits of the model ``name`` on the first ``customers`` CDNOW customers
    (by id); reports the fitted value of the model's first parameter."""
    from bench.cdnow import cdnow_store
    from custintel.value.btyd import btyd_summary
    from custintel.value.btyd_map import MODELS as KINDS
    from custintel.value.btyd_map import fit_map, library_model
    from custintel.value.btyd_model import quiet_pymc

    kind, flat = MODELS[name]
    with cdnow_store("btyd_fits") as store:
        summary = btyd_summary(store.con, date(1997, 10, 1))
    summary = summary.sort_values("customer_id").head(int(customers))
    if kind == "gamma_gamma":
        summary = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    summary = summary.reset_index(drop=True)
    first = KINDS[kind][0][0]
    times = []
    for _ in range(FITS):
        started = time.perf_counter()
        if how == "ours":
            value = fit_map(kind, summary, flat=flat)[first]
        else:
            model = library_model(kind, flat=flat)
            with quiet_pymc():
                model.fit(summary, method="map", progressbar=False)
            value = float(model.fit_result[first].mean())
        times.append(time.perf_counter() - started)
    report(
        sum(times),
        first=times[0],
        rest=sum(times[1:]),
        how=how,
        model=name,
        customers=int(customers),
        parameter=f"{first} {value:.6f}",
    )


@contextmanager
def _compile_cache(cold: bool) -> Any:
    """PyTensor's compile cache as it is, or (``cold``) an empty one for the step."""
    if not cold:
        yield
        return
    before = os.environ.get("PYTENSOR_FLAGS")
    with tempfile.TemporaryDirectory() as empty:
        os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={empty}"
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("PYTENSOR_FLAGS")
            else:
                os.environ["PYTENSOR_FLAGS"] = before


def measure() -> list[tuple[str, Measurement]]:
    results = []
    for cold in (False, True):
        for name in MODELS:
            for customers in SIZES:
                for how in ("library", "ours"):
                    with _compile_cache(cold):
                        measured = run_step("bench.btyd_fits", "fits", how, name, str(customers))
                    results.append(("cold" if cold else "warm", measured))
    return results


def markdown(results: list[tuple[str, Measurement]]) -> str:
    """The first fit (PyMC's import and the compile) and the other fits, each way."""
    lines = [
        "| compile cache | model | customers | first fit: library / ours | the other "
        f"{FITS - 1}: library / ours | ratio, other {FITS - 1} | all {FITS}: library / ours "
        "| parameter: library / ours |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    by_key = {(c, m.result["model"], m.result["customers"], m.result["how"]): m for c, m in results}
    shapes = dict.fromkeys((c, m.result["model"], m.result["customers"]) for c, m in results)
    for cache, model, customers in shapes:
        lib = by_key[(cache, model, customers, "library")]
        ours = by_key[(cache, model, customers, "ours")]
        first = (float(lib.result["first"]), float(ours.result["first"]))
        rest = (float(lib.result["rest"]), float(ours.result["rest"]))
        lines.append(
            f"| {cache} | {model} | {customers:,} | {first[0]:.2f} s / {first[1]:.2f} s "
            f"| {rest[0]:.2f} s / {rest[1]:.3f} s | {rest[0] / rest[1]:.0f}x "
            f"| {lib.seconds:.2f} s / {ours.seconds:.2f} s "
            f"| {lib.result['parameter']} / {ours.result['parameter']} |"
        )
    return "\n".join(lines) + f"\n\n{os.cpu_count()} cores."


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "fits":
        step_fits(*sys.argv[2:])
        return
    print(markdown(measure()))


if __name__ == "__main__":
    main()
