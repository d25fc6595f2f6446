"""Write a demo shop to disk: CSV, Parquet, a canonical SQLite file and a Laravel one.

The files are what a real shop would hand custintel: exports (``customers.csv``,
``orders.parquet``, ...), a database with the canonical tables (``shop.sqlite``) and the
database of a typical Laravel web shop (``laravel.sqlite``: users, categories, products,
orders, order_items), which the Laravel mapping preset reads. Timestamps are written as
``YYYY-MM-DD HH:MM:SS`` text in CSV and SQLite, as naive timestamps in Parquet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custintel.demo.generator import DemoShop
from custintel.errors import ConfigError

__all__ = ["FORMATS", "write_shop"]

FORMATS = ("csv", "parquet", "sqlite")
_BATCH = 50_000
_PRIMARY_KEYS = {
    "customers": ("customer_id",),
    "orders": ("line_id",),
    "products": ("product_id",),
    "reviews": ("customer_id", "product_id"),
}
# fmt: off
_FEMALE_NAMES = ("Lucia", "Martina", "Sofia", "Julia", "Paula", "Valeria", "Emma", "Carla",
                 "Sara", "Noa", "Laura", "Elena")
_MALE_NAMES = ("Hugo", "Mateo", "Leo", "Daniel", "Pablo", "Alejandro", "Manuel", "Alvaro",
               "Adrian", "Mario", "Diego", "Javier")
_LAST_NAMES = ("Garcia", "Rodriguez", "Gonzalez", "Fernandez", "Lopez", "Martinez",
               "Sanchez", "Perez", "Gomez", "Martin", "Jimenez", "Ruiz", "Hernandez", "Diaz",
               "Moreno", "Munoz", "Alvarez", "Romero", "Alonso", "Navarro", "Torres", "Vega")
# fmt: on


def write_shop(shop: DemoShop, out_dir: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``shop`` into ``out_dir`` (created if missing, files replaced) in the given
    formats: "csv" and "parquet" give one file per table, "sqlite" gives ``shop.sqlite``
    and ``laravel.sqlite``. Returns the written paths in that order."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(
            f"unknown demo file format(s) {unknown}",
            where="write_shop",
            hint=f"choose from {list(FORMATS)}",
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    named = _tables(shop)
    paths: list[Path] = []
    if "csv" in formats:
        for name, table in named.items():
            paths.append(out_dir / f"{name}.csv")
            pacsv.write_csv(_text_timestamps(table), paths[-1])
    if "parquet" in formats:
        for name, table in named.items():
            paths.append(out_dir / f"{name}.parquet")
            pq.write_table(table, paths[-1])
    if "sqlite" in formats:
        paths.append(out_dir / "shop.sqlite")
        _write_sqlite(
            paths[-1],
            {n: _SqlTable(t, _PRIMARY_KEYS[n]) for n, t in named.items()},
            indexes=("orders(customer_id)",),
        )
        paths.append(out_dir / "laravel.sqlite")
        _write_sqlite(
            paths[-1],
            _laravel_tables(shop),
            indexes=("orders(user_id)", "order_items(order_id)", "products(category_id)"),
        )
    return paths


def _tables(shop: DemoShop) -> dict[str, pa.Table]:
    return {
        "customers": shop.customers,
        "orders": shop.orders,
        "products": shop.products,
        "reviews": shop.reviews,
    }


def _text_timestamps(table: pa.Table) -> pa.Table:
    """Timestamps as ``YYYY-MM-DD HH:MM:SS`` text (whole seconds), as shops export them."""
    for i, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            seconds = pc.cast(table.column(i), pa.timestamp("s"), safe=False)
            table = table.set_column(i, column.name, pc.cast(seconds, pa.string()))
    return table


# ---------------------------------------------------------------------------- SQLite


@dataclass(frozen=True)
class _SqlTable:
    """A table to write: its rows, primary key and any SQL type that differs from the
    Arrow type's default (Laravel's money columns are NUMERIC, its ids reference tables)."""

    rows: pa.Table
    key: tuple[str, ...]
    types: Mapping[str, str] = field(default_factory=dict)


def _write_sqlite(path: Path, tables: dict[str, _SqlTable], indexes: tuple[str, ...]) -> None:
    """Create each table with SQL types and its primary key, then insert in batches."""
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        with connection:
            for name, table in tables.items():
                connection.execute(_create_table(name, table))
                marks = ", ".join("?" * table.rows.num_columns)
                for rows in _rows(table.rows):
                    connection.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
            for number, index in enumerate(indexes):
                connection.execute(f"CREATE INDEX ix_{number} ON {index}")
    finally:
        connection.close()


def _create_table(name: str, table: _SqlTable) -> str:
    columns = [
        f"{column.name} {table.types.get(column.name) or _sql_type(column.type)}"
        for column in table.rows.schema
    ]
    columns.append(f"PRIMARY KEY ({', '.join(table.key)})")
    # A text or composite key clusters the rows by that key instead of a hidden rowid:
    # one B-tree instead of two, so a smaller file and faster inserts.
    without_rowid = table.key != ("id",)
    return f"CREATE TABLE {name} ({', '.join(columns)}){' WITHOUT ROWID' if without_rowid else ''}"


def _sql_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    if pa.types.is_integer(arrow_type):
        return "INTEGER"
    if pa.types.is_floating(arrow_type):
        return "REAL"
    return "TEXT"


def _rows(table: pa.Table) -> Iterator[Iterator[tuple[object, ...]]]:
    """The table as batches of Python tuples, timestamps as text (one batch at a time, so
    the text copies stay small)."""
    for batch in table.to_batches(max_chunksize=_BATCH):
        columns = _text_timestamps(pa.Table.from_batches([batch])).columns
        yield zip(*(column.to_pylist() for column in columns), strict=True)


# --------------------------------------------------------------------------- Laravel


def _laravel_tables(shop: DemoShop) -> dict[str, _SqlTable]:
    """The shop as a Laravel app stores it: integer ids, one ``orders`` row per order with
    its total, items without return lines (a return marks the whole order "refunded")."""
    categories = pc.unique(shop.products["category"]).sort()
    needed = ["customer_id", "ordered_at", "amount", "order_id", "product_id", "quantity",
              "unit_price", "status"]  # fmt: skip
    returned = pc.equal(shop.orders["status"], "returned")
    sales = shop.orders.select(needed).filter(pc.invert(returned))
    returns = shop.orders.select(["order_id", "ordered_at"]).filter(returned)
    order_number = _number(sales["order_id"])
    items = pa.table(
        {
            "id": pa.array(np.arange(1, sales.num_rows + 1), pa.int64()),
            "order_id": order_number,
            "product_id": _number(sales["product_id"]),
            "quantity": sales["quantity"],
            "price": sales["unit_price"],
            "created_at": sales["ordered_at"],
            "updated_at": sales["ordered_at"],
        }
    )
    products = pa.table(
        {
            "id": _number(shop.products["product_id"]),
            "name": shop.products["name"],
            "category_id": pc.add(pc.index_in(shop.products["category"], categories), 1),
            "price": shop.products["price"],
        }
    )
    money = "NUMERIC NOT NULL"
    return {
        "users": _SqlTable(_laravel_users(shop.customers), ("id",)),
        "categories": _SqlTable(
            pa.table({"id": pa.array(np.arange(1, len(categories) + 1)), "name": categories}),
            ("id",),
        ),
        "products": _SqlTable(
            products, ("id",), {"price": money, "category_id": _references("categories")}
        ),
        "orders": _SqlTable(
            _laravel_orders(sales, order_number, returns),
            ("id",),
            {"total_amount": money, "user_id": _references("users")},
        ),
        "order_items": _SqlTable(
            items,
            ("id",),
            {
                "price": money,
                "order_id": _references("orders"),
                "product_id": _references("products"),
            },
        ),
    }


def _references(table: str) -> str:
    return f"INTEGER NOT NULL REFERENCES {table}(id)"


def _laravel_users(customers: pa.Table) -> pa.Table:
    """users with made-up but stable names (matching the gender) and e-mail addresses,
    derived from the customer number."""
    number = _number(customers["customer_id"]).to_numpy()
    pick = pa.array(number % len(_FEMALE_NAMES))
    female = pc.equal(customers["gender"], "female")
    first = pc.if_else(female, pa.array(_FEMALE_NAMES).take(pick), pa.array(_MALE_NAMES).take(pick))
    spread = (number * 2_654_435_761) % 2**32 // 7  # a fixed hash, so surnames look random
    last = pa.array(_LAST_NAMES).take(pa.array(spread % len(_LAST_NAMES)))
    email = pc.binary_join_element_wise(
        first, ".", last, pc.cast(pa.array(number), pa.string()), "@example.com", ""
    )
    return pa.table(
        {
            "id": pa.array(number, pa.int64()),
            "name": pc.binary_join_element_wise(first, last, " "),
            "email": pc.utf8_lower(email),
            "created_at": customers["signup_at"],
            "updated_at": customers["signup_at"],
        }
    )


def _laravel_orders(sales: pa.Table, order_number: pa.Array, returns: pa.Table) -> pa.Table:
    """One row per order: total of its items, status (refunded if any line came back)."""
    lines = pa.table(
        {
            "id": order_number,
            "user_id": _number(sales["customer_id"]),
            "amount": sales["amount"],
            "status": sales["status"],
            "created_at": sales["ordered_at"],
        }
    )
    orders = (
        lines.group_by("id", use_threads=False)
        .aggregate(
            [
                ("user_id", "min"),
                ("amount", "sum"),
                ("status", "min"),
                ("created_at", "min"),
            ]
        )
        .sort_by("id")
    )
    back = pa.table({"id": _number(returns["order_id"]), "at": returns["ordered_at"]})
    back = back.group_by("id", use_threads=False).aggregate([("at", "max")])
    returned_at = pc.take(back["at_max"], pc.index_in(orders["id"], back["id"]))
    was_returned = pc.is_valid(returned_at)
    return pa.table(
        {
            "id": orders["id"],
            "user_id": orders["user_id_min"],
            "total_amount": pc.round(orders["amount_sum"], 2),
            "status": pc.if_else(was_returned, "refunded", orders["status_min"]),
            "created_at": orders["created_at_min"],
            "updated_at": pc.coalesce(returned_at, orders["created_at_min"]),
        }
    )


def _number(ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The integer inside an id such as ``C000123`` (prefix letters dropped)."""
    digits = pc.replace_substring_regex(ids, r"^\D+", "")
    array: pa.Array = pc.cast(digits, pa.int64())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
