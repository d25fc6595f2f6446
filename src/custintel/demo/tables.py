"""Turn the simulated arrays into the canonical Arrow tables of the demo shop.

The generator works on integer codes and seconds; this module names things: ids such as
``C000123`` (zero-padded, so they sort like the numbers), vocabularies for categories,
stores, sellers and statuses, and naive ``timestamp[us]`` columns. Strings are built with
Arrow kernels, never with a Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from custintel.demo.catalog import CATEGORIES, Catalog, review_vocabulary
from custintel.demo.people import (
    AGE_CLASSES,
    CITIES,
    EDUCATION,
    GENDERS,
    INCOME,
    STORES,
    URBAN,
    People,
)

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "REFUNDED",
    "RETURNED",
    "STATUSES",
    "Lines",
    "Returns",
    "Reviews",
    "customers_table",
    "orders_table",
    "products_table",
    "reviews_table",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

STATUSES = ("completed", "cancelled", "refunded", "returned")
COMPLETED, CANCELLED, REFUNDED, RETURNED = range(len(STATUSES))
SELLERS = ("SEL01", "SEL02", "SEL03", "SEL04", "SEL05", "SEL06")
TIMESTAMP = pa.timestamp("us")
_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class Lines:
    """Sales lines as parallel arrays; ``order`` numbers orders by time from 0, codes index
    the vocabularies (``status`` indexes STATUSES), ``time`` is seconds from the start."""

    order: IntArray
    customer: IntArray
    time: IntArray
    category: IntArray
    product: IntArray
    quantity: IntArray
    unit_price: FloatArray
    store: IntArray
    seller: IntArray
    status: IntArray

    @property
    def size(self) -> int:
        return int(self.order.size)


@dataclass(frozen=True)
class Returns:
    """Returned lines: the index of the sales line, the units that came back, and when."""

    line: IntArray
    quantity: IntArray
    time: IntArray


@dataclass(frozen=True)
class Reviews:
    """Reviews as parallel arrays; ``wording`` (0-8) picks the opener and the detail."""

    customer: IntArray
    product: IntArray
    category: IntArray
    rating: IntArray
    wording: IntArray
    time: IntArray


def customers_table(people: People, signup: IntArray, start: date) -> pa.Table:
    """customer_id, signup_at and the demographic columns, in sign-up order."""
    return pa.table(
        {
            "customer_id": _customer_ids(people.size),
            "signup_at": _timestamps(signup, start),
            "city": _names([c[0] for c in CITIES], people.city),
            "urban_rural_classification": _names(URBAN, people.urban),
            "customer_age_class": _names(AGE_CLASSES, people.age),
            "customer_income_bracket": _names(INCOME, people.income),
            "customer_education_level": _names(EDUCATION, people.education),
            "gender": _names(GENDERS, people.gender),
            "male_female_ratio": pa.array(people.male_female_ratio, pa.float64()),
        }
    )


def orders_table(
    lines: Lines, returns: Returns, catalog: Catalog, customers: int, start: date
) -> pa.Table:
    """One row per order line, sales and returns together, sorted by ``ordered_at``.

    A return repeats its sale line's order, product, price, store and seller, with a
    negative quantity and amount and the status ``returned``; every row's amount is
    quantity x unit_price rounded to cents.
    """
    order = np.argsort(np.concatenate([lines.time, returns.time]), kind="stable")

    def both(sale: npt.NDArray[_T], back: npt.NDArray[_T] | None = None) -> npt.NDArray[_T]:
        values = np.concatenate([sale, sale[returns.line] if back is None else back])
        return values[order]

    quantity = both(lines.quantity, -returns.quantity)
    unit_price = both(lines.unit_price)
    status = both(lines.status, np.full(returns.line.size, RETURNED))
    return pa.table(
        {
            "customer_id": pc.take(_customer_ids(customers), pa.array(both(lines.customer))),
            "ordered_at": _timestamps(both(lines.time, returns.time), start),
            "amount": pa.array(np.round(quantity * unit_price, 2), pa.float64()),
            "order_id": _ids("O", both(lines.order) + 1, 7),
            "line_id": _ids("L", np.arange(1, order.size + 1), 8),
            "product_id": pc.take(_product_ids(catalog), pa.array(both(lines.product))),
            "category": _names([spec.name for spec in CATEGORIES], both(lines.category)),
            "quantity": pa.array(quantity, pa.int64()),
            "unit_price": pa.array(unit_price, pa.float64()),
            "store_id": _names(STORES, both(lines.store)),
            "seller_id": _names(SELLERS, both(lines.seller)),
            "status": _names(STATUSES, status),
        }
    )


def products_table(catalog: Catalog) -> pa.Table:
    """product_id, name, category, price (list price), sorted by product_id."""
    order = np.argsort(catalog.product_number)
    return pa.table(
        {
            "product_id": _product_ids(catalog).take(pa.array(order)),
            "name": pa.array(catalog.name).take(pa.array(order)),
            "category": _names([spec.name for spec in CATEGORIES], catalog.category[order]),
            "price": pa.array(catalog.price[order], pa.float64()),
        }
    )


def reviews_table(reviews: Reviews, catalog: Catalog, customers: int, start: date) -> pa.Table:
    """customer_id, product_id, rating (1-5), text, created_at, sorted by created_at."""
    text = (reviews.category * 5 + reviews.rating - 1) * 9 + reviews.wording
    return pa.table(
        {
            "customer_id": pc.take(_customer_ids(customers), pa.array(reviews.customer)),
            "product_id": pc.take(_product_ids(catalog), pa.array(reviews.product)),
            "rating": pa.array(reviews.rating, pa.int64()),
            "text": _names(review_vocabulary(), text),
            "created_at": _timestamps(reviews.time, start),
        }
    )


def _customer_ids(n: int) -> pa.Array:
    return _ids("C", np.arange(1, n + 1), 6)


def _product_ids(catalog: Catalog) -> pa.Array:
    """Product ids by catalogue index (not by id order)."""
    return _ids("P", catalog.product_number, 4)


def _ids(prefix: str, numbers: IntArray, min_width: int) -> pa.Array:
    """``prefix`` + zero-padded number, as wide as the largest number needs."""
    width = max(min_width, len(str(int(numbers.max())))) if numbers.size else min_width
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _names(vocabulary: tuple[str, ...] | list[str], codes: IntArray) -> pa.Array:
    return pc.take(pa.array(list(vocabulary), pa.string()), pa.array(codes, pa.int64()))


def _timestamps(seconds: IntArray, start: date) -> pa.Array:
    """Naive timestamps from seconds after midnight of ``start``."""
    epoch = int(
        (datetime(start.year, start.month, start.day) - datetime(1970, 1, 1)).total_seconds()
    )
    return pa.array((seconds + epoch) * 1_000_000, TIMESTAMP)
