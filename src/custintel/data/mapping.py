"""The mapping from a shop's own tables and columns onto the canonical model.

A mapping lives in ``custintel.toml``::

    source = "mysql+pymysql://shop@127.0.0.1/shop"   # optional: a SQLAlchemy URL
    preset = "laravel"                                 # optional: start from a preset

    [tables.orders]
    table = "orders"              # a table of the source database, or
    # query = "SELECT ..."        # one SQL query, or
    # path = "exports/orders.csv" # a file (CSV, Parquet, XLSX)
    updated_at = "updated_at"     # source column for incremental extraction
    key = ["order_id"]            # canonical columns that identify a row

    [tables.orders.columns]       # canonical name = source column
    customer_id = "user_id"
    ordered_at = "created_at"
    amount = "total_amount"

    [statuses]                    # which status words mean cancelled / refunded
    cancelled = ["cancelled", "failed"]
    refunded = ["refunded"]

    [params]                      # bound into queries as :name
    seller_company = "Aktina"

Columns that a table mapping does not name are guessed from the source's column names
(see :func:`guess_columns`); the sync report says what was guessed.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from custintel.data.model import (
    DEFAULT_CANCELLED_STATUSES,
    DEFAULT_REFUNDED_STATUSES,
    TABLES,
)
from custintel.errors import ConfigError, closest_names

__all__ = [
    "PRESETS",
    "Mapping",
    "StatusRules",
    "TableMapping",
    "guess_columns",
    "load_mapping",
    "load_preset",
]

PRESETS = ("laravel", "b2b", "store_chain", "spanish_shop")


class TableMapping(BaseModel):
    """Where one canonical table comes from and how its columns are named there."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = None
    table: str | None = None
    query: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    key: list[str] | None = None
    updated_at: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    decimal: Literal[".", ","] | None = None  # of numbers held as text (None: detected)
    sheet: str | None = None
    attributes: list[str] | None = None  # customers: extra columns to keep (None: all)
    duplicates: Literal["reject", "keep"] = "reject"  # rows repeating an earlier one exactly

    @model_validator(mode="after")
    def _one_origin(self) -> TableMapping:
        given = [n for n in ("path", "table", "query") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError(f"give only one of path, table, query (got {', '.join(given)})")
        return self

    @property
    def origin(self) -> str:
        """A short human description of where the rows come from."""
        if self.path:
            return str(self.path)
        if self.table:
            return f"table {self.table}"
        if self.query:
            return "query"
        return "(nowhere)"


class StatusRules(BaseModel):
    """Status words (case-insensitive) that make an order row cancelled or refunded."""

    model_config = ConfigDict(extra="forbid")

    cancelled: list[str] = Field(default_factory=lambda: list(DEFAULT_CANCELLED_STATUSES))
    refunded: list[str] = Field(default_factory=lambda: list(DEFAULT_REFUNDED_STATUSES))


class Mapping(BaseModel):
    """A whole mapping: an optional database URL and one entry per canonical table."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = None
    preset: str | None = None
    tables: dict[str, TableMapping] = Field(default_factory=dict)
    statuses: StatusRules = Field(default_factory=StatusRules)
    params: dict[str, Any] = Field(default_factory=dict)
    # Capability settings kept in the same file ([segmentation] schemes, k range...).
    segmentation: dict[str, Any] = Field(default_factory=dict)
    # [forecasting]: models, windows, and [forecasting.prophet] settings.
    forecasting: dict[str, Any] = Field(default_factory=dict)
    # [value]: churn risk thresholds, CLV days and discount rate.
    value: dict[str, Any] = Field(default_factory=dict)
    # [writeback]: tables in the shop's own database (writeback.py).
    writeback: dict[str, Any] = Field(default_factory=dict)
    # [schedule]: cron expressions for sync and training jobs (jobs/schedule.py).
    schedule: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_tables(self) -> Mapping:
        for name, table in self.tables.items():
            if name not in TABLES:
                close = closest_names(name, TABLES)
                raise ValueError(
                    f"unknown table [tables.{name}]; canonical tables are "
                    f"{', '.join(TABLES)}" + (f" (did you mean {close[0]!r}?)" if close else "")
                )
            canonical = TABLES[name]
            for col in table.columns:
                if col not in canonical.column_names and not canonical.keeps_extra_columns:
                    close = closest_names(col, canonical.column_names)
                    raise ValueError(
                        f"[tables.{name}.columns] names {col!r}, which is not a column of "
                        f"{name}; its columns are {', '.join(canonical.column_names)}"
                        + (f" (did you mean {close[0]!r}?)" if close else "")
                    )
        return self

    @classmethod
    def for_files(cls, **paths: Path | None) -> Mapping:
        """A mapping of canonical table name -> file path, columns guessed."""
        return cls(tables={n: TableMapping(path=p) for n, p in paths.items() if p is not None})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            "mapping file not found",
            where=str(path),
            hint="create it with `custintel init --source URL`, or check the path",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", where=str(path)) from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into ``base`` (tables merge, values replace)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _preset_dict(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        close = closest_names(name, PRESETS)
        raise ConfigError(
            f"unknown preset {name!r}; presets are {', '.join(PRESETS)}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
        )
    text = resources.files("custintel.data.presets").joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def _build(data: dict[str, Any], where: str) -> Mapping:
    if data.get("preset"):
        data = _merge(_preset_dict(data["preset"]), data)
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(problems, where=where) from None


def load_preset(name: str, **overrides: Any) -> Mapping:
    """The mapping of a built-in preset, with top-level overrides (e.g. ``source``)."""
    return _build({"preset": name, **overrides}, where=f"preset {name}")


def load_mapping(path: Path) -> Mapping:
    """Read and validate a ``custintel.toml`` mapping, resolving its preset.

    Relative file paths in the mapping are taken relative to the mapping file.
    """
    mapping = _build(_read_toml(path), where=str(path))
    for table in mapping.tables.values():
        if table.path is not None and not table.path.is_absolute():
            table.path = path.parent / table.path
    return mapping


# Source column names that commonly mean a canonical column, most specific first.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customer_id",
        "customerid",
        "customer",
        "client_id",
        "clientid",
        "user_id",
        "userid",
        "cust_id",
        "buyer_id",
        "member_id",
        "account_id",
        "retailer_id",
        "id_usuario",
        "usuario_id",
        "cliente_id",
        "id_cliente",
        "customer id",
    ),
    "ordered_at": (
        "ordered_at",
        "order_date",
        "orderdate",
        "order date",
        "purchase_date",
        "invoice_date",
        "invoicedate",
        "transaction_date",
        "date",
        "created_at",
        "timestamp",
        "datetime",
        "fecha",
        "fecha_venta",
        "purchased_at",
        "purchased_on",
        "ordered_on",
        "sold_at",
    ),
    "amount": (
        "amount",
        "total_amount",
        "total",
        "order_total",
        "sales",
        "revenue",
        "dollar_value",
        "value",
        "line_total",
        "grand_total",
        "monto",
        "importe",
        "total_venta",
    ),
    "order_id": (
        "order_id",
        "orderid",
        "order id",
        "invoice",
        "invoice_no",
        "invoiceno",
        "transaction_id",
        "id_venta",
        "venta_id",
        "purchase_id",
        "sale_id",
    ),
    "line_id": ("line_id", "order_item_id", "item_id", "row id", "row_id"),
    "product_id": (
        "product_id",
        "productid",
        "product id",
        "sku",
        "stockcode",
        "item",
        "id_producto",
        "producto_id",
    ),
    "category": ("category", "product_category", "category_name", "categoria", "tipo"),
    "quantity": ("quantity", "qty", "number_of_cds", "units", "cantidad"),
    "unit_price": ("unit_price", "unitprice", "price", "precio", "precio_unitario"),
    "store_id": ("store_id", "store", "shop_id", "branch_id", "tienda_id"),
    "seller_id": ("seller_id", "seller", "vendor_id", "salesperson_id", "vendedor_id"),
    "status": ("status", "order_status", "state", "estado"),
    "signup_at": (
        "signup_at",
        "created_at",
        "registered_at",
        "signup_date",
        "joined_at",
        "fecha_registro",
        "signup",
        "signed_up_at",
        "joined_on",
        "registered_on",
    ),
    "name": ("name", "product_name", "title", "nombre"),
    "price": ("price", "list_price", "unit_price", "precio"),
    "rating": ("rating", "stars", "score", "review_score", "calificacion"),
    "text": ("text", "review", "review_text", "body", "comment", "verified_reviews", "comentario"),
}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def guess_columns(table: str, source_columns: list[str]) -> dict[str, str]:
    """Guess canonical -> source column names for ``table`` from common synonyms.

    Each source column is used at most once; the canonical columns are tried in table
    order, so ``customer_id`` claims ``user_id`` before anything else can.
    """
    by_norm = {_normalise(c): c for c in source_columns}
    taken: set[str] = set()
    guessed: dict[str, str] = {}
    own_id = f"{table.removesuffix('s')}_id"  # customers.id is the customer_id
    for column in TABLES[table].column_names:
        synonyms = SYNONYMS.get(column, (column,)) + (("id",) if column == own_id else ())
        for synonym in synonyms:
            source = by_norm.get(_normalise(synonym))
            if source is not None and source not in taken:
                guessed[column] = source
                taken.add(source)
                break
    return guessed
