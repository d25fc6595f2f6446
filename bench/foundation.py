"""Benchmark of the foundation: sync and point-in-time features at 1M customers.

    python -m bench.foundation all [--customers 1000000]

Steps, each in its own process (bench/measure.py):
  generate          the demo shop (1M customers, about 10M order lines) as Parquet
  sync_parquet      custintel sync of orders + customers from Parquet into a DuckDB file
  sync_order_key    the same orders without line_id and product_id, so that order_id
                    alone keys them and the lines of an order are told apart by number
  features_duckdb   custintel's feature SQL for every customer, one as_of
  features_pandas   the naive way: pandas, one groupby per feature, as hand-written
                    services do
  pg_load           (set-up, not compared) COPY the order lines into PostgreSQL
  sync_postgres     custintel sync of the orders table from PostgreSQL (ADBC)
  read_pandas_sql   the naive way: pandas.read_sql of the same table (SQLAlchemy)
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

from bench.measure import ROOT, Measurement, report, run_step

DATA = ROOT / "bench" / "results" / "foundation"
PG_URL = os.environ.get("CUSTINTEL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
AS_OF = "2026-01-01"


def step_generate(customers: str, out: str) -> None:
    from custintel.demo import generate_shop, write_shop

    start = time.perf_counter()
    shop = generate_shop(customers=int(customers), seed=7)
    write_shop(shop, Path(out), formats=("parquet",))
    report(
        time.perf_counter() - start, lines=shop.orders.num_rows, customers=shop.customers.num_rows
    )


def step_sync_parquet(data: str, store_path: str) -> None:
    from custintel.data import Mapping, Store, sync

    Path(store_path).unlink(missing_ok=True)
    start = time.perf_counter()
    with Store(Path(store_path)) as store:
        result = sync(
            store,
            Mapping.for_files(
                customers=Path(data) / "customers.parquet", orders=Path(data) / "orders.parquet"
            ),
        )
    report(
        time.perf_counter() - start,
        loaded=result.table("orders").inserted,
        rejected=result.table("orders").rejected,
    )


def step_sync_order_key(data: str, store_path: str) -> None:
    """The sync of ``sync_parquet`` on order lines that only order_id identifies (an
    export without line or product ids): every line after an order's first repeats its
    key with other values and is numbered (data/validate.py, _mark_repeated_keys)."""
    import pyarrow.parquet as pq

    from custintel.data import Mapping, Store, sync

    lines = Path(data) / "orders-order-key.parquet"
    if not lines.exists():  # set-up, not timed
        pq.write_table(
            pq.read_table(Path(data) / "orders.parquet").drop(["line_id", "product_id"]), lines
        )
    Path(store_path).unlink(missing_ok=True)
    start = time.perf_counter()
    with Store(Path(store_path)) as store:
        result = sync(
            store,
            Mapping.for_files(customers=Path(data) / "customers.parquet", orders=lines),
        )
    orders = result.table("orders")
    report(
        time.perf_counter() - start,
        loaded=orders.inserted,
        rejected=orders.rejected,
        numbered=orders.numbered_rows,
    )


def step_features_duckdb(store_path: str, as_of: str) -> None:
    from custintel.data import Store
    from custintel.features import customer_features

    with Store(Path(store_path), read_only=True) as store:
        start = time.perf_counter()
        table = customer_features(store.con, date.fromisoformat(as_of))
        seconds = time.perf_counter() - start
    report(seconds, customers=table.num_rows, features=table.num_columns - 2)


def step_features_pandas(data: str, as_of: str) -> None:
    """Features the way a hand-written service computes them: pandas, groupby per feature."""
    import pandas as pd

    start = time.perf_counter()
    cutoff = pd.Timestamp(as_of)
    df = pd.read_parquet(Path(data) / "orders.parquet")
    df = df[df["ordered_at"] < cutoff]
    cancelled = df["status"].isin(["cancelled"])
    refunded = df["status"].isin(["refunded"])
    df["net"] = df["amount"].where(~(cancelled | (refunded & (df["amount"] > 0))), 0.0)
    sales = df[~cancelled & ~refunded & (df["amount"] > 0)]
    per_customer = df.groupby("customer_id")
    out = pd.DataFrame({"last": sales.groupby("customer_id")["ordered_at"].max()})
    out["recency_days"] = (cutoff - out["last"]).dt.days
    out["tenure_days"] = (cutoff - sales.groupby("customer_id")["ordered_at"].min()).dt.days
    out["frequency"] = sales.groupby("customer_id")["order_id"].nunique()
    out["monetary"] = per_customer["net"].sum()
    order_totals = sales.groupby(["customer_id", "order_id"])["amount"].sum()
    out["order_value_mean"] = order_totals.groupby("customer_id").mean()
    out["order_value_max"] = order_totals.groupby("customer_id").max()
    out["order_value_std"] = order_totals.groupby("customer_id").std()
    days = sales.assign(day=sales["ordered_at"].dt.normalize())[["customer_id", "day"]]
    days = days.drop_duplicates().sort_values(["customer_id", "day"])
    gaps = days.groupby("customer_id")["day"].diff().dt.days
    out["ipi_mean_days"] = gaps.groupby(days["customer_id"]).mean()
    out["ipi_std_days"] = gaps.groupby(days["customer_id"]).std()
    for window in (7, 30, 90, 365):
        recent = df[df["ordered_at"] >= cutoff - pd.Timedelta(days=window)]
        out[f"spend_{window}d"] = recent.groupby("customer_id")["net"].sum()
        recent_sales = sales[sales["ordered_at"] >= cutoff - pd.Timedelta(days=window)]
        out[f"orders_{window}d"] = recent_sales.groupby("customer_id")["order_id"].nunique()
    out["distinct_products"] = sales.groupby("customer_id")["product_id"].nunique()
    out["distinct_categories"] = sales.groupby("customer_id")["category"].nunique()
    out["weekend_share"] = (days["day"].dt.dayofweek >= 5).groupby(days["customer_id"]).mean()
    spend = sales.pivot_table(
        index="customer_id", columns="category", values="amount", aggfunc="sum", fill_value=0.0
    )
    out = out.join(spend.add_prefix("spend__"))
    out = out.join(spend.div(spend.sum(axis=1), axis=0).add_prefix("share__"))
    report(time.perf_counter() - start, customers=len(out), features=out.shape[1])


def step_pg_load(data: str, url: str) -> None:
    """Set-up: put the order lines into PostgreSQL with COPY (not a compared figure)."""
    import psycopg
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    start = time.perf_counter()
    table = pq.read_table(Path(data) / "orders.parquet")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_orders")
        conn.execute("""CREATE TABLE bench_orders (customer_id text, ordered_at timestamp,
            amount numeric(12,2), order_id text, line_id text PRIMARY KEY, product_id text,
            category text, quantity integer, unit_price numeric(12,2), store_id text,
            seller_id text, status text)""")
        cols = ", ".join(table.column_names)
        with conn.cursor().copy(f"COPY bench_orders ({cols}) FROM STDIN (FORMAT csv)") as copy:
            for batch in table.to_batches(max_chunksize=500_000):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                copy.write(buffer.getvalue())
        conn.execute("ANALYZE bench_orders")
    report(time.perf_counter() - start, rows=table.num_rows)


def step_sync_postgres(url: str, store_path: str) -> None:
    from custintel.data import Mapping, Store, TableMapping, sync

    Path(store_path).unlink(missing_ok=True)
    start = time.perf_counter()
    with Store(Path(store_path)) as store:
        result = sync(
            store, Mapping(source=url, tables={"orders": TableMapping(table="bench_orders")})
        )
    report(time.perf_counter() - start, loaded=result.table("orders").inserted)


def step_read_pandas_sql(url: str) -> None:
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    start = time.perf_counter()
    frame = pd.read_sql("SELECT * FROM bench_orders", engine)
    report(time.perf_counter() - start, rows=len(frame))


STEPS = {name[5:]: fn for name, fn in globals().items() if name.startswith("step_")}


def run_all(customers: int, with_postgres: bool) -> list[Measurement]:
    data = DATA / f"shop-{customers}"
    store = DATA / f"store-{customers}.duckdb"
    pg_store = DATA / f"store-pg-{customers}.duckdb"
    module = "bench.foundation"
    results = []
    if not (data / "orders.parquet").exists():
        results.append(run_step(module, "generate", str(customers), str(data)))
    results.append(run_step(module, "sync_parquet", str(data), str(store)))
    order_key_store = DATA / f"store-order-key-{customers}.duckdb"
    results.append(run_step(module, "sync_order_key", str(data), str(order_key_store)))
    order_key_store.unlink(missing_ok=True)
    results.append(run_step(module, "features_duckdb", str(store), AS_OF))
    results.append(run_step(module, "features_pandas", str(data), AS_OF))
    if with_postgres:
        results.append(run_step(module, "pg_load", str(data), PG_URL))
        results.append(run_step(module, "sync_postgres", PG_URL, str(pg_store)))
        results.append(run_step(module, "read_pandas_sql", PG_URL))
    for m in results:
        print(f"{m.name:18s} {m.seconds:8.1f} s {m.peak_mib:8.0f} MiB {m.result}", file=sys.stderr)
    return results


def markdown(results: list[Measurement], customers: int) -> str:
    by = {m.name: m for m in results}
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores ({platform.machine()}, "
        f"Python {platform.python_version()}), {customers:,} customers. "
        "Reproduce: `python -m bench.foundation all --customers "
        f"{customers}` (add `--postgres` for the PostgreSQL rows).",
        "",
        "| step | wall time | peak memory | rows |",
        "|---|---:|---:|---|",
    ]
    for m in results:
        detail = ", ".join(
            f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in m.result.items()
        )
        lines.append(f"| {m.name} | {m.seconds:.1f} s | {m.peak_mib:,.0f} MiB | {detail} |")
    lines.append("")
    if "features_duckdb" in by and "features_pandas" in by:
        fast, slow = by["features_duckdb"], by["features_pandas"]
        lines.append(
            f"Features: custintel is **{slow.seconds / fast.seconds:.1f}x faster** "
            f"than the naive pandas way and uses **{slow.peak_mib / fast.peak_mib:.1f}x "
            "less peak memory** (same data, same run)."
        )
    if "sync_parquet" in by and "sync_order_key" in by:
        keyed, numbered = by["sync_parquet"], by["sync_order_key"]
        lines.append(
            "Order lines keyed by order_id alone (no line or product id): the sync takes "
            f"{numbered.seconds / keyed.seconds:.2f}x the time of the same lines with line ids, "
            f"{numbered.result['numbered']:,} of them numbered within their order."
        )
    if "sync_postgres" in by and "read_pandas_sql" in by:
        fast, slow = by["sync_postgres"], by["read_pandas_sql"]
        lines.append(
            f"PostgreSQL: custintel's whole sync (read, validate, store) is "
            f"**{slow.seconds / fast.seconds:.1f}x faster** than just reading the "
            f"table with pandas.read_sql, with {slow.peak_mib / fast.peak_mib:.1f}x "
            "less peak memory."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", *STEPS])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--write", type=Path, default=None, help="write the markdown table to this file"
    )
    options = parser.parse_args()
    if options.step != "all":
        STEPS[options.step](*options.args)
        return
    results = run_all(options.customers, options.postgres)
    text = markdown(results, options.customers)
    print(text)
    if options.write:
        options.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
