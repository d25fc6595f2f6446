"""An export in parts: `custintel sync` of a folder of part files (Parquet, and CSV)
against the same rows in one file, and against the naive way, joining the parts by hand
with pandas into one file and syncing that.

    PYTHONPATH=. python -m bench.sync_parts all [--customers 200000] [--parts 20]

Each step runs in its own process (bench/measure.py); the demo shop is generated once
under bench/results/sync-parts/ and split into parts by rows (untimed).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from bench.measure import ROOT, Measurement, report, run_step

DATA = ROOT / "bench" / "results" / "sync-parts"


def step_generate(customers: str, parts: str, out: str) -> None:
    """The demo shop's orders as one Parquet file and as ``parts`` part files."""
    import duckdb

    from custintel.demo import generate_shop, write_shop

    start = time.perf_counter()
    shop = generate_shop(customers=int(customers), seed=7)
    write_shop(shop, Path(out), formats=("parquet",))
    orders = Path(out) / "orders.parquet"
    duckdb.sql(f"SELECT * FROM '{orders}'").write_csv(str(Path(out) / "orders.csv"))
    lines = shop.orders.num_rows
    size = -(-lines // int(parts))
    for kind in ("parquet", "csv"):
        folder = Path(out) / f"parts-{kind}"
        folder.mkdir(exist_ok=True)
        for i in range(int(parts)):
            part = duckdb.sql(f"SELECT * FROM '{orders}' LIMIT {size} OFFSET {i * size}")
            name = str(folder / f"part-{i:05d}.{kind}")
            part.write_parquet(name) if kind == "parquet" else part.write_csv(name)
    report(time.perf_counter() - start, lines=lines)


def _sync(orders: Path, store_path: str) -> int:
    from custintel.data import Mapping, Store, sync

    Path(store_path).unlink(missing_ok=True)
    with Store(Path(store_path)) as store:
        return sync(store, Mapping.for_files(orders=orders)).table("orders").inserted


def step_sync_file(data: str, kind: str, store_path: str) -> None:
    start = time.perf_counter()
    loaded = _sync(Path(data) / f"orders.{kind}", store_path)
    report(time.perf_counter() - start, loaded=loaded)


def step_sync_parts(data: str, kind: str, store_path: str) -> None:
    start = time.perf_counter()
    loaded = _sync(Path(data) / f"parts-{kind}", store_path)
    report(time.perf_counter() - start, loaded=loaded)


def step_join_by_hand(data: str, kind: str, store_path: str) -> None:
    """The parts read and concatenated with pandas, written as one file, then synced."""
    import pandas as pd

    start = time.perf_counter()
    files = sorted((Path(data) / f"parts-{kind}").glob(f"*.{kind}"))
    joined = Path(data) / f"joined.{kind}"
    if kind == "parquet":
        pd.concat([pd.read_parquet(f) for f in files], ignore_index=True).to_parquet(joined)
    else:
        frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
        pd.concat(frames, ignore_index=True).to_csv(joined, index=False)
    loaded = _sync(joined, store_path)
    joined.unlink()
    report(time.perf_counter() - start, loaded=loaded)


STEPS = {
    "generate": step_generate,
    "sync_file": step_sync_file,
    "sync_parts": step_sync_parts,
    "join_by_hand": step_join_by_hand,
}
KINDS = ("parquet", "csv")


def run_all(customers: int, parts: int) -> list[Measurement]:
    data = DATA / f"shop-{customers}-{parts}"
    store = str(DATA / f"store-{customers}.duckdb")
    module = "bench.sync_parts"
    results = []
    if not (data / "parts-csv").exists():
        results.append(run_step(module, "generate", str(customers), str(parts), str(data)))
    for kind in KINDS:
        for step in ("sync_file", "sync_parts", "join_by_hand"):
            measured = run_step(module, step, str(data), kind, store)
            results.append(replace(measured, name=f"{step} ({kind})"))
    Path(store).unlink(missing_ok=True)
    for m in results:
        print(f"{m.name:24s} {m.seconds:8.1f} s {m.peak_mib:8.0f} MiB {m.result}", file=sys.stderr)
    return results


def markdown(results: list[Measurement], customers: int, parts: int) -> str:
    by = {m.name: m for m in results}
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores ({platform.machine()}, "
        f"Python {platform.python_version()}), the demo shop at {customers:,} customers, "
        f"its orders in one file and in {parts} part files, as Parquet and as CSV. Reproduce: "
        f"`PYTHONPATH=. python -m bench.sync_parts all --customers {customers} --parts {parts}`.",
        "",
        "| step | wall time | peak memory | rows |",
        "|---|---:|---:|---|",
    ]
    for m in results:
        if m.name != "generate":
            detail = ", ".join(f"{k}={v:,}" for k, v in m.result.items())
            lines.append(f"| {m.name} | {m.seconds:.1f} s | {m.peak_mib:,.0f} MiB | {detail} |")
    lines.append("")
    for kind in KINDS:
        one, folder, naive = (
            by[f"{s} ({kind})"] for s in ("sync_file", "sync_parts", "join_by_hand")
        )
        lines.append(
            f"{kind}: the folder of parts takes {folder.seconds / one.seconds:.2f}x the time "
            f"of one file and {folder.peak_mib / one.peak_mib:.2f}x its peak memory; joining "
            f"the parts by hand first takes {naive.seconds / folder.seconds:.2f}x the "
            f"folder's time and {naive.peak_mib / folder.peak_mib:.2f}x its peak memory."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", *STEPS])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--parts", type=int, default=20)
    options = parser.parse_args()
    if options.step != "all":
        STEPS[options.step](*options.args)
        return
    print(markdown(run_all(options.customers, options.parts), options.customers, options.parts))


if __name__ == "__main__":
    main()
