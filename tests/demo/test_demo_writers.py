"""Writing the demo shop: CSV, Parquet, canonical SQLite and the Laravel SQLite schema."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from custintel.demo import DemoShop, generate_shop, write_shop
from custintel.errors import ConfigError

TABLES = ("customers", "orders", "products", "reviews")
LARAVEL_COLUMNS = {
    "users": ["id", "name", "email", "created_at", "updated_at"],
    "categories": ["id", "name"],
    "products": ["id", "name", "category_id", "price"],
    "orders": ["id", "user_id", "total_amount", "status", "created_at", "updated_at"],
    "order_items": [
        "id", "order_id", "product_id", "quantity", "price", "created_at", "updated_at"
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return generate_shop(1_000, seed=11)


@pytest.fixture(scope="module")
def written(shop: DemoShop, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("demo")
    return out, write_shop(shop, out)


def test_writes_every_file(written: tuple[Path, list[Path]]) -> None:
    out, paths = written
    expected = [out / f"{t}.csv" for t in TABLES] + [out / f"{t}.parquet" for t in TABLES]
    assert paths == [*expected, out / "shop.sqlite", out / "laravel.sqlite"]
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize("table", TABLES)
def test_parquet_round_trips_exactly(shop: DemoShop, written: tuple[Path, list[Path]], table: str):
    out, _ = written
    assert pq.read_table(out / f"{table}.parquet").equals(getattr(shop, table))


@pytest.mark.parametrize("table", TABLES)
def test_csv_reads_back(shop: DemoShop, written: tuple[Path, list[Path]], table: str) -> None:
    out, _ = written
    original = getattr(shop, table)
    data = pacsv.read_csv(out / f"{table}.csv")
    assert data.column_names == original.column_names
    assert data.num_rows == original.num_rows
    for name in original.column_names:
        if original.schema.field(name).type == data.schema.field(name).type:
            assert data[name].equals(original[name]), name
    if table == "orders":  # timestamps come back as timestamps, to the second
        assert pc.cast(data["ordered_at"], original["ordered_at"].type).equals(
            original["ordered_at"]
        )


def test_canonical_sqlite(shop: DemoShop, written: tuple[Path, list[Path]]) -> None:
    out, _ = written
    with closing(sqlite3.connect(out / "shop.sqlite")) as db:
        for table in TABLES:
            original = getattr(shop, table)
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            assert columns == original.column_names
            (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count == original.num_rows
        keys = {row[1]: row[5] for row in db.execute("PRAGMA table_info(orders)")}
        assert keys["line_id"] == 1
        types = {row[1]: row[2] for row in db.execute("PRAGMA table_info(orders)")}
        assert types["ordered_at"] == "TIMESTAMP" and types["amount"] == "REAL"
        assert types["quantity"] == "INTEGER"
        (total,) = db.execute("SELECT round(sum(amount), 2) FROM orders").fetchone()
        assert total == pytest.approx(pc.sum(shop.orders["amount"]).as_py(), abs=0.01)
        first = db.execute("SELECT ordered_at FROM orders ORDER BY line_id LIMIT 1").fetchone()
        assert first[0] == shop.orders["ordered_at"][0].as_py().strftime("%Y-%m-%d %H:%M:%S")


def test_laravel_schema(written: tuple[Path, list[Path]]) -> None:
    out, _ = written
    with closing(sqlite3.connect(out / "laravel.sqlite")) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert names == set(LARAVEL_COLUMNS)
        for table, columns in LARAVEL_COLUMNS.items():
            info = list(db.execute(f"PRAGMA table_info({table})"))
            assert [row[1] for row in info] == columns, table
            assert [row[1] for row in info if row[5]] == ["id"], table
        info = list(db.execute("PRAGMA table_info(orders)"))
        assert {row[1]: row[2] for row in info} == {
            "id": "INTEGER", "user_id": "INTEGER", "total_amount": "NUMERIC",
            "status": "TEXT", "created_at": "TIMESTAMP", "updated_at": "TIMESTAMP",
        }  # fmt: skip
        assert [row[1] for row in info if row[3]] == ["user_id", "total_amount"]
        links = {(r[2], r[3]) for r in db.execute("PRAGMA foreign_key_list(order_items)")}
        assert links == {("orders", "order_id"), ("products", "product_id")}


def test_laravel_rows_match_the_shop(shop: DemoShop, written: tuple[Path, list[Path]]) -> None:
    out, _ = written
    orders = shop.orders.to_pandas()
    sales = orders[orders["status"] != "returned"]
    with closing(sqlite3.connect(out / "laravel.sqlite")) as db:
        count = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in LARAVEL_COLUMNS}
        assert count["users"] == shop.customers.num_rows
        assert count["products"] == shop.products.num_rows
        assert count["order_items"] == len(sales)
        assert count["orders"] == sales["order_id"].nunique()
        mismatched = db.execute(
            """SELECT count(*) FROM orders o JOIN (
                   SELECT order_id, sum(quantity * price) AS total FROM order_items
                   GROUP BY order_id) i ON i.order_id = o.id
               WHERE abs(o.total_amount - i.total) > 0.005"""
        ).fetchone()[0]
        assert mismatched == 0
        orphans = db.execute(
            """SELECT count(*) FROM order_items i LEFT JOIN products p ON p.id = i.product_id
               LEFT JOIN orders o ON o.id = i.order_id WHERE p.id IS NULL OR o.id IS NULL"""
        ).fetchone()[0]
        assert orphans == 0
        statuses = dict(db.execute("SELECT status, count(*) FROM orders GROUP BY status"))
        users = db.execute("SELECT count(DISTINCT email), min(name) FROM users").fetchone()
        assert users[0] == shop.customers.num_rows and " " in users[1]
    with_returns = orders.loc[orders["status"] == "returned", "order_id"].nunique()
    refunded = sales.loc[sales["status"] == "refunded", "order_id"].nunique()
    assert set(statuses) == {"completed", "cancelled", "refunded"}
    assert statuses["refunded"] == refunded + with_returns


def test_selected_formats_only(shop: DemoShop, tmp_path: Path) -> None:
    paths = write_shop(shop, tmp_path / "new" / "dir", formats=["parquet"])
    assert [p.name for p in paths] == [f"{t}.parquet" for t in TABLES]
    assert sorted(p.name for p in (tmp_path / "new" / "dir").iterdir()) == sorted(
        p.name for p in paths
    )


def test_rewriting_replaces_the_databases(shop: DemoShop, tmp_path: Path) -> None:
    write_shop(shop, tmp_path, formats=["sqlite"])
    write_shop(shop, tmp_path, formats=["sqlite"])
    with closing(sqlite3.connect(tmp_path / "shop.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 1_000


def test_unknown_format_is_refused(shop: DemoShop, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="xlsx"):
        write_shop(shop, tmp_path, formats=["csv", "xlsx"])
    assert not any(tmp_path.iterdir())
