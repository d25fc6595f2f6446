"""Benchmark of segmentation: automatic-k clustering of 1M customers against the naive way.

    python -m bench.segmentation all [--customers 1000000] [--naive-customers 30000]

Customers are synthetic, with five planted clusters in log-RFM space (so the recovered
k and the adjusted Rand index say the fast path is also right). Steps, each in its own
process (bench/measure.py):
  fit_kmeans N     CustomerClusterer(method="kmeans"), k chosen in 2..10
  fit_auto N       CustomerClusterer(method="auto"): k-means, Ward and HDBSCAN compared
  naive N          KMeans on every row and full silhouette_score on every row for each k,
                   as hand-written services do (quadratic: run at the size it can finish)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date

import numpy as np
import pandas as pd

from bench.measure import Measurement, report, run_step

CENTERS = np.array(
    [[2.5, 2.5, 6.5], [5.5, 0.7, 4.0], [3.0, 1.0, 4.2], [5.8, 1.8, 6.8], [1.5, 0.8, 3.0]]
)


def customers(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """RFM-like features with five planted clusters, and the planted labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CENTERS), n)
    z = CENTERS[labels] + rng.normal(scale=0.25, size=(n, 3))
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "recency_days": np.round(np.expm1(z[:, 0])),
            "frequency": np.maximum(1, np.round(np.expm1(z[:, 1]))),
            "monetary": np.round(np.expm1(z[:, 2]), 2),
            "tenure_days": np.round(np.expm1(z[:, 0]) + rng.exponential(300, n)),
        }
    )
    return frame, labels


def _fit(n: str, method: str) -> None:
    from sklearn.metrics import adjusted_rand_score

    from custintel.segmentation.clustering import CustomerClusterer

    frame, planted = customers(int(n))
    start = time.perf_counter()
    model = CustomerClusterer(method=method).fit(frame)
    seconds = time.perf_counter() - start
    report(
        seconds,
        customers=int(n),
        k=model.n_clusters_,
        method=model.method_,
        ari=round(float(adjusted_rand_score(planted, model.labels_)), 3),
    )


def step_fit_kmeans(n: str) -> None:
    _fit(n, "kmeans")


def step_fit_auto(n: str) -> None:
    _fit(n, "auto")


def step_naive(n: str) -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from custintel.segmentation.preprocess import FeaturePreprocessor

    frame, _ = customers(int(n))
    matrix = FeaturePreprocessor().fit_transform(frame)
    start = time.perf_counter()
    best = (-2.0, 0)
    for k in range(2, 11):
        labels = KMeans(k, n_init=4, random_state=0).fit_predict(matrix)
        best = max(best, (float(silhouette_score(matrix, labels)), k))
    report(time.perf_counter() - start, customers=int(n), k=best[1])


STEPS = {name[5:]: fn for name, fn in globals().items() if name.startswith("step_")}


def markdown(results: list[Measurement], big: int, small: int) -> str:
    by = {(m.name, m.result["customers"]): m for m in results}
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores ({platform.machine()}, "
        f"Python {platform.python_version()}). Reproduce: `python -m bench.segmentation all "
        f"--customers {big} --naive-customers {small}`.",
        "",
        "| step | customers | wall time | peak memory | result |",
        "|---|---:|---:|---:|---|",
    ]
    for m in results:
        detail = ", ".join(f"{k}={v}" for k, v in m.result.items() if k != "customers")
        lines.append(
            f"| {m.name} | {m.result['customers']:,} | {m.seconds:.1f} s | "
            f"{m.peak_mib:,.0f} MiB | {detail} |"
        )
    fast, slow = by.get(("fit_kmeans", small)), by.get(("naive", small))
    if fast and slow:
        lines += [
            "",
            f"At {small:,} customers custintel's automatic k is "
            f"**{slow.seconds / fast.seconds:.1f}x faster** than the naive way "
            "(k-means and full silhouette on every row for each k), measured in the "
            "same run; the naive way is quadratic in customers and cannot run at "
            f"{big:,}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", *STEPS])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--naive-customers", type=int, default=30_000)
    options = parser.parse_args()
    if options.step != "all":
        STEPS[options.step](*options.args)
        return
    big, small = str(options.customers), str(options.naive_customers)
    results = [
        run_step("bench.segmentation", "fit_kmeans", big),
        run_step("bench.segmentation", "fit_auto", big),
        run_step("bench.segmentation", "fit_kmeans", small),
        run_step("bench.segmentation", "naive", small),
    ]
    for m in results:
        print(f"{m.name:12s} {m.seconds:8.1f} s {m.peak_mib:8.0f} MiB {m.result}", file=sys.stderr)
    print(markdown(results, options.customers, options.naive_customers))


if __name__ == "__main__":
    main()
