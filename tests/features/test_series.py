"""Sales series: dense calendars, period starts, totals that add up, filters, errors."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from custintel.errors import ConfigError, StoreError
from custintel.features import sales_series
from custintel.features.series import calendar

SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("ordered_at", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("order_id", pa.string()),
        ("category", pa.string()),
        ("store_id", pa.string()),
        ("seller_id", pa.string()),
        ("kind", pa.string()),
        ("net_amount", pa.float64()),
    ]
)


def store(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """Rows are (customer, ordered_at, amount, order_id, category, store, seller, kind)."""
    con = duckdb.connect()
    con.sql(
        """
        CREATE TABLE orders (
          customer_id VARCHAR, ordered_at TIMESTAMP, amount DOUBLE, order_id VARCHAR,
          line_id VARCHAR, product_id VARCHAR, category VARCHAR, quantity DOUBLE,
          unit_price DOUBLE, store_id VARCHAR, seller_id VARCHAR, status VARCHAR,
          kind VARCHAR, net_amount DOUBLE
        )
        """
    )
    records = [
        dict(zip(SCHEMA.names[:-1], r, strict=True))
        | {"net_amount": r[2] if r[7] in ("sale", "return") else 0.0}
        for r in rows
    ]
    con.register("incoming", pa.Table.from_pylist(records, schema=SCHEMA))
    con.sql(f"INSERT INTO orders BY NAME SELECT {', '.join(SCHEMA.names)} FROM incoming")
    con.unregister("incoming")
    return con


ROWS = [
    # 2024-01-01 is a Monday
    ("A", datetime(2024, 1, 1, 9), 10.0, "O1", "Toys", "S1", "X1", "sale"),
    ("A", datetime(2024, 1, 1, 9), 5.0, "O1", "Books", "S1", "X1", "sale"),
    ("B", datetime(2024, 1, 3, 12), 20.0, None, "Toys", "S2", "X2", "sale"),
    ("B", datetime(2024, 1, 3, 18), 7.0, None, None, "S2", "X2", "sale"),
    ("A", datetime(2024, 1, 9, 10), -4.0, "O1", "Toys", "S1", "X1", "return"),
    ("C", datetime(2024, 1, 20, 10), 30.0, "O2", "Books", None, "X1", "cancelled"),
    ("C", datetime(2024, 2, 14, 10), 50.0, "O3", "Books", "S1", "X2", "sale"),
    ("C", datetime(2024, 2, 29, 23), 8.0, "O4", "Toys", "S2", "X1", "sale"),
    ("A", datetime(2024, 3, 1, 0), 100.0, "O5", "Toys", "S1", "X1", "sale"),
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return store(ROWS)


def as_dict(table: pa.Table) -> dict[tuple[str, date], tuple[float, int]]:
    return {(r["series"], r["period"]): (r["revenue"], r["orders"]) for r in table.to_pylist()}


def test_daily_total_is_dense_and_zero_filled(con):
    table = sales_series(con, "D", as_of=date(2024, 3, 1))
    assert table.schema.names == ["series", "period", "revenue", "orders"]
    assert table.schema.field("period").type == pa.date32()
    periods = table["period"].to_pylist()
    assert periods == [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    got = as_dict(table)
    assert got[("total", date(2024, 1, 1))] == (15.0, 1)
    assert got[("total", date(2024, 1, 2))] == (0.0, 0)
    # two rows without order id on one day for one customer: one order
    assert got[("total", date(2024, 1, 3))] == (27.0, 1)
    assert got[("total", date(2024, 1, 9))] == (-4.0, 0)
    assert got[("total", date(2024, 1, 20))] == (0.0, 0)
    assert got[("total", date(2024, 2, 29))] == (8.0, 1)


def test_weekly_periods_start_on_monday(con):
    table = sales_series(con, "W", as_of=date(2024, 3, 1))
    periods = table["period"].to_pylist()
    assert all(p.weekday() == 0 for p in periods)
    assert periods == [date(2024, 1, 1) + timedelta(weeks=i) for i in range(9)]
    got = as_dict(table)
    assert got[("total", date(2024, 1, 1))] == (42.0, 2)
    assert got[("total", date(2024, 1, 8))] == (-4.0, 0)
    assert got[("total", date(2024, 1, 15))] == (0.0, 0)
    assert got[("total", date(2024, 2, 26))] == (8.0, 1)  # the last, partial week


def test_monthly_periods_start_on_the_first(con):
    table = sales_series(con, "M")  # no as_of: every row, up to 2024-03-01
    assert table["period"].to_pylist() == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    got = as_dict(table)
    assert got[("total", date(2024, 1, 1))] == (38.0, 2)
    assert got[("total", date(2024, 2, 1))] == (58.0, 2)
    assert got[("total", date(2024, 3, 1))] == (100.0, 1)


@pytest.mark.parametrize("freq", ["D", "W", "M"])
@pytest.mark.parametrize("by", ["category", "store_id", "seller_id"])
def test_by_series_share_one_calendar_and_add_up_to_the_total(con, freq, by):
    total = as_dict(sales_series(con, freq, as_of=date(2024, 3, 1)))
    split = sales_series(con, freq, by=by, as_of=date(2024, 3, 1))
    periods_by_series = defaultdict(list)
    for r in split.to_pylist():
        periods_by_series[r["series"]].append(r["period"])
    calendars = {tuple(p) for p in periods_by_series.values()}
    assert calendars == {tuple(sorted(p for _, p in total))}
    revenue: dict[date, float] = defaultdict(float)
    for (_, period), (rev, _) in as_dict(split).items():
        revenue[period] += rev
    assert revenue == pytest.approx({p: v[0] for (_, p), v in total.items()})
    if by != "category":  # here every order has one store and one seller
        orders: dict[date, int] = defaultdict(int)
        for (_, period), (_, n) in as_dict(split).items():
            orders[period] += n
        assert orders == {p: v[1] for (_, p), v in total.items()}


def test_null_group_values_become_none_label(con):
    table = sales_series(con, "M", by="category", as_of=date(2024, 3, 1))
    assert sorted(set(table["series"].to_pylist())) == ["(none)", "Books", "Toys"]
    got = as_dict(table)
    assert got[("(none)", date(2024, 1, 1))] == (7.0, 1)
    assert got[("(none)", date(2024, 2, 1))] == (0.0, 0)
    # order O1 has a Toys line and a Books line: one order in each series
    assert got[("Toys", date(2024, 1, 1))] == (26.0, 2)
    assert got[("Books", date(2024, 1, 1))] == (5.0, 1)


def test_where_filters_rows(con):
    table = sales_series(con, "M", as_of=date(2024, 3, 1), where="seller_id = 'X2'")
    assert as_dict(table) == {
        ("total", date(2024, 1, 1)): (27.0, 1),
        ("total", date(2024, 2, 1)): (50.0, 1),
    }


def test_start_and_as_of_bound_the_calendar(con):
    table = sales_series(con, "D", start=date(2024, 1, 2), as_of=date(2024, 1, 5))
    assert as_dict(table) == {
        ("total", date(2024, 1, 2)): (0.0, 0),
        ("total", date(2024, 1, 3)): (27.0, 1),
        ("total", date(2024, 1, 4)): (0.0, 0),
    }


def test_no_rows_gives_an_empty_table(con):
    table = sales_series(con, "W", as_of=date(2023, 1, 1))
    assert table.num_rows == 0
    assert table.schema.names == ["series", "period", "revenue", "orders"]


def test_bad_by_names_the_allowed_values(con):
    with pytest.raises(ConfigError, match="category, store_id, seller_id"):
        sales_series(con, "D", by="customer_id")


@pytest.mark.parametrize(
    "where",
    ["seller_id = 'X1'; DROP TABLE orders", "1 = 1) OR (1 = 1", "x IN (SELECT 1)", "no_such = 1"],
)
def test_bad_where_is_a_config_error(con, where):
    with pytest.raises(ConfigError):
        sales_series(con, "D", where=where)
    assert con.sql("SELECT COUNT(*) FROM orders").fetchall() == [(len(ROWS),)]


def test_missing_orders_table_is_a_store_error():
    with pytest.raises(StoreError, match="orders"):
        sales_series(duckdb.connect(), "D")


def test_bad_freq_is_a_config_error(con):
    with pytest.raises(ConfigError, match="freq"):
        sales_series(con, "Y")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("freq", "first", "last", "expected"),
    [
        ("M", date(2023, 11, 30), date(2024, 2, 1), ["2023-11-01", "2023-12-01", "2024-01-01",
                                                     "2024-02-01"]),
        ("W", date(2024, 1, 7), date(2024, 1, 8), ["2024-01-01", "2024-01-08"]),
        ("D", date(2024, 2, 28), date(2024, 3, 1), ["2024-02-28", "2024-02-29", "2024-03-01"]),
    ],
)  # fmt: skip
def test_calendar(freq, first, last, expected):
    assert [d.isoformat() for d in calendar(first, last, freq)] == expected
