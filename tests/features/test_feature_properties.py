"""Properties of the customer features that must hold for any order history.

(a) no leakage: rows at or after as_of never change a feature; (b) the order of the
input rows does not matter; (c) many cutoffs in one query give the same rows as one
cutoff at a time.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from custintel.features import customer_features

SETTINGS = settings(max_examples=30, deadline=None)
BASE = datetime(2024, 1, 1)

SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("ordered_at", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("order_id", pa.string()),
        ("product_id", pa.string()),
        ("category", pa.string()),
        ("store_id", pa.string()),
        ("kind", pa.string()),
        ("net_amount", pa.float64()),
    ]
)


def store(rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory store with the canonical ``orders`` table holding ``rows``."""
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
    con.register("incoming", pa.Table.from_pylist(rows, schema=SCHEMA))
    con.sql(
        """
        INSERT INTO orders BY NAME
        SELECT customer_id, ordered_at, amount, order_id, product_id, category, store_id,
               kind, net_amount
        FROM incoming
        """
    )
    con.unregister("incoming")
    return con


@st.composite
def order_rows(draw: st.DrawFn, first_day: int = 0, last_day: int = 60) -> dict[str, Any]:
    kind = draw(st.sampled_from(["sale", "sale", "sale", "return", "refunded", "cancelled"]))
    amount = draw(st.integers(1, 500)) / 4
    amount = -amount if kind == "return" else amount
    when = BASE + timedelta(days=draw(st.integers(first_day, last_day)),
                            hours=draw(st.sampled_from([0, 9, 23])))  # fmt: skip
    return {
        "customer_id": draw(st.sampled_from(["a", "b", "c", "d"])),
        "ordered_at": when,
        "amount": amount,
        "order_id": draw(st.sampled_from([None, None, "o1", "o2", "o3"])),
        "product_id": draw(st.sampled_from([None, "p1", "p2", "p3"])),
        "category": draw(st.sampled_from([None, "Toys", "Books"])),
        "store_id": draw(st.sampled_from([None, "s1", "s2"])),
        "kind": kind,
        "net_amount": amount if kind in ("sale", "return") else 0.0,
    }


def keyed(table: pa.Table) -> dict[tuple[date, str], dict[str, Any]]:
    return {(r["as_of"], r["customer_id"]): r for r in table.to_pylist()}


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def assert_same_rows(got: pa.Table, want: pa.Table, columns: list[str]) -> None:
    g, w = keyed(got), keyed(want)
    assert g.keys() == w.keys()
    for key, row in w.items():
        for name in columns:
            assert same_value(g[key][name], row[name]), (key, name, g[key][name], row[name])


as_of_day = st.integers(1, 61).map(lambda d: (BASE + timedelta(days=d)).date())


@SETTINGS
@given(
    past=st.lists(order_rows(), max_size=25),
    future_a=st.lists(order_rows(0, 30), max_size=10),
    future_b=st.lists(order_rows(0, 30), max_size=10),
    as_of=as_of_day,
)
def test_rows_at_or_after_as_of_change_nothing(past, future_a, future_b, as_of):
    cutoff = datetime(as_of.year, as_of.month, as_of.day)
    seen = [r for r in past if r["ordered_at"] < cutoff]
    # future rows start exactly at midnight of as_of (first_day=0 from as_of)
    shift = cutoff - BASE
    later_a = [{**r, "ordered_at": r["ordered_at"] + shift} for r in future_a]
    later_b = [{**r, "ordered_at": r["ordered_at"] + shift} for r in future_b]
    want = customer_features(store(seen), as_of)
    for later in (later_a, later_b):
        got = customer_features(store(seen + later), as_of)
        assert got.column_names == want.column_names
        assert_same_rows(got, want, want.column_names)


@SETTINGS
@given(rows=st.lists(order_rows(), min_size=1, max_size=30), data=st.data(), as_of=as_of_day)
def test_row_order_does_not_matter(rows, data, as_of):
    shuffled = data.draw(st.permutations(rows))
    want = customer_features(store(rows), as_of)
    got = customer_features(store(shuffled), as_of)
    assert got.column_names == want.column_names
    assert_same_rows(got, want, want.column_names)


@SETTINGS
@given(
    rows=st.lists(order_rows(), min_size=1, max_size=30),
    cutoffs=st.lists(as_of_day, min_size=1, max_size=4),
)
def test_many_cutoffs_in_one_query_equal_one_at_a_time(rows, cutoffs):
    con = store(rows)
    together = customer_features(con, cutoffs)
    assert together["as_of"].to_pylist() == sorted(together["as_of"].to_pylist())
    for d in set(cutoffs):
        alone = customer_features(con, d)
        part = together.filter(pa.compute.equal(together["as_of"], pa.scalar(d, pa.date32())))
        # categories are ranked at the latest cutoff, so an early cutoff alone may lack
        # columns: a category first sold after d is all zeros (no share) at d, and
        # spend__other/share__other exist alone only once some category exists
        assert set(alone.column_names) <= set(part.column_names)
        assert_same_rows(part, alone, alone.column_names)
        for name in set(part.column_names) - set(alone.column_names):
            if not name.endswith("__other"):
                values = part[name].to_pylist()
                assert all(v in (0.0, None) for v in values), (name, values)
