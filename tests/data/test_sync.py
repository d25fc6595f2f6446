"""Sync from files: validation at the door, rejects, the refund rule, all-or-nothing,
incremental and idempotent loads."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from custintel.data import Mapping, Store, TableMapping, sync
from custintel.errors import ConfigError, MissingColumns, RowsRejected


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


ORDER_HEADER = ["order_id", "customer_id", "ordered_at", "amount", "status"]
GOOD_ORDERS = [
    ["o1", "c1", "2024-01-05 10:00:00", "10.00", "completed"],
    ["o2", "c1", "2024-02-05 11:00:00", "20.50", "completed"],
    ["o3", "c2", "2024-01-07", "5", "cancelled"],
    ["o4", "c2", "2024-03-01", "8", "refunded"],
    ["o5", "c3", "2024-03-02", "-4", "returned"],
]


@pytest.fixture()
def store() -> Store:
    return Store(None)


def sync_orders(store: Store, path: Path, tmp_path: Path, **options: object):
    mapping = Mapping(tables={"orders": TableMapping(path=path, **options)})
    return sync(store, mapping, rejects_dir=tmp_path / "rejects", max_reject_share=0.5)


def test_clean_file_loads_every_row_with_the_refund_rule(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS)
    report = sync_orders(store, path, tmp_path)
    t = report.table("orders")
    assert (t.read, t.inserted, t.rejected) == (5, 5, 0)
    kinds = dict(store.con.execute("SELECT order_id, kind FROM orders").fetchall())
    assert kinds == {
        "o1": "sale",
        "o2": "sale",
        "o3": "cancelled",
        "o4": "refunded",
        "o5": "return",
    }
    net = dict(store.con.execute("SELECT order_id, net_amount FROM orders").fetchall())
    assert net == {"o1": 10.0, "o2": 20.5, "o3": 0.0, "o4": 0.0, "o5": -4.0}


def test_first_and_last_order_dates_read_only_rows_before_the_day(
    store: Store, tmp_path: Path
) -> None:
    sync_orders(store, write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS), tmp_path)
    assert (store.first_order_date(), store.last_order_date()) == (
        date(2024, 1, 5),
        date(2024, 3, 2),
    )
    # Strictly before: an order on the day itself is not before it.
    assert store.last_order_date(before=date(2024, 3, 2)) == date(2024, 3, 1)
    assert store.first_order_date(before=date(2024, 1, 5)) is None


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (["o9", "", "2024-01-05", "1", "completed"], "customer_id: empty"),
        (["o9", "c9", "yesterday", "1", "completed"], "ordered_at: not a date: yesterday"),
        (["o9", "c9", "2024-01-05", "12,50 EUR", "completed"], "amount: not a number: 12,50 EUR"),
        (["o9", "c9", "2024-01-05", "", "completed"], "amount: empty"),
        (["o1", "c1", "2024-01-05 10:00:00", "10.00", "completed"], "duplicate of row 1"),
    ],
    ids=["no-customer", "bad-date", "bad-amount", "no-amount", "duplicate"],
)
def test_bad_rows_are_rejected_with_reason_and_row(
    store: Store, tmp_path: Path, bad_row: list[str], reason: str
) -> None:
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, [*GOOD_ORDERS, bad_row])
    report = sync_orders(store, path, tmp_path)
    t = report.table("orders")
    assert (t.inserted, t.rejected) == (5, 1)
    assert t.rejects_file is not None
    with t.rejects_file.open(newline="") as f:
        rejects = list(csv.DictReader(f))
    assert len(rejects) == 1
    assert rejects[0]["_reason"] == reason
    assert rejects[0]["_row"] == "6"  # the sixth data row
    assert rejects[0]["order_id"] == bad_row[0]  # raw values are kept
    assert store.count("orders") == 5


def test_a_folder_of_parts_syncs_as_one_export_and_rejects_name_their_file(
    store: Store, tmp_path: Path
) -> None:
    """An export split in parts: every row loaded once; a bad row and a repeat of a row
    in an earlier part are rejected with their file and their row in it."""
    export = tmp_path / "export"
    export.mkdir()
    write_csv(export / "orders_1.csv", ORDER_HEADER, GOOD_ORDERS[:3])
    bad = ["o9", "c9", "not a date", "1", "completed"]
    write_csv(export / "orders_2.csv", ORDER_HEADER, [*GOOD_ORDERS[3:], bad, GOOD_ORDERS[0]])
    t = sync_orders(store, export, tmp_path).table("orders")
    assert (t.read, t.inserted, t.rejected) == (7, 5, 2)
    assert t.parts == [("orders_1.csv", 3), ("orders_2.csv", 4)]
    assert t.rejects_file is not None
    with t.rejects_file.open(newline="") as f:
        rejects = {r["order_id"]: r for r in csv.DictReader(f)}
    assert (rejects["o9"]["_file"], rejects["o9"]["_file_row"], rejects["o9"]["_row"]) == (
        "orders_2.csv",
        "3",
        "6",
    )
    assert rejects["o1"]["_file"] == "orders_2.csv" and rejects["o1"]["_file_row"] == "4"
    assert rejects["o1"]["_reason"] == "duplicate of row 1"
    assert store.count("orders") == 5
    # synced again, the same parts change nothing
    again = sync_orders(store, export, tmp_path).table("orders")
    assert (again.inserted, again.unchanged) == (0, 5)


def test_future_dates_are_rejected(store: Store, tmp_path: Path) -> None:
    future = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%d")
    path = write_csv(
        tmp_path / "orders.csv", ORDER_HEADER, [*GOOD_ORDERS, ["o9", "c9", future, "1", "x"]]
    )
    t = sync_orders(store, path, tmp_path).table("orders")
    assert t.rejected == 1
    assert t.reasons == [("ordered_at: in the future", 1)]


def test_misnamed_column_suggests_the_closest_name(store: Store, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "orders.csv", ["customer_id", "order_dat", "amount"], [["c1", "2024-01-01", "1"]]
    )
    with pytest.raises(MissingColumns) as info:
        sync_orders(store, path, tmp_path)
    message = str(info.value)
    assert "'ordered_at' (closest: 'order_dat')" in message
    assert str(path) in message
    assert "custintel.toml" in (info.value.hint or "")
    assert not store.has_table("orders")


def test_a_column_read_as_another_is_not_suggested(store: Store, tmp_path: Path) -> None:
    # Instacart's orders: no date, and order_id (read as order_id) is not a date.
    path = write_csv(
        tmp_path / "orders.csv",
        ["order_id", "user_id", "order_dow", "amount"],
        [["1", "u1", "4", "2"]],
    )
    with pytest.raises(MissingColumns) as info:
        sync_orders(store, path, tmp_path)
    message = str(info.value)
    assert "'ordered_at' (closest: 'order_dow')" in message
    assert "'order_id', 'user_id', 'order_dow', 'amount'" in message


def test_mapping_to_a_column_the_file_lacks_is_named(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS)
    with pytest.raises(MissingColumns, match="'total'"):
        sync_orders(store, path, tmp_path, columns={"amount": "total"})


def test_ambiguous_day_month_dates_ask_for_a_format(store: Store, tmp_path: Path) -> None:
    rows = [["c1", "03/01/2024", "1"], ["c2", "04/02/2024", "2"]]
    path = write_csv(tmp_path / "orders.csv", ["customer_id", "ordered_at", "amount"], rows)
    with pytest.raises(ConfigError, match="day-first") as info:
        sync_orders(store, path, tmp_path)
    assert "date_format" in (info.value.hint or "")
    report = sync_orders(store, path, tmp_path, date_format="%d/%m/%Y")
    assert report.table("orders").inserted == 2
    dates = [r[0] for r in store.con.execute("SELECT ordered_at FROM orders ORDER BY 1").fetchall()]
    assert [d.date().isoformat() for d in dates] == ["2024-01-03", "2024-02-04"]


def test_day_first_dates_are_detected_from_unambiguous_values(store, tmp_path: Path) -> None:
    rows = [["c1", "03/01/19", "1"], ["c2", "25/12/19", "2"]]
    path = write_csv(tmp_path / "orders.csv", ["customer_id", "ordered_at", "amount"], rows)
    report = sync_orders(store, path, tmp_path)
    assert report.table("orders").date_formats == {"ordered_at": "%d/%m/%y"}
    first = store.con.execute("SELECT min(ordered_at) FROM orders").fetchall()[0][0]
    assert first == datetime(2019, 1, 3)


def write_semicolons(path: Path, rows: list[str]) -> Path:
    """A Spanish or German spreadsheet's CSV: ';' between fields, decimal commas."""
    path.write_text("customer_id;ordered_at;amount\n" + "\n".join(rows) + "\n", "utf-8")
    return path


def amounts(store: Store) -> list[float]:
    return [r[0] for r in store.con.execute("SELECT amount FROM orders ORDER BY 1").fetchall()]


def test_decimal_commas_are_detected_and_read(store: Store, tmp_path: Path) -> None:
    """Until 2026-12-01 every such row was rejected as "amount: not a number"."""
    rows = [
        "c1;2024-01-05;49,69",
        "c2;2024-01-06;1.234,50",
        "c3;2024-01-07;-3,5",
        "c4;2024-01-08;12",
    ]
    report = sync_orders(store, write_semicolons(tmp_path / "o.csv", rows), tmp_path)
    t = report.table("orders")
    assert (t.inserted, t.rejected) == (4, 0)
    assert t.decimal_commas == ["amount"]
    assert amounts(store) == [-3.5, 12.0, 49.69, 1234.5]


def test_currency_signs_and_thousands_separators_are_read(store: Store, tmp_path: Path) -> None:
    rows = [
        ["c1", "2024-01-05", "$50.33"],
        ["c2", "2024-01-06", "1,234.50"],
        ["c3", "2024-01-07", "€ 7.10"],
        ["c4", "2024-01-08", "2,000,000"],
    ]
    path = write_csv(tmp_path / "orders.csv", ["customer_id", "ordered_at", "amount"], rows)
    report = sync_orders(store, path, tmp_path)
    assert report.table("orders").decimal_commas == []
    assert amounts(store) == [7.1, 50.33, 1234.5, 2_000_000.0]


def test_a_misplaced_separator_is_not_read_as_thousands(store: Store, tmp_path: Path) -> None:
    """With a decimal point, "49,6" is not 496: the row is rejected, with its value."""
    rows = [["c1", "2024-01-05", "10.50"], ["c2", "2024-01-06", "20.00"]]
    rows += [["c3", "2024-01-07", "49,6"]]
    path = write_csv(tmp_path / "orders.csv", ["customer_id", "ordered_at", "amount"], rows)
    report = sync_orders(store, path, tmp_path)
    t = report.table("orders")
    assert (t.inserted, t.rejected) == (2, 1)
    assert t.reasons == [("amount: not a number", 1)]
    assert amounts(store) == [10.5, 20.0]


def test_numbers_both_marks_read_differently_ask_for_the_mark(store, tmp_path: Path) -> None:
    rows = ["c1;2024-01-05;1.250", "c2;2024-01-06;2.500"]
    path = write_semicolons(tmp_path / "o.csv", rows)
    with pytest.raises(ConfigError, match="decimal point and a decimal comma") as info:
        sync_orders(store, path, tmp_path)
    assert "'1.250'" in str(info.value) or "'2.500'" in str(info.value)
    assert 'decimal = ","' in (info.value.hint or "")
    assert not store.has_table("orders")
    sync_orders(store, path, tmp_path, decimal=",")
    assert amounts(store) == [1250.0, 2500.0]
    pointed = Store(None)
    sync_orders(pointed, path, tmp_path, decimal=".")  # and the other way, when it is so
    assert amounts(pointed) == [1.25, 2.5]


def test_too_many_rejects_load_nothing_and_point_at_the_rejects(store, tmp_path: Path) -> None:
    rows = [["c1", "not a date", "1"]] * 3 + [["c2", "2024-01-01", "1"]]
    path = write_csv(tmp_path / "orders.csv", ["customer_id", "ordered_at", "amount"], rows)
    with pytest.raises(RowsRejected) as info:
        sync_orders(store, path, tmp_path)
    assert "3 of 4 rows rejected" in str(info.value)
    assert "ordered_at: not a date (3 rows)" in str(info.value)
    assert ".csv" in (info.value.hint or "")
    assert not store.has_table("orders")


def test_unknown_customers_are_rejected_when_customers_are_given(store, tmp_path: Path) -> None:
    customers = write_csv(tmp_path / "customers.csv", ["customer_id", "city"], [["c1", "Oslo"]])
    orders = write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS[:3])
    mapping = Mapping.for_files(customers=customers, orders=orders)
    report = sync(store, mapping, rejects_dir=tmp_path / "r", max_reject_share=0.9)
    assert report.table("orders").reasons == [("customer_id: not in customers", 1)]
    assert store.count("orders") == 2


def test_a_bad_table_rolls_back_the_tables_before_it(store: Store, tmp_path: Path) -> None:
    customers = write_csv(tmp_path / "customers.csv", ["customer_id"], [["c1"], ["c2"]])
    orders = tmp_path / "orders.csv"
    orders.write_bytes(b"")  # an export that failed half-way
    mapping = Mapping.for_files(customers=customers, orders=orders)
    with pytest.raises(Exception, match="empty"):
        sync(store, mapping)
    assert not store.has_table("customers")


def test_resync_is_idempotent_and_incremental(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS)
    sync_orders(store, path, tmp_path)
    again = sync_orders(store, path, tmp_path).table("orders")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    changed = [list(r) for r in GOOD_ORDERS]
    changed[0][4] = "refunded"  # o1 was refunded since
    changed.append(["o6", "c3", "2024-04-01", "7", "completed"])
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, changed)
    third = sync_orders(store, path, tmp_path).table("orders")
    assert (third.inserted, third.updated, third.unchanged) == (1, 1, 4)
    assert store.count("orders") == 6
    kind = store.con.execute("SELECT kind FROM orders WHERE order_id = 'o1'").fetchall()
    assert kind == [("refunded",)]


def test_keyless_duplicates_can_be_kept(store: Store, tmp_path: Path) -> None:
    rows = [["c1", "2024-01-01", "5"], ["c1", "2024-01-01", "5"]]
    path = write_csv(tmp_path / "orders.csv", ["customer_id", "ordered_at", "amount"], rows)
    assert sync_orders(store, path, tmp_path).table("orders").rejected == 1
    fresh = Store(None)
    report = sync_orders(fresh, path, tmp_path, duplicates="keep")
    assert report.table("orders").inserted == 2


LINE_HEADER = ["order_id", "customer_id", "ordered_at", "amount", "category"]
# An export of order lines by category: order_id repeats with other values.
LINES_BY_CATEGORY = [
    ["o1", "c1", "2024-01-05", "50", "books"],
    ["o1", "c1", "2024-01-05", "20", "toys"],
    ["o2", "c2", "2024-01-07", "30", "books"],
]


def test_order_lines_without_a_line_id_are_all_kept(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", LINE_HEADER, LINES_BY_CATEGORY)
    t = sync_orders(store, path, tmp_path).table("orders")
    assert (t.inserted, t.rejected, t.numbered_rows) == (3, 0, 1)
    spend = store.con.execute(
        "SELECT sum(net_amount), count(DISTINCT order_id) FROM orders WHERE customer_id = 'c1'"
    ).fetchone()
    assert spend == (70.0, 1)
    again = sync_orders(store, path, tmp_path).table("orders")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)


def test_a_return_sharing_its_sales_order_id_is_added_to_the_order(
    store: Store, tmp_path: Path
) -> None:
    sale = ["o1", "c1", "2024-01-05", "50", "completed"]
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, [sale])
    sync_orders(store, path, tmp_path)
    # The next export holds the sale and, later, its return under the same order_id.
    returned = ["o1", "c1", "2024-01-20", "-50", "completed"]
    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, [sale, returned])
    t = sync_orders(store, path, tmp_path).table("orders")
    assert (t.inserted, t.updated, t.unchanged, t.rejected) == (1, 0, 1, 0)
    rows = store.con.execute("SELECT kind, net_amount FROM orders ORDER BY ordered_at").fetchall()
    assert rows == [("sale", 50.0), ("return", -50.0)]


def test_exact_repeats_of_an_order_line_are_still_duplicates(store: Store, tmp_path: Path) -> None:
    line = ["o1", "c1", "2024-01-05", "20", "toys"]
    lines = [["o1", "c1", "2024-01-05", "50", "books"], line, line]
    path = write_csv(tmp_path / "orders.csv", LINE_HEADER, lines)
    t = sync_orders(store, path, tmp_path).table("orders")
    assert (t.inserted, t.numbered_rows, t.reasons) == (2, 1, [("duplicate", 1)])
    assert t.rejects_file is not None
    with t.rejects_file.open(newline="") as f:
        assert [r["_reason"] for r in csv.DictReader(f)] == ["duplicate of row 2"]


def test_a_key_the_mapping_names_must_identify_one_row(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", LINE_HEADER, LINES_BY_CATEGORY)
    t = sync_orders(store, path, tmp_path, key=["order_id"]).table("orders")
    assert (t.inserted, t.numbered_rows, t.reasons) == (2, 0, [("same key", 1)])
    assert t.rejects_file is not None
    with t.rejects_file.open(newline="") as f:
        assert [r["_reason"] for r in csv.DictReader(f)] == ["same key as row 1, other values"]


def test_a_customer_listed_twice_with_other_values_is_a_conflict(
    store: Store, tmp_path: Path
) -> None:
    customers = write_csv(
        tmp_path / "customers.csv",
        ["customer_id", "signup_at", "city"],
        [["c1", "2023-01-01", "Oslo"], ["c1", "2023-01-01", "Rome"], ["c2", "2023-02-01", "Oslo"]],
    )
    orders = write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS[:1])
    report = sync(
        store, Mapping.for_files(customers=customers, orders=orders), rejects_dir=tmp_path
    )
    t = report.table("customers")
    assert (t.inserted, t.numbered_rows, t.reasons) == (2, 0, [("same key", 1)])
    assert store.con.execute("SELECT city FROM customers WHERE customer_id = 'c1'").fetchall() == [
        ("Oslo",)
    ]


def test_rows_read_by_updated_at_must_have_a_key_of_their_own(store: Store, tmp_path: Path) -> None:
    # Read incrementally, a numbered line could not be followed from one sync to the
    # next, so a repeated default key is rejected as a conflict instead.
    import sqlite3

    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE orders (order_id TEXT, customer_id TEXT, ordered_at TEXT, "
            "amount REAL, updated_at TEXT)"
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [
                ("o1", "c1", "2024-01-05", 50, "2024-01-05"),
                ("o1", "c1", "2024-01-05", 20, "2024-01-05"),
                ("o2", "c2", "2024-01-07", 30, "2024-01-07"),
            ],
        )
    mapping = Mapping(
        source=f"sqlite:///{db}",
        tables={"orders": TableMapping(table="orders", updated_at="updated_at")},
    )
    t = sync(store, mapping, rejects_dir=tmp_path / "rejects").table("orders")
    assert (t.inserted, t.numbered_rows, t.reasons) == (2, 0, [("same key", 1)])


def test_amount_is_quantity_times_unit_price_when_the_file_has_no_total(
    store: Store, tmp_path: Path
) -> None:
    # The shape of the UCI Online Retail export: lines with a quantity and a unit price.
    header = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    rows = [
        ["536365", "85123A", "6", "2010-12-01 08:26", "2.55", "17850"],
        ["C536379", "D", "-1", "2010-12-01 09:41", "27.50", "14527"],
        ["536370", "22728", "", "2010-12-01 08:45", "3.75", "12583"],
    ]
    t = sync_orders(store, write_csv(tmp_path / "retail.csv", header, rows), tmp_path).table(
        "orders"
    )
    assert t.derived == {"amount": "quantity * unit_price"}
    assert (t.inserted, t.reasons) == (2, [("amount (quantity * unit_price): empty", 1)])
    amounts = store.con.execute("SELECT order_id, amount, kind FROM orders ORDER BY 1").fetchall()
    # exactly 15.3, without binary floating point's 15.299999999999999
    assert amounts == [("536365", 15.3, "sale"), ("C536379", -27.5, "return")]


def test_no_amount_and_no_price_asks_for_either(store: Store, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "orders.csv",
        ["customer_id", "ordered_at", "Quantity"],
        [["c1", "2024-01-01", "2"]],
    )
    with pytest.raises(MissingColumns, match="'amount'") as info:
        sync_orders(store, path, tmp_path)
    assert "quantity and unit_price" in (info.value.hint or "")


def test_customer_attributes_keep_types_and_skip_secrets(store: Store, tmp_path: Path) -> None:
    customers = write_csv(
        tmp_path / "customers.csv",
        ["customer_id", "signup_at", "City", "male_female_ratio", "password"],
        [["c1", "2023-01-01", "Oslo", "0.4", "x"], ["c2", "2023-02-01", "Rome", "0.6", "y"]],
    )
    orders = write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS[:1])
    sync(store, Mapping.for_files(customers=customers, orders=orders))
    types = dict(
        store.con.execute("SELECT column_name, column_type FROM (DESCRIBE customers)").fetchall()
    )
    assert types["city"] == "VARCHAR"
    assert types["male_female_ratio"] == "DOUBLE"
    assert types["signup_at"] == "TIMESTAMP"
    assert "password" not in types


def test_categories_are_filled_from_products(store: Store, tmp_path: Path) -> None:
    products = write_csv(tmp_path / "products.csv", ["product_id", "category"], [["p1", "toys"]])
    orders = write_csv(
        tmp_path / "orders.csv",
        ["customer_id", "ordered_at", "amount", "product_id"],
        [["c1", "2024-01-01", "3", "p1"]],
    )
    sync(store, Mapping.for_files(products=products, orders=orders))
    assert store.con.execute("SELECT category FROM orders").fetchall() == [("toys",)]


def test_a_connection_dropped_mid_stream_leaves_the_store_as_it_was(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    from custintel.data.sql import Database
    from custintel.errors import SourceConnectionError

    path = write_csv(tmp_path / "orders.csv", ORDER_HEADER, GOOD_ORDERS)
    sync_orders(store, path, tmp_path)
    schema = pa.schema([(c, pa.string()) for c in ORDER_HEADER])

    def dropping_reader(self: Database, spec: object) -> pa.RecordBatchReader:
        def batches():
            yield pa.record_batch(
                [
                    pa.array(["o7"]),
                    pa.array(["c7"]),
                    pa.array(["2024-05-01"]),
                    pa.array(["3"]),
                    pa.array(["completed"]),
                ],
                schema=schema,
            )
            raise SourceConnectionError("connection lost: server closed", where="db")

        return pa.RecordBatchReader.from_batches(schema, batches())

    monkeypatch.setattr(Database, "read_batches", dropping_reader)
    mapping = Mapping(source="sqlite://", tables={"orders": TableMapping(table="orders")})
    with pytest.raises(SourceConnectionError, match="connection lost"):
        sync(store, mapping)
    assert store.count("orders") == 5
    assert store.con.execute("SELECT count(*) FROM orders WHERE order_id = 'o7'").fetchall() == [
        (0,)
    ]


def test_an_empty_database_table_is_refused_on_first_sync(store: Store, tmp_path: Path) -> None:
    import sqlite3

    from custintel.errors import EmptySource

    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (user_id TEXT, created_at TEXT, total REAL)")
    mapping = Mapping(source=f"sqlite:///{db}", tables={"orders": TableMapping(table="orders")})
    with pytest.raises(EmptySource, match="table orders returned no rows") as info:
        sync(store, mapping)
    assert "shop.sqlite" in (info.value.where or "")
    assert not store.has_table("orders")
