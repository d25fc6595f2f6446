"""Generate the demo shop: customers, order lines, products and reviews with real signal.

Why simulate rather than ship a file: the demo, the tests and the benchmarks need shops of
any size (1,000 to 1,000,000 customers) whose structure is known, so that segmentation,
forecasting and CLV/churn models have something true to recover.

How the orders arise (all vectorised; the only loops run over categories, sellers, years):

1. Customers sign up over the period with exponential growth and the shop's own season;
   they place their first order at sign-up or a few days later.
2. After that each customer buys as a Poisson process in *operational time* (calendar
   time stretched by the shop's daily intensity: weekdays, seasons, Black Friday,
   Christmas) at their own rate, and leaves for good after each purchase with their own
   dropout probability (BG/NBD). Given n Poisson arrivals in the window, the first k are
   uniform order statistics, drawn exactly from k exponential spacings plus one Gamma.
3. Each order picks a category with probability proportional to the customer's
   preference times that category's intensity on the day, so categories keep their own
   seasons; lines, products, quantities and promotional prices follow the category and
   the customer's basket-value level.
4. About 3% of orders are cancelled and 2% refunded; about 2% of lines are returned a few
   days later as a separate negative line; some lines get a review whose rating follows
   product quality and returns, with a text that matches the rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from custintel.demo import tables
from custintel.demo.catalog import CATEGORIES, Calendar, Catalog, build_calendar, build_catalog
from custintel.demo.people import WEB, People, categorical_by_group, draw_people
from custintel.demo.tables import (
    CANCELLED,
    COMPLETED,
    REFUNDED,
    FloatArray,
    IntArray,
    Lines,
    Returns,
    Reviews,
)
from custintel.errors import ConfigError

__all__ = ["DemoShop", "generate_shop"]

DAY = 86_400  # seconds
GROWTH_PER_YEAR = 0.3  # log growth of daily sign-ups
CANCELLED_SHARE, REFUNDED_SHARE, RETURNED_SHARE = 0.03, 0.02, 0.02
REVIEW_SHARE, REVIEW_SHARE_RETURNED = 0.06, 0.3
# Review rating: a latent score around RATING_MEAN, lifted by product quality, sunk by a return.
RATING_MEAN, RATING_QUALITY, RATING_RETURN_PENALTY = 4.35, 0.6, 2.4
# Relative orders per hour of the day, 00:00 to 23:00.
# fmt: off
_HOURS = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 2.2, 2.8, 3.2,
                   3.4, 3.2, 3.0, 3.0, 3.2, 3.5, 3.8, 4.2, 4.4, 4.0, 2.6, 1.2])
# P(seller | category): rows in CATEGORIES order, columns SEL01..SEL06.
_SELLERS = np.array([
    [0.5, 0.3, 0.1, 0.0, 0.0, 0.1],
    [0.0, 0.0, 0.7, 0.3, 0.0, 0.0],
    [0.1, 0.0, 0.0, 0.0, 0.6, 0.3],
    [0.0, 0.2, 0.0, 0.0, 0.3, 0.5],
    [0.0, 0.4, 0.2, 0.3, 0.0, 0.1],
    [0.0, 0.0, 0.3, 0.5, 0.0, 0.2],
])
# fmt: on


@dataclass(frozen=True)
class DemoShop:
    """A generated shop in canonical form (see ``custintel.data.model``).

    ``orders`` holds one row per order line, sorted by ``ordered_at``; return lines carry
    a negative ``amount`` and quantity and the status ``returned``. A few customers who
    signed up at the very end have no order yet, as in a real shop.
    """

    customers: pa.Table
    orders: pa.Table
    products: pa.Table
    reviews: pa.Table


def generate_shop(
    customers: int = 10_000,
    seed: int = 42,
    start: date = date(2022, 1, 1),
    end: date = date(2025, 12, 31),
) -> DemoShop:
    """Simulate a shop with ``customers`` customers trading from ``start`` to ``end``
    (both inclusive); the same seed always gives the same shop.

    Expect about 10 order lines per customer over four years; 100,000 customers take a
    few seconds.
    """
    _check_arguments(customers, start, end)
    rng = np.random.default_rng(seed)
    calendar = build_calendar(start, end)
    catalog = build_catalog(rng)
    people = draw_people(rng, customers)
    intensity = _shop_intensity(calendar, people)
    signup, first = _draw_signups(rng, calendar, intensity, customers)
    order_customer, order_time = _draw_order_times(rng, calendar, intensity, people, first)
    lines = _draw_lines(rng, calendar, catalog, people, order_customer, order_time)
    returns = _draw_returns(rng, catalog, lines, calendar.days * DAY)
    reviews = _draw_reviews(rng, catalog, lines, returns, calendar.days * DAY)
    return DemoShop(
        customers=tables.customers_table(people, signup, start),
        orders=tables.orders_table(lines, returns, catalog, customers, start),
        products=tables.products_table(catalog),
        reviews=tables.reviews_table(reviews, catalog, customers, start),
    )


def _check_arguments(customers: int, start: date, end: date) -> None:
    if customers < 1:
        raise ConfigError(
            f"customers={customers} should be >= 1",
            where="generate_shop",
            hint="ask for at least one customer, e.g. 1000",
        )
    if end <= start:
        raise ConfigError(
            f"end={end} should be after start={start}",
            where="generate_shop",
            hint="give a period of at least two days",
        )


def _shop_intensity(calendar: Calendar, people: People) -> FloatArray:
    """The shop's daily order intensity (mean 1): categories' curves weighted by the mix."""
    frequency = np.array([spec.frequency for spec in CATEGORIES])
    weighted = people.prefs * frequency
    mix = (weighted / weighted.sum(axis=1, keepdims=True)).mean(axis=0)
    intensity: FloatArray = mix @ calendar.season
    return intensity / intensity.mean()


def _draw_signups(
    rng: np.random.Generator, calendar: Calendar, intensity: FloatArray, n: int
) -> tuple[IntArray, IntArray]:
    """Sign-up and first-order times (seconds from the start), sorted by sign-up so that
    customer numbers grow with time; a first order after the period is -1 (none yet)."""
    years = np.arange(calendar.days) / 365.25
    weights = np.cumsum(np.exp(GROWTH_PER_YEAR * years) * np.sqrt(intensity))
    day = np.searchsorted(weights, rng.random(n) * weights[-1], side="right")
    signup = np.sort(day * DAY + _time_of_day(rng, n))
    soon = rng.random(n) < 0.8
    delay = np.where(soon, rng.integers(60, 5400, n), rng.exponential(6 * DAY, n).astype(np.int64))
    first = signup + delay
    return signup, np.where(first < calendar.days * DAY, first, -1)


def _draw_order_times(
    rng: np.random.Generator,
    calendar: Calendar,
    intensity: FloatArray,
    people: People,
    first: IntArray,
) -> tuple[IntArray, IntArray]:
    """Every order's customer and time (seconds), sorted by time: the first orders plus the
    repeat purchases of a BG/NBD process run in operational time."""
    grid = np.arange(calendar.days + 1, dtype=np.float64)
    clock = np.concatenate([[0.0], np.cumsum(intensity)])  # operational time at midnights
    alive = first >= 0
    start_op = np.interp(first / DAY, grid, clock)
    window = np.where(alive, clock[-1] - start_op, 0.0)
    arrivals = rng.poisson(people.rate * window)
    before_dropout = rng.geometric(people.dropout) - 1
    repeats = np.where(alive, np.minimum(before_dropout, arrivals), 0)
    owner = np.repeat(np.arange(people.size), repeats)
    steps = np.cumsum(rng.exponential(size=owner.size))
    ends = np.cumsum(repeats)
    before = np.concatenate([[0.0], steps])[ends - repeats]
    spacing = steps - before[owner]
    total = (np.concatenate([[0.0], steps])[ends] - before) + rng.gamma(arrivals - repeats + 1.0)
    op_time = start_op[owner] + window[owner] * spacing / total[owner]
    day = np.minimum(np.interp(op_time, clock, grid).astype(np.int64), calendar.days - 1)
    when = day * DAY + _time_of_day(rng, owner.size)
    first_of = first[owner]
    same_day = day == first_of // DAY
    day_left = (first_of // DAY + 1) * DAY - 1 - first_of
    when = np.where(same_day, first_of + (rng.random(owner.size) * day_left).astype(np.int64), when)
    customer = np.concatenate([np.flatnonzero(alive), owner])
    time = np.concatenate([first[alive], when])
    order = np.argsort(time, kind="stable")
    return customer[order], time[order]


def _time_of_day(rng: np.random.Generator, n: int) -> IntArray:
    """Seconds after midnight, following the shop's hourly profile."""
    cdf = np.cumsum(_HOURS) / _HOURS.sum()
    hour = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), 23)
    return hour * 3600 + rng.integers(0, 3600, n)


def _draw_lines(
    rng: np.random.Generator,
    calendar: Calendar,
    catalog: Catalog,
    people: People,
    order_customer: IntArray,
    order_time: IntArray,
) -> Lines:
    """Expand orders into lines: category, status, store, then products and prices."""
    n_orders = order_customer.size
    day = order_time // DAY
    category = _draw_categories(rng, calendar, people, order_customer, day)
    u = rng.random(n_orders)
    status = np.where(
        u < CANCELLED_SHARE,
        CANCELLED,
        np.where(u < CANCELLED_SHARE + REFUNDED_SHARE, REFUNDED, COMPLETED),
    )
    web = rng.random(n_orders) < people.web_share[order_customer]
    store = np.where(web, WEB, people.home_store[order_customer])
    value = people.value[order_customer]
    extra = np.array([spec.extra_lines for spec in CATEGORIES])[category] * np.sqrt(value)
    per_order = 1 + rng.poisson(extra)
    order = np.repeat(np.arange(n_orders), per_order)
    line_category = category[order]
    line_value = value[order]
    product = _draw_products(rng, catalog, line_category, line_value)
    extra_units = np.array([spec.extra_quantity for spec in CATEGORIES])[line_category]
    quantity = 1 + rng.poisson(extra_units * line_value)
    discount = calendar.discount[line_category, day[order]]
    unit_price = np.round(catalog.price[product] * (1.0 - discount), 2)
    return Lines(
        order=order,
        customer=order_customer[order],
        time=order_time[order],
        category=line_category,
        product=product,
        quantity=quantity,
        unit_price=unit_price,
        store=store[order],
        seller=categorical_by_group(rng, _SELLERS, line_category),
        status=status[order],
    )


def _draw_categories(
    rng: np.random.Generator,
    calendar: Calendar,
    people: People,
    customer: IntArray,
    day: IntArray,
) -> IntArray:
    """Each order's category: P(c) proportional to preference x frequency x season(c, day)."""
    frequency = [spec.frequency for spec in CATEGORIES]

    def weight(c: int) -> FloatArray:
        w: FloatArray = people.prefs[customer, c] * frequency[c] * calendar.season[c, day]
        return w

    total = sum((weight(c) for c in range(len(CATEGORIES))), np.zeros(customer.size))
    target = rng.random(customer.size) * total
    chosen = np.zeros(customer.size, dtype=np.int64)
    cumulative = np.zeros(customer.size)
    for c in range(len(CATEGORIES) - 1):
        cumulative += weight(c)
        chosen += cumulative < target
    return chosen


def _draw_products(
    rng: np.random.Generator, catalog: Catalog, category: IntArray, value: FloatArray
) -> IntArray:
    """A product of the line's category; customers with higher basket value choose pricier
    products (products are sorted by price within a category)."""
    u = np.clip(rng.random(category.size), 1e-9, 1 - 1e-9)
    score = 0.9 * np.log(u / (1 - u)) + 0.8 * np.log(value)
    size = np.diff(catalog.offsets)[category]
    rank = np.minimum((size / (1.0 + np.exp(-score))).astype(np.int64), size - 1)
    result: IntArray = catalog.offsets[category] + rank
    return result


def _draw_returns(
    rng: np.random.Generator, catalog: Catalog, lines: Lines, period_end: int
) -> Returns:
    """The lines that come back, a few days after the sale, in part or in full.

    The chance follows the category's return rate and falls with product quality, scaled so
    that about 2% of all lines are returned; returns due after the period are dropped.
    """
    rates = np.array([spec.return_rate for spec in CATEGORIES])[lines.category]
    base = np.where(
        lines.status == COMPLETED, rates * np.exp(-0.8 * catalog.quality[lines.product]), 0.0
    )
    scale = RETURNED_SHARE * base.size / max(float(base.sum()), 1e-12)
    index = np.flatnonzero(rng.random(base.size) < np.minimum(base * scale, 0.5))
    units = 1 + (rng.random(index.size) * lines.quantity[index]).astype(np.int64)
    when = lines.time[index] + rng.integers(2 * DAY, 21 * DAY, index.size)
    kept = when < period_end
    return Returns(line=index[kept], quantity=units[kept], time=when[kept])


def _draw_reviews(
    rng: np.random.Generator,
    catalog: Catalog,
    lines: Lines,
    returns: Returns,
    period_end: int,
) -> Reviews:
    """Reviews of completed lines: returned lines are reviewed more often and worse; one
    review per customer and product (the earliest); none dated after the period."""
    returned_at = np.full(lines.size, -1, dtype=np.int64)
    returned_at[returns.line] = returns.time
    chance = np.where(returned_at >= 0, REVIEW_SHARE_RETURNED, REVIEW_SHARE)
    index = np.flatnonzero((lines.status == COMPLETED) & (rng.random(lines.size) < chance))
    hit = returned_at[index] >= 0
    latent = (
        RATING_MEAN
        + RATING_QUALITY * catalog.quality[lines.product[index]]
        + rng.normal(0.0, 1.0, index.size)
        - RATING_RETURN_PENALTY * hit
    )
    rating = np.clip(np.round(latent), 1, 5).astype(np.int64)
    after = np.maximum(lines.time[index], returned_at[index])
    created = after + rng.integers(DAY, 25 * DAY, index.size)
    wording = rng.integers(0, 9, index.size)
    keep = created < period_end
    index, rating, created, wording = index[keep], rating[keep], created[keep], wording[keep]
    by_time = np.argsort(created, kind="stable")
    key = lines.customer[index[by_time]] * catalog.size + lines.product[index[by_time]]
    _, first = np.unique(key, return_index=True)
    pick = by_time[np.sort(first)]
    return Reviews(
        customer=lines.customer[index[pick]],
        product=lines.product[index[pick]],
        category=lines.category[index[pick]],
        rating=rating[pick],
        wording=wording[pick],
        time=created[pick],
    )
