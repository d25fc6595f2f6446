"""Customer features: exact values on a hand-computed fixture, and an independent oracle.

The oracle recomputes every feature with plain Python loops over a seeded random order
history and must agree with the SQL at several cutoffs.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot

from custintel.errors import ConfigError, StoreError
from custintel.features import (
    FEATURE_COLUMNS,
    category_slug,
    customer_features,
    feature_sql,
    top_categories,
)

ORDER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("ordered_at", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("order_id", pa.string()),
        ("line_id", pa.string()),
        ("product_id", pa.string()),
        ("category", pa.string()),
        ("quantity", pa.float64()),
        ("unit_price", pa.float64()),
        ("store_id", pa.string()),
        ("seller_id", pa.string()),
        ("status", pa.string()),
        ("kind", pa.string()),
        ("net_amount", pa.float64()),
    ]
)


def net_amount(kind: str, amount: float) -> float:
    return amount if kind in ("sale", "return") else 0.0


def orders_store(rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory store whose ``orders`` table holds ``rows`` (missing columns NULL)."""
    full = []
    for i, row in enumerate(rows):
        r = {name: row.get(name) for name in ORDER_SCHEMA.names}
        r["line_id"] = r["line_id"] or f"L{i}"
        r["net_amount"] = net_amount(r["kind"], r["amount"])
        full.append(r)
    con = duckdb.connect()
    cols = ", ".join(f"{f.name} {duck_type(f.type)}" for f in ORDER_SCHEMA)
    con.sql(f"CREATE TABLE orders ({cols})")
    con.register("incoming", pa.Table.from_pylist(full, schema=ORDER_SCHEMA))
    con.sql("INSERT INTO orders SELECT * FROM incoming")
    con.unregister("incoming")
    return con


def duck_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    return "DOUBLE" if pa.types.is_floating(t) else "VARCHAR"


def row(customer, when, amount, kind="sale", order=None, product=None, category=None,
        store=None):  # fmt: skip
    return {
        "customer_id": customer,
        "ordered_at": when,
        "amount": amount,
        "kind": kind,
        "order_id": order,
        "product_id": product,
        "category": category,
        "store_id": store,
    }


AS_OF = date(2024, 3, 1)  # a Friday
HG, TOYS = "Home & Garden", "Toys"

FIXTURE = [
    # A: two orders with ids, a return, a cancellation, and a row on as_of itself
    row("A", datetime(2024, 1, 1, 10), 100.0, order="O1", product="P1", category=HG, store="S1"),
    row("A", datetime(2024, 1, 1, 10), 50.0, order="O1", product="P2", category=TOYS, store="S1"),
    row("A", datetime(2024, 2, 24, 12), 30.0, order="O2", product="P1", category=HG, store="S2"),
    row("A", datetime(2024, 2, 26, 9), -50.0, "return", "O1", "P2", TOYS, "S1"),
    row("A", datetime(2024, 2, 28, 9), 80.0, "cancelled", "O3", "P3", TOYS, "S1"),
    row("A", datetime(2024, 3, 1, 0), 500.0, order="O4", product="P1", category=HG, store="S1"),
    # B: no order ids (one order per day), NULL categories and stores, a refund
    row("B", datetime(2023, 11, 15, 8), 20.0, product="P4"),
    row("B", datetime(2023, 11, 15, 18), 10.0, product="P5", category=TOYS),
    row("B", datetime(2024, 2, 3, 11), 40.0, product="P4"),
    row("B", datetime(2024, 2, 10, 11), 25.0, "refunded", product="P4"),
    # C: never bought: a cancellation and a return only
    row("C", datetime(2024, 2, 20, 15), 60.0, "cancelled", "O9", "P6", TOYS, "S1"),
    row("C", datetime(2024, 2, 22, 15), -15.0, "return", "O10", "P6", TOYS, "S1"),
    # D: only after as_of, so unknown at as_of
    row("D", datetime(2024, 3, 2), 10.0, order="O11"),
]

NAN = float("nan")
EXPECTED = {
    #                     A                 B                  C
    "recency_days": [6, 27, 8],
    "frequency": [2, 2, 0],
    "monetary": [130.0, 70.0, -15.0],
    "tenure_days": [60, 107, 10],
    "purchase_days": [2, 2, 0],
    "repeat_spend": [-20.0, 40.0, -15.0],
    "monetary_mean": [65.0, 35.0, NAN],
    "order_value_max": [150.0, 40.0, NAN],
    "order_value_std": [60.0, 5.0, NAN],
    "ipi_mean_days": [54.0, 80.0, NAN],
    "ipi_std_days": [0.0, 0.0, NAN],
    "recency_vs_usual": [6 / 54, 27 / 80, NAN],
    "orders_7d": [1, 0, 0],
    "orders_30d": [1, 1, 0],
    "orders_90d": [2, 1, 0],
    "orders_365d": [2, 2, 0],
    "spend_7d": [-20.0, 0.0, 0.0],
    "spend_30d": [-20.0, 40.0, -15.0],
    "spend_90d": [130.0, 40.0, -15.0],
    "spend_365d": [130.0, 70.0, -15.0],
    "trend_90d": [1.0, 10 / 70, -1.0],
    "distinct_products": [2, 2, 0],
    "distinct_categories": [2, 1, 0],
    "distinct_stores": [2, 0, 0],
    "weekend_share": [0.5, 0.5, NAN],
    "refund_count": [1, 1, 1],
    "refund_amount": [50.0, 25.0, 15.0],
    "cancelled_count": [1, 0, 1],
    "avg_basket_lines": [1.5, 1.5, NAN],
    "spend__home_garden": [130.0, 0.0, 0.0],
    "spend__toys": [50.0, 10.0, 0.0],
    "spend__other": [0.0, 60.0, 0.0],
    "share__home_garden": [130 / 180, 0.0, NAN],
    "share__toys": [50 / 180, 10 / 70, NAN],
    "share__other": [0.0, 60 / 70, NAN],
}


def as_floats(values: list[Any]) -> list[float]:
    return [NAN if v is None else float(v) for v in values]


@pytest.fixture
def fixture_con() -> duckdb.DuckDBPyConnection:
    return orders_store(FIXTURE)


def test_columns_come_in_the_documented_order(fixture_con):
    table = customer_features(fixture_con, AS_OF)
    assert table.column_names == [*FEATURE_COLUMNS, *list(EXPECTED)[-6:]]
    assert table.schema.field("as_of").type == pa.date32()
    for name in ("recency_days", "frequency", "orders_30d", "refund_count"):
        assert table.schema.field(name).type == pa.int64(), name


def test_one_row_per_customer_seen_before_as_of(fixture_con):
    table = customer_features(fixture_con, AS_OF)
    assert table["customer_id"].to_pylist() == ["A", "B", "C"]
    assert set(table["as_of"].to_pylist()) == {AS_OF}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_hand_computed_value(fixture_con, name):
    table = customer_features(fixture_con, AS_OF)
    got = as_floats(table[name].to_pylist())
    assert got == pytest.approx(EXPECTED[name], nan_ok=True, rel=1e-12), name


def test_max_categories_puts_the_rest_in_other(fixture_con):
    table = customer_features(fixture_con, AS_OF, max_categories=1)
    cats = [c for c in table.column_names if "__" in c]
    assert cats == ["spend__home_garden", "spend__other", "share__home_garden", "share__other"]
    assert table["spend__other"].to_pylist() == [50.0, 70.0, 0.0]


def test_no_category_columns_without_categories():
    con = orders_store([{**r, "category": None} for r in FIXTURE])
    table = customer_features(con, AS_OF)
    assert table.column_names == list(FEATURE_COLUMNS)
    assert table["distinct_categories"].to_pylist() == [0, 0, 0]


def test_max_categories_zero_keeps_only_other(fixture_con):
    table = customer_features(fixture_con, AS_OF, max_categories=0)
    assert [c for c in table.column_names if "__" in c] == ["spend__other", "share__other"]
    assert table["spend__other"].to_pylist() == [180.0, 70.0, 0.0]


def test_top_categories_rank_by_sale_spend(fixture_con):
    assert top_categories(fixture_con, AS_OF) == [HG, TOYS]
    assert top_categories(fixture_con, AS_OF, 1) == [HG]
    assert top_categories(fixture_con, date(2024, 1, 1)) == [TOYS]
    assert top_categories(fixture_con, date(2023, 11, 1)) == []


def test_fixed_categories_give_the_same_columns_at_any_cutoff(fixture_con):
    # as a trained model would score: its own category list, even one unseen yet
    fixed = [TOYS, "Garden Tools"]
    early = customer_features(fixture_con, date(2023, 12, 1), categories=fixed)
    late = customer_features(fixture_con, AS_OF, categories=fixed)
    cats = ["spend__toys", "spend__garden_tools", "spend__other"]
    cats += [c.replace("spend__", "share__") for c in cats]
    assert early.column_names == late.column_names == [*FEATURE_COLUMNS, *cats]
    assert early["spend__toys"].to_pylist() == [10.0]  # B only, on 2023-11-15
    assert late["spend__other"].to_pylist() == [130.0, 60.0, 0.0]
    assert late["spend__garden_tools"].to_pylist() == [0.0, 0.0, 0.0]


def test_missing_orders_table_is_a_store_error():
    with pytest.raises(StoreError, match="orders"):
        customer_features(duckdb.connect(), AS_OF)


def test_nobody_before_the_first_order_gives_an_empty_table(fixture_con):
    table = customer_features(fixture_con, date(2020, 1, 1))
    assert table.num_rows == 0
    assert table.column_names == list(FEATURE_COLUMNS)


def test_a_purchase_refunded_in_full_nets_to_exactly_zero():
    # 0.1 + 0.2 - 0.3 is 5.6e-17 in doubles, in any order: unrounded, a rising trend.
    con = orders_store(
        [
            row("Z", datetime(2024, 2, 1, 9), 0.1, order="O1"),
            row("Z", datetime(2024, 2, 2, 9), 0.2, order="O2"),
            row("Z", datetime(2024, 2, 20, 9), -0.3, "return", "O1"),
        ]
    )
    features = customer_features(con, AS_OF).to_pylist()[0]
    assert features["monetary"] == 0.0
    assert features["spend_90d"] == 0.0
    assert features["trend_90d"] == 0.0
    assert features["repeat_spend"] == -0.1  # spend after the first day, the refund included


def test_bad_as_of_is_a_config_error(fixture_con):
    with pytest.raises(ConfigError, match="time of day"):
        customer_features(fixture_con, datetime(2024, 3, 1, 12))
    with pytest.raises(ConfigError, match="empty"):
        customer_features(fixture_con, [])
    with pytest.raises(ConfigError, match="max_categories"):
        customer_features(fixture_con, AS_OF, max_categories=-1)
    with pytest.raises(ConfigError, match="table name"):
        feature_sql("cutoffs; DROP TABLE orders")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Home & Garden", "home_garden"),
        ("Decoración", "decoracion"),
        ("  T-Shirts (XL) ", "t_shirts_xl"),
        ("!!!", "category"),
        ("123", "123"),
    ],
)
def test_category_slug(name, slug):
    assert category_slug(name) == slug


def test_clashing_slugs_get_suffixes():
    con = orders_store(
        [
            row("A", datetime(2024, 1, 1), 30.0, category="Home-Garden"),
            row("A", datetime(2024, 1, 2), 20.0, category="home garden"),
            row("A", datetime(2024, 1, 3), 10.0, category="Other"),
        ]
    )
    names = customer_features(con, AS_OF).column_names
    assert [c for c in names if c.startswith("spend__")] == [
        "spend__home_garden",
        "spend__home_garden_2",
        "spend__other_2",
        "spend__other",
    ]


def test_feature_sql_transpiles_to_spark():
    for categories in ([], [HG, TOYS, "it's"]):
        spark = sqlglot.transpile(feature_sql("cutoffs", categories), read="duckdb", write="spark")
        assert len(spark) == 1
        assert "DATEDIFF" in spark[0].upper()
        assert sqlglot.parse_one(spark[0], read="spark") is not None


def test_feature_sql_avoids_duckdb_only_syntax():
    sql = feature_sql("cutoffs", [HG]).upper()
    for word in ("QUALIFY", "COLUMNS(", "FILTER (", "LIST_", "STRUCT_", "::"):
        assert word not in sql, word


# --------------------------------------------------------------------------- oracle


def random_orders(seed: int = 7, n_customers: int = 50, n_rows: int = 2000) -> list[dict]:
    """A seeded order history: orders of 1-4 lines, all four kinds, NULL ids and labels."""
    rng = np.random.default_rng(seed)
    start = datetime(2022, 1, 1)
    categories = ["Toys", "Books", "Home & Garden", "Food", "Tech", None]
    rows: list[dict] = []
    n_order = 0
    while len(rows) < n_rows:
        c = int(rng.integers(n_customers))
        customer = f"C{c:02d}"
        when = start + timedelta(minutes=int(rng.integers(0, 2 * 365 * 24 * 60)))
        kind = str(
            rng.choice(["sale", "return", "refunded", "cancelled"], p=[0.8, 0.08, 0.06, 0.06])
        )
        n_order += 1
        order_id = None if c % 5 == 0 or rng.random() < 0.05 else f"O{n_order}"
        for _ in range(int(rng.integers(1, 5))):
            # now and then a line of the same order lands on a later day
            at = when + timedelta(days=int(rng.random() < 0.03) * int(rng.integers(1, 3)))
            amount = round(float(rng.uniform(1, 200)), 2)
            rows.append(
                row(
                    customer,
                    at,
                    -amount if kind == "return" else amount,
                    kind,
                    order_id,
                    f"P{int(rng.integers(40))}",
                    categories[int(rng.integers(len(categories)))] if c % 7 else None,
                    None if c % 3 == 0 else f"S{int(rng.integers(4))}",
                )
            )
    return rows


def oracle(rows: list[dict], as_of: date, categories: list[str]) -> dict[str, dict[str, float]]:
    """Every feature of every customer at ``as_of``, by plain loops (docs/features.md)."""
    cutoff = datetime(as_of.year, as_of.month, as_of.day)
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["ordered_at"] < cutoff:
            by_customer[r["customer_id"]].append(r)

    def age(r: dict) -> int:
        return (as_of - r["ordered_at"].date()).days

    out = {}
    for customer, rs in by_customer.items():
        sales = [r for r in rs if r["kind"] == "sale"]
        orders: dict[tuple, list[dict]] = defaultdict(list)
        for r in sales:
            key = (r["order_id"], None) if r["order_id"] is not None else (None, age(r))
            orders[key].append(r)
        totals = [sum(r["amount"] for r in o) for o in orders.values()]
        order_ages = [max(age(r) for r in o) for o in orders.values()]
        days = sorted(set(order_ages), reverse=True)
        gaps = [a - b for a, b in itertools.pairwise(days)]
        f: dict[str, float] = {}
        dated = sales or rs
        f["recency_days"] = min(age(r) for r in dated)
        f["frequency"] = len(orders)
        f["monetary"] = sum(net_amount(r["kind"], r["amount"]) for r in rs)
        f["tenure_days"] = max(age(r) for r in dated)
        f["purchase_days"] = len(days)
        first_day = [t for t, a in zip(totals, order_ages, strict=True) if a == max(order_ages)]
        f["repeat_spend"] = f["monetary"] - sum(first_day)
        f["monetary_mean"] = f["monetary"] / len(orders) if orders else NAN
        f["order_value_max"] = max(totals) if totals else NAN
        f["order_value_std"] = float(np.std(totals)) if totals else NAN
        f["ipi_mean_days"] = float(np.mean(gaps)) if gaps else NAN
        f["ipi_std_days"] = float(np.std(gaps)) if gaps else NAN
        f["recency_vs_usual"] = f["recency_days"] / f["ipi_mean_days"] if gaps else NAN
        spend = {}
        for n in (7, 30, 90, 365):
            f[f"orders_{n}d"] = sum(1 for a in order_ages if a <= n)
            spend[n] = sum(net_amount(r["kind"], r["amount"]) for r in rs if age(r) <= n)
            f[f"spend_{n}d"] = spend[n]
        prev = sum(net_amount(r["kind"], r["amount"]) for r in rs if 90 < age(r) <= 180)
        denominator = abs(spend[90]) + abs(prev)
        f["trend_90d"] = (spend[90] - prev) / denominator if denominator else 0.0
        for col, key in (("products", "product_id"), ("categories", "category"),
                         ("stores", "store_id")):  # fmt: skip
            f[f"distinct_{col}"] = len({r[key] for r in sales if r[key] is not None})
        weekdays = [(as_of - timedelta(days=a)).weekday() for a in days]
        f["weekend_share"] = sum(1 for w in weekdays if w >= 5) / len(days) if days else NAN
        refunds = [r for r in rs if r["kind"] in ("return", "refunded")]
        f["refund_count"] = len(refunds)
        f["refund_amount"] = sum(abs(r["amount"]) for r in refunds)
        f["cancelled_count"] = sum(1 for r in rs if r["kind"] == "cancelled")
        f["avg_basket_lines"] = len(sales) / len(orders) if orders else NAN
        sale_spend = sum(r["amount"] for r in sales)
        rest = sale_spend
        for cat in categories:
            cat_spend = sum(r["amount"] for r in sales if r["category"] == cat)
            rest -= cat_spend
            f[f"spend__{category_slug(cat)}"] = cat_spend
            f[f"share__{category_slug(cat)}"] = cat_spend / sale_spend if sale_spend > 0 else NAN
        f["spend__other"] = rest
        f["share__other"] = rest / sale_spend if sale_spend > 0 else NAN
        out[customer] = f
    return out


@pytest.fixture(scope="module")
def random_rows() -> list[dict]:
    return random_orders()


@pytest.mark.parametrize("max_categories", [30, 3])
def test_sql_matches_the_oracle(random_rows, max_categories):
    con = orders_store(random_rows)
    cutoffs = [date(2022, 6, 1), date(2023, 2, 14), date(2024, 1, 1)]
    table = customer_features(con, cutoffs, max_categories=max_categories)

    last = datetime(2024, 1, 1)
    spend: dict[str, float] = defaultdict(float)
    for r in random_rows:
        if r["kind"] == "sale" and r["category"] is not None and r["ordered_at"] < last:
            spend[r["category"]] += r["amount"]
    ranked = sorted(spend, key=lambda c: (-spend[c], c))[:max_categories]

    got = table.to_pylist()
    assert {(g["as_of"], g["customer_id"]) for g in got} == {
        (d, c) for d in cutoffs for c in oracle(random_rows, d, ranked)
    }
    feature_names = [c for c in table.column_names if c not in ("customer_id", "as_of")]
    assert len(feature_names) == len(FEATURE_COLUMNS) - 2 + 2 * (len(ranked) + 1)
    for d in cutoffs:
        expected = oracle(random_rows, d, ranked)
        for g in (g for g in got if g["as_of"] == d):
            want = expected[g["customer_id"]]
            for name in feature_names:
                value = NAN if g[name] is None else float(g[name])
                assert math.isclose(value, want[name], rel_tol=1e-9, abs_tol=1e-9) or (
                    math.isnan(value) and math.isnan(want[name])
                ), (d, g["customer_id"], name, value, want[name])
