"""``custintel init``: inspect a database and propose a first mapping.

First it looks for a built-in preset whose tables are all there. Otherwise it scores
each table as a candidate for orders, customers, products and reviews by the columns
it can map (see :func:`custintel.data.mapping.guess_columns`) and by its name, and
writes what it found as custintel.toml, with what it could not map as comments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from custintel.data.mapping import guess_columns, load_preset
from custintel.data.model import TABLES
from custintel.data.sql import ROW_BY_ROW_JOINS, Database

__all__ = ["PRESET_TABLES", "Proposal", "propose_mapping"]

# The tables whose presence identifies a preset's schema.
PRESET_TABLES: dict[str, frozenset[str]] = {
    "laravel": frozenset({"users", "orders", "order_items", "products", "categories"}),
    "b2b": frozenset({"retailers", "sellers", "orders", "products"}),
    "store_chain": frozenset(
        {"customer_details", "store_sales_header", "store_sales_line_items", "products", "stores"}
    ),
    "spanish_shop": frozenset({"usuario", "venta", "detalle_venta", "producto", "tipo"}),
}
_NAME_HINTS = {
    "orders": ("order", "sale", "transaction", "invoice", "venta", "purchase"),
    "customers": ("customer", "user", "client", "member", "retailer", "usuario", "account"),
    "products": ("product", "item", "sku", "article", "producto"),
    "reviews": ("review", "rating", "feedback"),
}


@dataclass
class Proposal:
    """A proposed mapping (TOML text) and notes on what was and was not mapped."""

    toml: str
    notes: list[str] = field(default_factory=list)
    preset: str | None = None


def _score(canonical: str, table: str, columns: list[str]) -> tuple[int, dict[str, str]]:
    guessed = guess_columns(canonical, columns)
    spec = TABLES[canonical]
    if not all(c in guessed for c in spec.required):
        return -1, guessed
    name_bonus = 3 if any(h in table.lower() for h in _NAME_HINTS[canonical]) else 0
    line_penalty = -1 if canonical == "orders" and "item" in table.lower() else 0
    return len(guessed) + name_bonus + line_penalty, guessed


def _missing_index_notes(database: Database, preset: str) -> list[str]:
    """A note for each join column of the preset's queries without an index, on the
    servers that would join it row by row: each sync reads the whole join, and on the
    10,000-customer demo shop in MariaDB it took 318 s without ``order_items(order_id)``
    and 4.7 s with it (docs/mapping.md)."""
    if database.dialect not in ROW_BY_ROW_JOINS:
        return []
    queries = [t.query for t in load_preset(preset).tables.values() if t.query]
    missing = dict.fromkeys(pair for q in queries for pair in database.unindexed_joins(q))
    return [
        f"{table}.{column} has no index: MySQL and MariaDB join {table} row by row "
        "without one, and every sync can take minutes; add it with "
        f"CREATE INDEX {table}_{column}_index ON {table} ({column})"
        for table, column in missing
    ]


def propose_mapping(url: str) -> Proposal:
    """Inspect the database at ``url`` and propose a mapping for it."""
    database = Database(url)
    tables = database.tables()
    lines = [
        f"# Written by `custintel init` from {database.where}.",
        "# Check every line; then run `custintel sync --mapping custintel.toml`.",
        f"source = {json.dumps(url)}",
    ]
    for preset, needed in PRESET_TABLES.items():
        if needed <= set(tables):
            lines.append(f"preset = {json.dumps(preset)}")
            return Proposal(
                "\n".join(lines) + "\n",
                [
                    f"found the tables of the {preset!r} preset: using it",
                    *_missing_index_notes(database, preset),
                ],
                preset,
            )
    notes: list[str] = []
    taken: set[str] = set()
    for canonical in ("orders", "customers", "products", "reviews"):
        ranked = sorted(
            ((_score(canonical, t, cols), t) for t, cols in tables.items() if t not in taken),
            key=lambda item: item[0][0],
            reverse=True,
        )
        if not ranked or ranked[0][0][0] < 0:
            notes.append(
                f"{canonical}: no table has the columns it needs "
                f"({', '.join(TABLES[canonical].required)}); add [tables.{canonical}] "
                "by hand with a `query =` if the data is spread over several tables"
            )
            continue
        (_, guessed), table = ranked[0]
        taken.add(table)
        lines += ["", f"[tables.{canonical}]", f"table = {json.dumps(table)}"]
        if "updated_at" in tables[table]:
            lines.append('updated_at = "updated_at"')
        lines.append(f"[tables.{canonical}.columns]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in guessed.items()]
        unmapped = [c.name for c in TABLES[canonical].columns if c.name not in guessed]
        if unmapped:
            lines.append(f"# not found in {table}: {', '.join(unmapped)}")
        notes.append(
            f"{canonical}: table {table!r}, mapped {', '.join(guessed)}"
            + (f"; could not map {', '.join(unmapped)}" if unmapped else "")
        )
    if "orders" not in taken and not any(n.startswith("orders: table") for n in notes):
        notes.insert(0, "no orders table found: the mapping cannot be synced until you add one")
    return Proposal("\n".join(lines) + "\n", notes)
