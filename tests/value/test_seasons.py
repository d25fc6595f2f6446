"""The shop's yearly season: recovered from repeat orders, applied to every window."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from synthetic import WINDOW, examples_frame

from custintel.value.models import fit_candidates
from custintel.value.persist import models_from_dict, models_to_dict
from custintel.value.seasons import MIN_MONTHS, Seasons, fit_seasons

# A fourth quarter that sells three times the spring, as in many gift shops.
TRUE = np.array([0.8, 0.6, 0.7, 0.6, 0.7, 0.8, 0.8, 0.9, 1.0, 1.3, 1.8, 2.0])
TRUE = TRUE / TRUE.mean()


def seasonal_orders(
    start: date, days: int, season: np.ndarray = TRUE, customers: int = 400, seed: int = 3
) -> pd.DataFrame:
    """Customers who first order in the first two months and then order on each day
    with their own rate times the month's ``season`` factor; plus a burst of one-order
    customers every December, whose first orders must not count."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 0.01, customers)
    rows = []
    first = rng.integers(0, 60, customers)
    for i in range(customers):
        rows.append((f"c{i}", start + timedelta(days=int(first[i])), 40.0))
    for offset in range(days):
        day = start + timedelta(days=offset)
        active = (rng.uniform(size=customers) < rate * season[day.month - 1]) & (offset > first)
        rows += [(f"c{i}", day, 40.0) for i in np.flatnonzero(active)]
        if day.month == 12 and day.day == 10:
            rows += [(f"new{day.year}-{k}", day, 40.0) for k in range(300)]
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "net_amount"])
    frame["ordered_at"] = pd.to_datetime(frame["day"])
    frame["kind"] = "sale"
    frame["order_id"] = None
    return frame[["customer_id", "ordered_at", "net_amount", "kind", "order_id"]]


def store_of(frame: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE orders AS SELECT *, CAST(order_id AS VARCHAR) AS oid FROM frame")
    con.execute("ALTER TABLE orders DROP COLUMN order_id")
    con.execute("ALTER TABLE orders RENAME COLUMN oid TO order_id")
    return con


FOUR_YEARS = 4 * 365


def test_the_season_of_repeat_orders_is_recovered_and_first_orders_stay_out() -> None:
    con = store_of(seasonal_orders(date(2021, 1, 1), FOUR_YEARS))
    seasons = fit_seasons(con, date(2025, 1, 1))
    assert not seasons.flat and "47 months of repeat orders" in str(seasons.note)
    for index in (seasons.spend, seasons.orders):
        assert np.mean(index) == pytest.approx(1.0)
        # December's burst of 300 first orders would put December far above 2.0
        np.testing.assert_allclose(index, TRUE, atol=0.15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_shop_without_a_season_gets_an_index_close_to_one(seed: int) -> None:
    con = store_of(seasonal_orders(date(2021, 1, 1), FOUR_YEARS, np.ones(12), seed=seed))
    seasons = fit_seasons(con, date(2025, 1, 1))
    # year-to-year noise is shrunk away: a few percent at most, where the plain
    # decomposition's monthly means stray further
    np.testing.assert_allclose(seasons.spend, 1.0, atol=0.08)


def test_a_spread_within_the_noise_is_no_season_and_says_so() -> None:
    # twenty customers without a season: each month's count is mostly noise
    con = store_of(seasonal_orders(date(2021, 1, 1), FOUR_YEARS, np.ones(12), customers=20, seed=1))
    seasons = fit_seasons(con, date(2025, 1, 1))
    assert seasons.flat and "within their year-to-year noise" in str(seasons.note)


def test_less_than_three_years_or_an_empty_month_leaves_the_rates_alone() -> None:
    con = store_of(seasonal_orders(date(2021, 1, 1), FOUR_YEARS))
    young = fit_seasons(con, date(2023, 12, 15))
    # February 2021 to November 2023: the first and the unfinished month do not count
    assert young.flat and "34 complete months of repeat orders before 2023-12-15" in str(young.note)
    assert f"needs {MIN_MONTHS}" in str(young.note)
    con.execute("DELETE FROM orders WHERE ordered_at >= '2022-05-01' AND ordered_at < '2022-06-01'")
    gap = fit_seasons(con, date(2025, 1, 1))
    assert gap.flat and "no repeat orders (or no net spend) in 2022-05" in str(gap.note)


def test_a_window_takes_the_mean_of_its_days() -> None:
    seasons = Seasons(spend=tuple(float(m) for m in range(1, 13)), orders=(1.0,) * 12)
    starts = [date(2024, 3, 1), date(2024, 3, 17), date(2024, 3, 1)]
    factors = seasons.factors("spend", starts, [31, 30, 31])
    # all of March; 15 days of March and 15 of April; the same window again
    np.testing.assert_allclose(factors, [3.0, 3.5, 3.0])
    np.testing.assert_allclose(seasons.factors("orders", starts, 30), 1.0)
    assert Seasons().flat and np.all(Seasons().factors("spend", starts, 30) == 1.0)


def seasonal_examples(as_of: date, season: float, seed: int) -> pd.DataFrame:
    """Examples whose labels run at ``season`` times the customers' average rates."""
    frame = examples_frame(np.random.default_rng(seed), 3000, btyd_knows=True)
    frame["as_of"] = as_of
    for column in ("spend", "orders", "spend_rate", "orders_rate"):
        frame[column] = frame[column] * season
    return frame


def test_rates_learnt_in_spring_predict_the_fourth_quarter_in_its_season() -> None:
    index = np.ones(12)
    index[3], index[9] = 0.5, 1.5  # April, October
    seasons = Seasons(spend=tuple(index / index.mean()), orders=tuple(index / index.mean()))
    train = seasonal_examples(date(2024, 4, 1), 0.5, seed=0)
    calibration = seasonal_examples(date(2024, 4, 1), 0.5, seed=1)
    check = seasonal_examples(date(2024, 10, 1), 1.5, seed=2)
    candidates = ("btyd", "gbm", "blend", "run_rate", "rfm_cell")

    def aggregate_error(seasoned: Seasons | None) -> dict[str, float]:
        models = fit_candidates(train, calibration, candidates=candidates, seasons=seasoned)
        predicted = models.predict(check, "spend", WINDOW)
        return {name: p.sum() / check["spend"].sum() - 1 for name, p in predicted.items()}

    plain, seasoned = aggregate_error(None), aggregate_error(seasons)
    # without the season the trees predict April's rates for October: a third
    assert plain["gbm"] == pytest.approx(-2 / 3, abs=0.05)
    for name in ("btyd", "gbm", "blend", "rfm_cell"):
        assert abs(seasoned[name]) < 0.05, (name, seasoned[name])


def test_stored_models_keep_their_season() -> None:
    seasons = Seasons(spend=tuple(np.linspace(0.5, 1.5, 12)), orders=(1.0,) * 12)
    train = seasonal_examples(date(2024, 4, 1), 1.0, seed=0)
    models = fit_candidates(train, train, candidates=("btyd", "gbm"), seasons=seasons)
    loaded = models_from_dict(models_to_dict(models))
    assert loaded.seasons == seasons
    np.testing.assert_allclose(
        loaded.predict(train, "spend", WINDOW)["gbm"], models.predict(train, "spend", WINDOW)["gbm"]
    )
    # a version stored before seasons were kept is served without them, as it was
    older = models_to_dict(models)
    del older["seasons"]
    assert models_from_dict(older).seasons.flat
