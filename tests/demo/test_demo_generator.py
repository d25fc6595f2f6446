"""The demo shop generator: shape, invariants and the signals later models rely on."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from custintel.demo import DemoShop, generate_shop
from custintel.errors import ConfigError

START, END = date(2022, 1, 1), date(2025, 12, 31)
TS = pa.timestamp("us")


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return generate_shop(2_000, seed=7)


@pytest.fixture(scope="module")
def orders(shop: DemoShop) -> pd.DataFrame:
    return shop.orders.to_pandas()


@pytest.fixture(scope="module")
def sales(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[orders["status"] == "completed"]


# --- determinism and schema --------------------------------------------------------------


def test_same_seed_gives_identical_tables() -> None:
    a, b = generate_shop(500, seed=3), generate_shop(500, seed=3)
    for name in ("customers", "orders", "products", "reviews"):
        assert getattr(a, name).equals(getattr(b, name)), name


def test_different_seeds_give_different_shops() -> None:
    a, b = generate_shop(500, seed=3), generate_shop(500, seed=4)
    assert not a.orders.equals(b.orders)
    assert not a.customers.equals(b.customers)


@pytest.mark.parametrize(
    ("table", "schema"),
    [
        pytest.param(
            "customers",
            [("customer_id", pa.string()), ("signup_at", TS), ("city", pa.string()),
             ("urban_rural_classification", pa.string()), ("customer_age_class", pa.string()),
             ("customer_income_bracket", pa.string()),
             ("customer_education_level", pa.string()), ("gender", pa.string()),
             ("male_female_ratio", pa.float64())],
            id="customers",
        ),
        pytest.param(
            "orders",
            [("customer_id", pa.string()), ("ordered_at", TS), ("amount", pa.float64()),
             ("order_id", pa.string()), ("line_id", pa.string()), ("product_id", pa.string()),
             ("category", pa.string()), ("quantity", pa.int64()),
             ("unit_price", pa.float64()), ("store_id", pa.string()),
             ("seller_id", pa.string()), ("status", pa.string())],
            id="orders",
        ),
        pytest.param(
            "products",
            [("product_id", pa.string()), ("name", pa.string()), ("category", pa.string()),
             ("price", pa.float64())],
            id="products",
        ),
        pytest.param(
            "reviews",
            [("customer_id", pa.string()), ("product_id", pa.string()), ("rating", pa.int64()),
             ("text", pa.string()), ("created_at", TS)],
            id="reviews",
        ),
    ],
)  # fmt: skip
def test_schema_and_no_nulls(shop: DemoShop, table: str, schema: list[tuple[str, pa.DataType]]):
    data: pa.Table = getattr(shop, table)
    assert data.schema == pa.schema(schema)
    assert data.num_rows > 0
    assert {name: data.column(name).null_count for name in data.column_names} == dict.fromkeys(
        data.column_names, 0
    )


def test_ids_are_unique_and_consistent(shop: DemoShop, orders: pd.DataFrame) -> None:
    customers = shop.customers.to_pandas()
    products = shop.products.to_pandas()
    assert customers["customer_id"].is_unique and customers["customer_id"].iloc[0] == "C000001"
    assert products["product_id"].is_unique
    assert orders["line_id"].is_unique
    assert set(orders["customer_id"]) <= set(customers["customer_id"])
    merged = orders.merge(products, on="product_id", suffixes=("", "_product"))
    assert len(merged) == len(orders)
    assert (merged["category"] == merged["category_product"]).all()
    # one customer, one time and one status per order (returns aside)
    per_order = orders[orders["status"] != "returned"].groupby("order_id")
    assert (per_order[["customer_id", "ordered_at", "status"]].nunique() == 1).all().all()


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="customers=0"):
        generate_shop(0)
    with pytest.raises(ConfigError, match="end=2022-01-01"):
        generate_shop(10, start=date(2022, 1, 1), end=date(2022, 1, 1))


# --- amounts, statuses, returns ------------------------------------------------------------


def test_amount_is_quantity_times_unit_price(orders: pd.DataFrame) -> None:
    expected = (orders["quantity"] * orders["unit_price"]).round(2)
    assert np.allclose(orders["amount"], expected, atol=1e-9, rtol=0)
    assert (orders["unit_price"] > 0).all()


def test_returns_are_negative_lines_of_a_sold_line(orders: pd.DataFrame) -> None:
    returned = orders["status"] == "returned"
    assert ((orders["amount"] < 0) == returned).all()
    assert ((orders["quantity"] < 0) == returned).all()
    sold = orders[~returned]
    back = orders[returned].merge(
        sold, on=["order_id", "product_id", "unit_price"], suffixes=("", "_sale")
    )
    assert set(back["line_id"]) == set(orders.loc[returned, "line_id"])
    assert (back["status_sale"] == "completed").all()
    delay = back["ordered_at"] - back["ordered_at_sale"]
    assert (delay >= pd.Timedelta(days=2)).all() and (delay <= pd.Timedelta(days=21)).all()
    # an order may hold the same product twice: the return fits in one of its lines
    most_sold = back.groupby("line_id")["quantity_sale"].max()
    assert (orders.loc[returned].set_index("line_id")["quantity"].abs() <= most_sold).all()


def test_status_shares(orders: pd.DataFrame) -> None:
    status_of_order = orders[orders["status"] != "returned"].groupby("order_id")["status"].first()
    shares = status_of_order.value_counts(normalize=True)
    assert 0.015 < shares["cancelled"] < 0.05
    assert 0.008 < shares["refunded"] < 0.035
    assert 0.01 < (orders["status"] == "returned").mean() < 0.03


# --- time ----------------------------------------------------------------------------------


def test_orders_fall_in_the_period_and_after_signup(shop: DemoShop, orders: pd.DataFrame):
    first, after_end = pd.Timestamp(START), pd.Timestamp(END + timedelta(days=1))
    assert orders["ordered_at"].min() >= first and orders["ordered_at"].max() < after_end
    signup = shop.customers.to_pandas().set_index("customer_id")["signup_at"]
    assert (orders["ordered_at"] >= orders["customer_id"].map(signup)).all()
    assert signup.between(first, after_end, inclusive="left").all()
    assert signup.is_monotonic_increasing  # customer numbers follow sign-up order
    assert orders["ordered_at"].is_monotonic_increasing
    assert orders["ordered_at"].dt.hour.nunique() == 24  # real times of day, not midnights
    reviews = shop.reviews.to_pandas()
    assert reviews["created_at"].between(first, after_end, inclusive="left").all()


def test_a_short_custom_period() -> None:
    shop = generate_shop(300, seed=1, start=date(2024, 3, 1), end=date(2024, 3, 31))
    at = shop.orders.column("ordered_at")
    assert pc.min(at).as_py() >= datetime(2024, 3, 1)
    assert pc.max(at).as_py() < datetime(2024, 4, 1)
    assert shop.orders.num_rows > 300


def test_revenue_grows_year_on_year(sales: pd.DataFrame) -> None:
    by_year = sales.groupby(sales["ordered_at"].dt.year)["amount"].sum()
    assert list(by_year.index) == [2022, 2023, 2024, 2025]
    assert by_year.is_monotonic_increasing
    assert by_year[2025] > 2 * by_year[2022]


def test_black_friday_lifts_electronics(orders: pd.DataFrame) -> None:
    electronics = orders[orders["category"] == "electronics"]
    daily = electronics.groupby(electronics["ordered_at"].dt.normalize())["order_id"].nunique()
    black_fridays = pd.to_datetime(["2022-11-25", "2023-11-24", "2024-11-29", "2025-11-28"])
    weekend = [d + pd.Timedelta(days=k) for d in black_fridays for k in range(4)]  # Fri-Mon
    weeks_before = [d - pd.Timedelta(days=k) for d in black_fridays for k in range(14, 28)]
    on_black_friday = daily.reindex(weekend, fill_value=0).mean()
    assert on_black_friday > 1.8 * daily.reindex(weeks_before, fill_value=0).mean()


@pytest.mark.parametrize("seed", [11, 12])
def test_categories_peak_in_their_own_months(seed: int) -> None:
    # A larger shop: the month of peak revenue share is noisy with a couple of thousand.
    orders = generate_shop(20_000, seed=seed).orders
    sales = orders.filter(pc.equal(orders["status"], "completed")).to_pandas()
    revenue = sales.pivot_table(
        index=sales["ordered_at"].dt.month, columns="category", values="amount", aggfunc="sum"
    )
    share = revenue.div(revenue.sum(axis=1), axis=0)  # a category's share of each month
    peak = share.idxmax()
    assert {"electronics", "grocery", "sports", "fashion"} <= set(share.columns)
    assert peak["electronics"] in (11, 12)
    assert peak["sports"] in (6, 7, 8)
    assert peak["fashion"] in (3, 4, 5, 9, 10)
    assert peak["grocery"] in (1, 2)
    assert len({peak[c] for c in ("electronics", "grocery", "sports", "fashion")}) == 4


def test_weekend_effect(orders: pd.DataFrame) -> None:
    weekend = orders["ordered_at"].dt.day_of_week >= 5
    share = weekend.groupby(orders["category"]).mean()
    for category in ("fashion", "sports", "electronics"):
        assert share[category] > 2 / 7 + 0.03, category
    assert share["grocery"] < share["fashion"]


# --- customers -------------------------------------------------------------------------------


def test_lines_per_customer_and_grocery_baskets(shop: DemoShop, orders: pd.DataFrame) -> None:
    assert 7 <= len(orders) / shop.customers.num_rows <= 13
    mean_line = orders[orders["status"] == "completed"].groupby("category")["amount"].mean()
    assert mean_line.idxmin() == "grocery"
    assert orders["category"].value_counts().idxmax() == "grocery"


def test_customers_are_heterogeneous(sales: pd.DataFrame) -> None:
    orders_per_customer = sales.groupby("customer_id")["order_id"].nunique()
    assert 0.15 < (orders_per_customer == 1).mean() < 0.6
    assert orders_per_customer.max() >= 10 * orders_per_customer.median()
    spend = sales.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    assert spend.head(len(spend) // 10).sum() > 0.35 * spend.sum()


def test_demographics_relate_to_spend(shop: DemoShop, sales: pd.DataFrame) -> None:
    customers = shop.customers.to_pandas().set_index("customer_id")
    spend = sales.groupby("customer_id")["amount"].sum().reindex(customers.index, fill_value=0)
    by_income = spend.groupby(customers["customer_income_bracket"]).mean()
    assert by_income["high"] > 1.3 * by_income["low"]
    assert customers["city"].nunique() == 12
    assert set(customers["urban_rural_classification"]) == {"urban", "suburban", "rural"}
    assert set(customers["customer_age_class"]) == {
        "18-24", "25-34", "35-44", "45-54", "55-64", "65+"
    }  # fmt: skip
    assert customers["male_female_ratio"].between(0, 1).all()
    beauty = sales["category"].eq("beauty").groupby(sales["customer_id"]).mean()
    by_gender = beauty.groupby(customers["gender"]).mean()
    assert by_gender["female"] > by_gender["male"]


# --- reviews ---------------------------------------------------------------------------------


def test_reviews_share_and_ratings(shop: DemoShop, sales: pd.DataFrame) -> None:
    reviews = shop.reviews.to_pandas()
    assert 0.03 < len(reviews) / len(sales) < 0.12
    assert set(reviews["rating"]) == {1, 2, 3, 4, 5}
    assert reviews["rating"].mean() > 3.5  # skewed positive
    assert not reviews.duplicated(["customer_id", "product_id"]).any()


def test_review_text_matches_rating(shop: DemoShop) -> None:
    reviews = shop.reviews.to_pandas()
    positive = reviews["text"].str.contains("Excellent|Love this|Fantastic|Good |Nice |Solid ")
    negative = reviews["text"].str.contains("Terrible|Awful|disappointed|Poor |Not great|Below")
    assert positive.any() and negative.any() and not (positive & negative).any()
    assert reviews.loc[positive, "rating"].min() >= 4
    assert reviews.loc[negative, "rating"].max() <= 2


def test_returned_lines_get_worse_reviews(shop: DemoShop, orders: pd.DataFrame) -> None:
    reviews = shop.reviews.to_pandas()
    returned = orders.loc[orders["status"] == "returned", ["customer_id", "product_id"]]
    returned = returned.drop_duplicates().assign(returned=True)
    rated = reviews.merge(returned, on=["customer_id", "product_id"], how="left")
    mean = rated.groupby(rated["returned"].fillna(False).astype(bool))["rating"].mean()
    assert mean[True] < mean[False] - 1


@pytest.mark.slow
def test_large_shop_keeps_its_invariants() -> None:
    shop = generate_shop(200_000, seed=5)
    orders = shop.orders
    lines_per_customer = orders.num_rows / shop.customers.num_rows
    assert 8 <= lines_per_customer <= 12
    amount = orders["amount"].to_numpy()
    expected = np.round(orders["quantity"].to_numpy() * orders["unit_price"].to_numpy(), 2)
    assert np.allclose(amount, expected, atol=1e-9, rtol=0)
    assert pc.max(orders["ordered_at"]).as_py() < datetime(2026, 1, 1)
    assert pc.count_distinct(orders["line_id"]).as_py() == orders.num_rows
