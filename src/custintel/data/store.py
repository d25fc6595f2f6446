"""The analytical store: one DuckDB file (or memory) holding the canonical tables.

Each canonical table carries, beside its columns, ``_key`` (what identifies a row for
incremental sync), ``_hash`` (to tell a changed row from an unchanged one) and
``_synced_at``. Orders also carry ``kind`` and ``net_amount`` (the refund rule,
:class:`custintel.data.model.OrderKind`). ``_sync_state`` keeps each table's watermark.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from custintel.data.model import TABLES
from custintel.errors import NotEnoughData, StoreError

__all__ = ["Store", "UpsertCounts"]

_META = "_sync_state"


@dataclass(frozen=True)
class UpsertCounts:
    """Rows of one upsert: new, changed (replaced) and unchanged."""

    inserted: int
    updated: int
    unchanged: int


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """The DuckDB store of one shop. ``path=None`` keeps it in memory (CLI on files)."""

    def __init__(
        self, path: Path | None = None, *, read_only: bool = False, memory_limit: str | None = None
    ):
        self.path = path
        where = str(path) if path else ":memory:"
        config: dict[str, str | bool | int | float | list[str]] = (
            {"memory_limit": memory_limit} if memory_limit else {}
        )
        try:
            if path is not None and not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            if read_only and (path is None or not path.exists()):
                raise StoreError(
                    "the store does not exist yet",
                    where=where,
                    hint="run `custintel sync` (or `custintel demo`) first",
                )
            self.con = duckdb.connect(where, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            message = str(exc).splitlines()[0]
            hint = (
                "another custintel process (serve, worker, sync) holds the store; "
                "stop it or wait for it to finish"
                if "lock" in message.lower()
                else "check the path and its permissions; if the file is damaged, "
                "move it away and sync again"
            )
            raise StoreError(f"cannot open the store: {message}", where=where, hint=hint) from None
        except duckdb.Error as exc:
            raise StoreError(
                f"cannot open the store: {str(exc).splitlines()[0]}",
                where=where,
                hint="move the damaged file away and sync again",
            ) from None
        self.con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {_META} (table_name VARCHAR PRIMARY KEY, "
                "origin VARCHAR, watermark TIMESTAMP, synced_at TIMESTAMP)"
            )

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: anything raised inside rolls the store back as it was."""
        self.con.begin()
        try:
            yield self.con
        except BaseException:
            self.con.rollback()
            raise
        else:
            self.con.commit()

    def has_table(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name = ?",
            [name],
        ).fetchone()
        return bool(row and row[0])

    def first_order_date(self, before: date | None = None) -> date | None:
        """The day of the first order (strictly before ``before`` when given), or None
        when there is none: where a shop's history, and a model's training data, start."""
        return self._order_date("min", before)

    def last_order_date(self, before: date | None = None) -> date | None:
        """The day of the last order (strictly before ``before`` when given), or None
        when there is none: where a shop's history stops."""
        return self._order_date("max", before)

    def _order_date(self, which: str, before: date | None) -> date | None:
        query = f"SELECT CAST({which}(ordered_at) AS DATE) FROM orders"
        row = (
            self.con.execute(query + " WHERE ordered_at < ?", [before]).fetchone()
            if before is not None
            else self.con.execute(query).fetchone()
        )
        return row[0] if row else None

    def count(self, name: str) -> int:
        if not self.has_table(name):
            return 0
        row = self.con.execute(f"SELECT count(*) FROM {_q(name)}").fetchone()
        return int(row[0]) if row else 0

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"DESCRIBE {_q(name)}").fetchall()]

    def ensure_table(
        self, name: str, staged: str, extras: list[str], *, where: str = "false"
    ) -> None:
        """Create canonical table ``name`` shaped like ``staged`` (with the rows matching
        ``where``: one CREATE TABLE AS writes far faster than a later INSERT), or add the
        extra columns it lacks."""
        canonical = TABLES[name].column_names
        own = canonical + (["kind", "net_amount"] if name == "orders" else []) + extras
        if not self.has_table(name):
            cols = ", ".join(_q(c) for c in own)
            self.con.execute(
                f"CREATE TABLE {_q(name)} AS SELECT {cols}, _key, _hash, "
                f"now()::TIMESTAMP AS _synced_at FROM {_q(staged)} WHERE {where}"
            )
            return
        present = set(self.columns(name))
        types = {r[0]: r[1] for r in self.con.execute(f"DESCRIBE {_q(staged)}").fetchall()}
        for extra in extras:
            if extra not in present:
                self.con.execute(f"ALTER TABLE {_q(name)} ADD COLUMN {_q(extra)} {types[extra]}")

    def upsert(self, name: str, staged: str, extras: list[str]) -> UpsertCounts:
        """Insert new rows of ``staged`` (those without ``_reason``), replace changed ones.

        A row is new when its ``_key`` is not in the table, changed when its ``_hash``
        differs. Re-running the same data changes nothing (idempotent).
        """
        if not self.has_table(name):  # a first load: create the table from the rows
            self.ensure_table(name, staged, extras, where="_reason IS NULL")
            return UpsertCounts(self.count(name), 0, 0)
        self.ensure_table(name, staged, extras)
        target_cols = [c for c in self.columns(name) if c != "_synced_at"]
        staged_cols = set(self.columns(staged))
        cols = ", ".join(_q(c) for c in target_cols)
        if self.count(name) == 0:  # a first load: every accepted row is new
            select = ", ".join(
                _q(c) if c in staged_cols else f"NULL AS {_q(c)}" for c in target_cols
            )
            self.con.execute(
                f"INSERT INTO {_q(name)} ({cols}, _synced_at) "
                f"SELECT {select}, now()::TIMESTAMP FROM {_q(staged)} "
                "WHERE _reason IS NULL"
            )
            return UpsertCounts(self.count(name), 0, 0)
        select = ", ".join(
            f"s.{_q(c)}" if c in staged_cols else f"NULL AS {_q(c)}" for c in target_cols
        )
        self.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _changes AS
            SELECT {select}, t._key IS NULL AS _is_new
            FROM {_q(staged)} s LEFT JOIN {_q(name)} t ON s._key = t._key
            WHERE s._reason IS NULL AND (t._key IS NULL OR t._hash <> s._hash)
        """)
        row = self.con.execute(
            "SELECT count(*) FILTER (WHERE _is_new), count(*) FILTER (WHERE NOT _is_new) "
            "FROM _changes"
        ).fetchone()
        inserted, updated = (int(row[0]), int(row[1])) if row else (0, 0)
        if updated:
            self.con.execute(
                f"DELETE FROM {_q(name)} WHERE _key IN "
                "(SELECT _key FROM _changes WHERE NOT _is_new)"
            )
        self.con.execute(
            f"INSERT INTO {_q(name)} ({cols}, _synced_at) "
            f"SELECT {cols}, now()::TIMESTAMP FROM _changes"
        )
        total = self.con.execute(
            f"SELECT count(*) FROM {_q(staged)} WHERE _reason IS NULL"
        ).fetchone()
        self.con.execute("DROP TABLE _changes")
        return UpsertCounts(inserted, updated, int(total[0] if total else 0) - inserted - updated)

    def watermark(self, name: str) -> datetime | None:
        row = self.con.execute(
            f"SELECT watermark FROM {_META} WHERE table_name = ?", [name]
        ).fetchone()
        return row[0] if row else None

    def record_sync(self, name: str, origin: str, watermark: datetime | None) -> None:
        self.con.execute(
            f"INSERT OR REPLACE INTO {_META} VALUES (?, ?, "
            f"greatest(?, (SELECT watermark FROM {_META} WHERE table_name = ?)), "
            "now()::TIMESTAMP)",
            [name, origin, watermark, name],
        )

    def fill_categories_from_products(self) -> None:
        """Order lines without a category take their product's category."""
        if self.has_table("orders") and self.has_table("products"):
            self.con.execute("""
                UPDATE orders SET category = p.category FROM products p
                WHERE orders.category IS NULL AND orders.product_id = p.product_id
                  AND p.category IS NOT NULL""")


def require_orders_since(store: Store, start: date, as_of: date, window: str, use: str) -> None:
    """Refuse an as_of whose latest ``window`` (``start`` to the day before ``as_of``)
    holds no order: an as_of past the end of the shop's orders (a stale export, a typo in
    the year). A capability checks its models on that window (``use`` says how), and on
    an empty one predicting nothing looks right."""
    last = store.last_order_date(before=as_of)
    if last is not None and last < start:
        raise NotEnoughData(
            f"there is no order in the {window} before as_of {as_of} ({start} to "
            f"{as_of - timedelta(days=1)}), {use}: the orders stop at {last}",
            where="--as-of",
            hint=f"use as_of {last + timedelta(days=1)} (the default without --as-of), "
            f"or sync the orders placed since {last}",
        )
