"""Sales series: revenue and order counts per day, week or month, total or per group.

The forecasting capability reads these. Every series shares one dense calendar (missing
periods are zeros), so a many-series model gets a rectangular panel. Only rows strictly
before ``as_of`` are read, like every feature. docs/features.md defines the columns.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Literal

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import expressions as exp

from custintel.errors import ConfigError, StoreError

__all__ = ["BY_COLUMNS", "FREQUENCIES", "NONE_LABEL", "TOTAL_LABEL", "sales_series"]

# Columns a series can be split by; "segment" is each customer's RFM segment in the
# latest recorded segmentation run (``custintel segment`` on the data directory).
BY_COLUMNS = ("category", "store_id", "seller_id", "segment")
# freq -> the date_trunc unit that gives each period's first day (weeks start on Monday).
FREQUENCIES = {"D": "day", "W": "week", "M": "month"}
TOTAL_LABEL = "total"
NONE_LABEL = "(none)"

Freq = Literal["D", "W", "M"]


def _period_start(d: date, freq: str) -> date:
    if freq == "W":
        return d - timedelta(days=d.weekday())
    if freq == "M":
        return d.replace(day=1)
    return d


def _next_period(d: date, freq: str) -> date:
    if freq == "D":
        return d + timedelta(days=1)
    if freq == "W":
        return d + timedelta(days=7)
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def calendar(first: date, last: date, freq: str) -> list[date]:
    """Every period start from the period holding ``first`` to the one holding ``last``."""
    out = []
    current, end = _period_start(first, freq), _period_start(last, freq)
    while current <= end:
        out.append(current)
        current = _next_period(current, freq)
    return out


def _check_where(where: str) -> str:
    """Accept one boolean SQL expression over ``orders`` columns; nothing else.

    The filter comes from our own code or configuration (e.g. one seller's sales), not
    from an HTTP client; this check stops a mistake (a second statement, a subquery that
    reads other tables) rather than an attacker.
    """
    try:
        statements = sqlglot.parse(f"SELECT 1 FROM orders WHERE {where}", read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"where={where!r} is not a valid SQL condition: {exc}") from exc
    select = statements[0] if len(statements) == 1 else None
    condition = select.args.get("where") if isinstance(select, exp.Select) else None
    if condition is None or any(True for _ in condition.find_all(exp.Select)):
        raise ConfigError(
            f"where={where!r} should be one condition on the orders columns",
            hint="e.g. \"seller_id = 'S1'\"; no subqueries, no ';'",
        )
    return where


def _with_segments(con: duckdb.DuckDBPyConnection) -> str:
    """The orders joined to each customer's segment in the latest recorded run."""
    has_runs = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'segment_assignments'"
    ).fetchone()
    if not has_runs or not has_runs[0]:
        raise StoreError(
            "no segmentation has been recorded, so there are no segments to split by",
            where="segment_assignments",
            hint="run `custintel segment --out segments.csv` on the data directory first",
        )
    return """(
      SELECT o.*, s.rfm_segment
      FROM orders AS o
      LEFT JOIN (
        SELECT customer_id, rfm_segment FROM segment_assignments
        WHERE as_of = (SELECT max(as_of) FROM segment_assignments)
      ) AS s USING (customer_id)
    )"""


def sales_series(
    con: duckdb.DuckDBPyConnection,
    freq: Freq,
    *,
    by: str | None = None,
    as_of: date | None = None,
    start: date | None = None,
    where: str | None = None,
) -> pa.Table:
    """Revenue and orders per period, one series per value of ``by`` (or ``"total"``).

    Columns: ``series`` (VARCHAR; NULL values of ``by`` are ``"(none)"``), ``period``
    (DATE: the day, the Monday of the week, or the 1st of the month), ``revenue`` (sum
    of net_amount, currency units: sales minus returns) and ``orders`` (distinct orders
    among sale rows; rows without order_id count one order per customer and day).

    Reads rows with ``start <= ordered_at < as_of`` that match ``where`` (a SQL
    condition on orders columns). The calendar runs from the period holding the first
    row (or ``start``, if given) to the period holding the last row (or the day before
    ``as_of``, if given); every series has every period, zeros where it had no rows.
    The last period may be incomplete (it ends at ``as_of``); callers that need whole
    periods drop it. Rows are sorted by (series, period).
    """
    if freq not in FREQUENCIES:
        raise ConfigError(
            f"freq={freq!r} is not supported; use one of {', '.join(FREQUENCIES)}",
            hint="D = daily, W = weekly (Monday start), M = monthly",
        )
    if by is not None and by not in BY_COLUMNS:
        raise ConfigError(
            f"by={by!r} is not supported; use one of {', '.join(BY_COLUMNS)} (or none)",
            hint="series can be split by category, store_id, seller_id or segment",
        )
    source = "orders"
    if by == "segment":
        source = _with_segments(con)
    if as_of is not None and start is not None and start >= as_of:
        raise ConfigError(f"start={start} should be before as_of={as_of}")

    conditions, params = [], []
    if as_of is not None:
        conditions.append("ordered_at < CAST(? AS TIMESTAMP)")
        params.append(as_of)
    if start is not None:
        conditions.append("ordered_at >= CAST(? AS TIMESTAMP)")
        params.append(start)
    if where:
        conditions.append(f"({_check_where(where)})")
    filt = " AND ".join(conditions) or "1 = 1"
    label = "rfm_segment" if by == "segment" else by
    series = f"COALESCE(CAST({label} AS VARCHAR), '{NONE_LABEL}')" if by else f"'{TOTAL_LABEL}'"
    unit = FREQUENCIES[freq]

    try:
        (bounds,) = con.sql(
            f"SELECT MIN(ordered_at), MAX(ordered_at) FROM orders WHERE {filt}", params=params
        ).fetchall()
    except duckdb.CatalogException as exc:
        if "orders" in str(exc) and "Table" in str(exc):
            raise StoreError(
                "the store has no 'orders' table", where="orders", hint="ingest orders first"
            ) from exc
        raise ConfigError(f"where={where!r} does not fit the orders table: {exc}") from exc
    except duckdb.Error as exc:
        raise ConfigError(f"where={where!r} does not fit the orders table: {exc}") from exc

    schema = pa.schema(
        [
            ("series", pa.string()),
            ("period", pa.date32()),
            ("revenue", pa.float64()),
            ("orders", pa.int64()),
        ]
    )
    if bounds[0] is None:
        return schema.empty_table()
    first = start if start is not None else bounds[0].date()
    last = as_of - timedelta(days=1) if as_of is not None else bounds[1].date()
    periods = pa.table({"period": pa.array(calendar(first, last, freq), pa.date32())})

    name = f"calendar_{uuid.uuid4().hex}"
    con.register(name, periods)
    try:
        table = con.sql(
            f"""
            WITH rows_ AS (
              SELECT
                {series} AS series,
                CAST(date_trunc('{unit}', ordered_at) AS DATE) AS period,
                customer_id,
                order_id,
                CAST(ordered_at AS DATE) AS day,
                kind,
                net_amount
              FROM {source}
              WHERE {filt}
            ),
            revenue AS (
              SELECT series, period, SUM(net_amount) AS revenue
              FROM rows_
              GROUP BY series, period
            ),
            order_keys AS (
              SELECT series, period
              FROM rows_
              WHERE kind = 'sale'
              GROUP BY series, period, customer_id, order_id,
                CASE WHEN order_id IS NULL THEN day END
            ),
            order_counts AS (
              SELECT series, period, COUNT(*) AS orders
              FROM order_keys
              GROUP BY series, period
            )
            SELECT
              s.series,
              c.period,
              CAST(COALESCE(r.revenue, 0) AS DOUBLE) AS revenue,
              CAST(COALESCE(o.orders, 0) AS BIGINT) AS orders
            FROM (SELECT DISTINCT series FROM rows_) AS s
            CROSS JOIN {name} AS c
            LEFT JOIN revenue AS r ON r.series = s.series AND r.period = c.period
            LEFT JOIN order_counts AS o ON o.series = s.series AND o.period = c.period
            ORDER BY s.series, c.period
            """,
            params=params,
        ).to_arrow_table()
    finally:
        con.unregister(name)
    return table.cast(schema)
