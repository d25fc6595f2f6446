"""`custintel demo` and `demo-data` as a new user runs them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from custintel.cli import app

if TYPE_CHECKING:
    from conftest import DemoBuild

runner = CliRunner()


@pytest.mark.slow
def test_demo_builds_syncs_and_segments_the_shop(demo_build: DemoBuild) -> None:
    home, output = demo_build.settings.home, demo_build.output
    for name in (
        "store.duckdb",
        "features.parquet",
        "segments.parquet",
        "demo-shop/orders.parquet",
        "demo-shop/laravel.sqlite",
    ):
        assert (home / name).exists(), name
    assert "RFM segments" in output and "customer clusters" in output
    assert "rows rejected at sync" in output


def test_demo_refuses_a_home_holding_a_shop_store(home: Path, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,ordered_at,amount\nc1,2024-01-01,5\n")
    assert runner.invoke(app, ["sync", "--orders", str(orders)]).exit_code == 0
    result = runner.invoke(app, ["demo", "--customers", "1000", "--no-serve"])
    assert result.exit_code == 78
    assert "not the demo's" in result.output


def order_rows(database: Path) -> int:
    with sqlite3.connect(database) as db:
        (count,) = db.execute("SELECT count(*) FROM orders").fetchone()
    return int(count)


def test_demo_data_writes_every_format(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    result = runner.invoke(
        app, ["demo-data", "--customers", "1000", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for table in ("customers", "orders", "products", "reviews"):
        assert (out / f"{table}.csv").exists() and (out / f"{table}.parquet").exists()
    with sqlite3.connect(out / "laravel.sqlite") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    databases = ("laravel.sqlite", "shop.sqlite")
    orders = {name: order_rows(out / name) for name in databases}
    assert {"users", "orders", "order_items", "products", "categories"} <= tables
    # a second run into the same folder replaces the files (the demo's rebuild relies on
    # it): the same shop, not two copies of its orders in the databases
    again = runner.invoke(
        app, ["demo-data", "--customers", "1000", "--seed", "3", "--out", str(out)]
    )
    assert again.exit_code == 0, again.output
    assert {name: order_rows(out / name) for name in databases} == orders


def test_demo_data_refuses_too_few_customers(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo-data", "--customers", "10", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "1000" in result.output.replace(",", "")
