"""The canonical data model: the tables and columns every capability reads.

A source (file or database) is mapped onto these tables by a mapping (see
``custintel.data.mapping``). Only ``orders.customer_id``, ``orders.ordered_at`` and
``orders.amount`` are mandatory; each capability says which optional columns it needs.
Columns of a source that the mapping does not name are ignored, except on ``customers``,
where every extra column is kept as a demographic attribute (numeric or categorical).

docs/data-model.md is the prose version of this module; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "TABLES",
    "Column",
    "ColumnType",
    "OrderKind",
    "Table",
]


class ColumnType(StrEnum):
    """Logical column types, each with the DuckDB type it is stored as."""

    ID = "VARCHAR"
    TEXT = "VARCHAR"
    TIMESTAMP = "TIMESTAMP"
    NUMBER = "DOUBLE"


@dataclass(frozen=True)
class Column:
    """A canonical column: its name, logical type and whether a source must provide it."""

    name: str
    type: ColumnType
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns and whether extra source columns are kept."""

    name: str
    columns: tuple[Column, ...]
    keeps_extra_columns: bool = False
    description: str = ""

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


class OrderKind(StrEnum):
    """How an order row counts in spend and in order counts (the refund rule).

    The first rule that matches decides:

    1. ``cancelled``: the status says it never completed (cancelled, failed, void);
       not a purchase, counts 0 in spend.
    2. ``return``: a negative amount (a credit note, a returned line, whatever its
       status); not a purchase, its negative amount is subtracted from spend.
    3. ``refunded``: the status says it was refunded in full; not a purchase, counts 0
       in spend (the sale and its refund cancel out in one row).
    4. ``sale``: everything else; a purchase, its amount counts in spend.

    Every row is kept in the store with its kind and its ``net_amount``; features count
    ``net_amount`` as spend and only ``sale`` rows as purchases.
    """

    SALE = "sale"
    RETURN = "return"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


# Status words (lower-cased, trimmed) that make a row ``cancelled`` or ``refunded``.
# A mapping can replace either list ([statuses] in custintel.toml).
DEFAULT_CANCELLED_STATUSES = (
    "cancelled",
    "canceled",
    "cancel",
    "void",
    "voided",
    "failed",
    "declined",
    "rejected",
    "cancelado",
    "anulado",
    "anulada",
    "cancelada",
    "fallido",
)
DEFAULT_REFUNDED_STATUSES = (
    "refunded",
    "refund",
    "returned",
    "chargeback",
    "reembolsado",
    "devuelto",
    "devuelta",
)

CUSTOMERS = Table(
    "customers",
    (
        Column("customer_id", ColumnType.ID, required=True),
        Column("signup_at", ColumnType.TIMESTAMP, description="when the customer registered"),
    ),
    keeps_extra_columns=True,
    description="one row per customer; extra columns are demographic attributes",
)

ORDERS = Table(
    "orders",
    (
        Column("customer_id", ColumnType.ID, required=True),
        Column("ordered_at", ColumnType.TIMESTAMP, required=True),
        Column("amount", ColumnType.NUMBER, required=True, description="currency units"),
        Column("order_id", ColumnType.ID),
        Column("line_id", ColumnType.ID, description="identifies one line of an order"),
        Column("product_id", ColumnType.ID),
        Column("category", ColumnType.TEXT),
        Column("quantity", ColumnType.NUMBER),
        Column("unit_price", ColumnType.NUMBER),
        Column("store_id", ColumnType.ID),
        Column("seller_id", ColumnType.ID),
        Column("status", ColumnType.TEXT),
    ),
    description="one row per order or per order line",
)

PRODUCTS = Table(
    "products",
    (
        Column("product_id", ColumnType.ID, required=True),
        Column("name", ColumnType.TEXT),
        Column("category", ColumnType.TEXT),
        Column("price", ColumnType.NUMBER),
    ),
)

REVIEWS = Table(
    "reviews",
    (
        Column("customer_id", ColumnType.ID, required=True),
        Column("product_id", ColumnType.ID),
        Column("rating", ColumnType.NUMBER, required=True, description="1 to 5 stars"),
        Column("text", ColumnType.TEXT),
        Column("created_at", ColumnType.TIMESTAMP, required=True),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, ORDERS, PRODUCTS, REVIEWS)}
