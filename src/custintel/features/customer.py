"""Point-in-time customer features: one row per (as_of, customer), computed in SQL.

Every feature sees only order rows strictly before its ``as_of`` date, so the same code
builds training examples (many cutoffs in one query) and scores today (one cutoff).
The SQL is written to transpile to Spark SQL with sqlglot: no ``QUALIFY``, no
``FILTER (WHERE ...)``, no list or struct functions; conditional aggregates are
``CASE WHEN`` inside the aggregate, and day arithmetic is ``date_diff('day', a, b)``.

docs/features.md defines every column, its unit and the fallback rules.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import date, datetime

import duckdb
import pyarrow as pa

from custintel.errors import ConfigError, StoreError

__all__ = ["FEATURE_COLUMNS", "category_slug", "customer_features", "feature_sql"]

# The windows (days) of the orders_<N>d / spend_<N>d columns: [as_of - N days, as_of).
WINDOWS = (7, 30, 90, 365)

# Every column a feature table always has, in order; category columns follow.
FEATURE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "as_of",
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "purchase_days",
    "monetary_mean",
    "order_value_max",
    "order_value_std",
    "ipi_mean_days",
    "ipi_std_days",
    "recency_vs_usual",
    *(f"orders_{n}d" for n in WINDOWS),
    *(f"spend_{n}d" for n in WINDOWS),
    "trend_90d",
    "distinct_products",
    "distinct_categories",
    "distinct_stores",
    "weekend_share",
    "refund_count",
    "refund_amount",
    "cancelled_count",
    "avg_basket_lines",
)

OTHER = "other"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def category_slug(name: str) -> str:
    """Return the column-name slug of a category: ASCII, lower-case, ``_`` for the rest.

    Accents are folded first ("Decoración" -> "decoracion") and each run of characters
    that are not ``a-z0-9`` becomes one ``_``, trimmed at both ends ("Home & Garden" ->
    "home_garden"). A name with no letters or digits becomes "category".
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")
    return slug or "category"


def _unique_slugs(categories: Sequence[str]) -> list[str]:
    """Slug each category, suffixing ``_2``, ``_3``... on clashes (``other`` is reserved)."""
    taken = {OTHER}
    slugs = []
    for name in categories:
        base = category_slug(name)
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}_{n}"
        taken.add(slug)
        slugs.append(slug)
    return slugs


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _window_sums(column: str, age: str, value: str) -> str:
    """SUM(CASE ...) per window: ``value`` summed where ``age`` (days before as_of) <= N."""
    return ",\n".join(
        f"    SUM(CASE WHEN {age} <= {n} THEN {value} ELSE 0 END) AS {column}_{n}d"
        for n in WINDOWS
    )


def feature_sql(
    as_of_table: str = "cutoffs", categories: Sequence[str] = (), *, other: bool | None = None
) -> str:
    """Return the feature query over ``orders`` and a table of cutoffs ``(as_of DATE)``.

    ``categories`` are the category values that get their own ``spend__``/``share__``
    columns; every other category, and NULL, goes to ``spend__other``/``share__other``,
    which are present when ``other`` is true (default: when ``categories`` is not
    empty). With neither, the query has no category columns. The text is plain SQL in
    DuckDB's dialect that ``sqlglot.transpile(sql, read="duckdb", write="spark")`` turns
    into Spark SQL.
    """
    if not _IDENTIFIER.fullmatch(as_of_table):
        raise ConfigError(
            f"as_of_table={as_of_table!r} is not a plain table name",
            hint="use letters, digits, underscores and at most one dot (schema.table)",
        )
    slugs = _unique_slugs(categories)
    if other is None:
        other = bool(categories)
    cat_sums = ""
    cat_select = ""
    if categories or other:
        sums = [
            f"    SUM(CASE WHEN kind = 'sale' AND category = {_literal(c)} "
            f"THEN net_amount ELSE 0 END) AS cat_{i}"
            for i, c in enumerate(categories)
        ]
        keys = [f"cat_{i}" for i in range(len(categories))]
        names = list(slugs)
        if other:
            rest = "kind = 'sale'"
            if categories:
                listed = ", ".join(_literal(c) for c in categories)
                rest += f" AND (category IS NULL OR category NOT IN ({listed}))"
            sums.append(f"    SUM(CASE WHEN {rest} THEN net_amount ELSE 0 END) AS cat_other")
            keys.append("cat_other")
            names.append(OTHER)
        cat_sums = ",\n" + ",\n".join(sums)
        spend = [f"  cu.{k} AS spend__{s}" for k, s in zip(keys, names, strict=True)]
        share = [
            f"  CASE WHEN cu.sale_spend > 0 THEN cu.{k} / cu.sale_spend END AS share__{s}"
            for k, s in zip(keys, names, strict=True)
        ]
        cat_select = ",\n" + ",\n".join(spend + share)

    orders_cols = ",\n".join(
        f"  CAST(COALESCE(os.orders_{n}d, 0) AS BIGINT) AS orders_{n}d" for n in WINDOWS
    )
    spend_cols = ",\n".join(f"  cu.spend_{n}d" for n in WINDOWS)
    return f"""\
WITH lines AS NOT MATERIALIZED (
  SELECT
    o.customer_id,
    c.as_of,
    CAST(o.ordered_at AS DATE) AS day,
    date_diff('day', CAST(o.ordered_at AS DATE), c.as_of) AS age,
    o.kind,
    o.amount,
    o.net_amount,
    o.order_id,
    o.product_id,
    o.category,
    o.store_id
  FROM orders AS o
  JOIN {as_of_table} AS c ON o.ordered_at < CAST(c.as_of AS TIMESTAMP)
),
sale_orders AS (
  -- one row per order of sale lines; rows without order_id group by day
  SELECT
    as_of,
    customer_id,
    SUM(net_amount) AS order_total,
    COUNT(*) AS n_lines,
    MAX(age) AS order_age
  FROM lines
  WHERE kind = 'sale'
  GROUP BY as_of, customer_id, order_id, CASE WHEN order_id IS NULL THEN age END
),
order_stats AS (
  SELECT
    as_of,
    customer_id,
    COUNT(*) AS frequency,
    MAX(order_total) AS order_value_max,
    STDDEV_POP(order_total) AS order_value_std,
    SUM(n_lines) AS sale_lines,
{_window_sums("orders", "order_age", "1")}
  FROM sale_orders
  GROUP BY as_of, customer_id
),
sale_days AS (
  SELECT as_of, customer_id, day, age
  FROM lines
  WHERE kind = 'sale'
  GROUP BY as_of, customer_id, day, age
),
day_gaps AS (
  SELECT
    as_of,
    customer_id,
    -- 0 = Monday ... 6 = Sunday (1900-01-01 was a Monday)
    ((date_diff('day', DATE '1900-01-01', day) % 7) + 7) % 7 AS weekday,
    LAG(age) OVER (PARTITION BY as_of, customer_id ORDER BY age DESC) - age AS gap
  FROM sale_days
),
day_stats AS (
  SELECT
    as_of,
    customer_id,
    COUNT(*) AS purchase_days,
    SUM(CASE WHEN weekday >= 5 THEN 1 ELSE 0 END) AS weekend_days,
    AVG(gap) AS ipi_mean_days,
    STDDEV_POP(gap) AS ipi_std_days
  FROM day_gaps
  GROUP BY as_of, customer_id
),
cust AS (
  SELECT
    as_of,
    customer_id,
    MIN(CASE WHEN kind = 'sale' THEN age END) AS sale_recency,
    MAX(CASE WHEN kind = 'sale' THEN age END) AS sale_tenure,
    MIN(age) AS any_recency,
    MAX(age) AS any_tenure,
    SUM(net_amount) AS monetary,
    SUM(CASE WHEN kind = 'sale' THEN net_amount ELSE 0 END) AS sale_spend,
{_window_sums("spend", "age", "net_amount")},
    SUM(CASE WHEN age > 90 AND age <= 180 THEN net_amount ELSE 0 END) AS spend_prev_90d,
    COUNT(DISTINCT CASE WHEN kind = 'sale' THEN product_id END) AS distinct_products,
    COUNT(DISTINCT CASE WHEN kind = 'sale' THEN category END) AS distinct_categories,
    COUNT(DISTINCT CASE WHEN kind = 'sale' THEN store_id END) AS distinct_stores,
    SUM(CASE WHEN kind IN ('return', 'refunded') THEN 1 ELSE 0 END) AS refund_count,
    SUM(CASE WHEN kind IN ('return', 'refunded') THEN ABS(amount) ELSE 0 END)
      AS refund_amount,
    SUM(CASE WHEN kind = 'cancelled' THEN 1 ELSE 0 END) AS cancelled_count{cat_sums}
  FROM lines
  GROUP BY as_of, customer_id
)
SELECT
  cu.customer_id,
  cu.as_of,
  CAST(COALESCE(cu.sale_recency, cu.any_recency) AS BIGINT) AS recency_days,
  CAST(COALESCE(os.frequency, 0) AS BIGINT) AS frequency,
  cu.monetary,
  CAST(COALESCE(cu.sale_tenure, cu.any_tenure) AS BIGINT) AS tenure_days,
  CAST(COALESCE(ds.purchase_days, 0) AS BIGINT) AS purchase_days,
  cu.monetary / os.frequency AS monetary_mean,
  os.order_value_max,
  os.order_value_std,
  CAST(ds.ipi_mean_days AS DOUBLE) AS ipi_mean_days,
  CAST(ds.ipi_std_days AS DOUBLE) AS ipi_std_days,
  CAST(cu.sale_recency AS DOUBLE) / ds.ipi_mean_days AS recency_vs_usual,
{orders_cols},
{spend_cols},
  CASE WHEN ABS(cu.spend_90d) + ABS(cu.spend_prev_90d) = 0 THEN 0.0
    ELSE (cu.spend_90d - cu.spend_prev_90d) / (ABS(cu.spend_90d) + ABS(cu.spend_prev_90d))
  END AS trend_90d,
  CAST(cu.distinct_products AS BIGINT) AS distinct_products,
  CAST(cu.distinct_categories AS BIGINT) AS distinct_categories,
  CAST(cu.distinct_stores AS BIGINT) AS distinct_stores,
  CAST(ds.weekend_days AS DOUBLE) / ds.purchase_days AS weekend_share,
  CAST(cu.refund_count AS BIGINT) AS refund_count,
  cu.refund_amount,
  CAST(cu.cancelled_count AS BIGINT) AS cancelled_count,
  CAST(os.sale_lines AS DOUBLE) / os.frequency AS avg_basket_lines{cat_select}
FROM cust AS cu
LEFT JOIN order_stats AS os ON os.as_of = cu.as_of AND os.customer_id = cu.customer_id
LEFT JOIN day_stats AS ds ON ds.as_of = cu.as_of AND ds.customer_id = cu.customer_id
ORDER BY cu.as_of, cu.customer_id
"""


def _as_dates(as_of: date | Sequence[date]) -> list[date]:
    """Normalise ``as_of`` to a sorted list of distinct dates; reject times of day."""
    values = [as_of] if isinstance(as_of, date) else list(as_of)
    if not values:
        raise ConfigError("as_of is an empty list", hint="pass at least one cutoff date")
    dates = set()
    for value in values:
        if isinstance(value, datetime):
            if value.time() != datetime.min.time():
                raise ConfigError(
                    f"as_of={value.isoformat()} has a time of day; cutoffs are whole dates",
                    hint="pass a date (rows strictly before that day are used)",
                )
            value = value.date()
        if not isinstance(value, date):
            raise ConfigError(f"as_of={value!r} is not a date", hint="pass datetime.date values")
        dates.add(value)
    return sorted(dates)


def _categories_by_spend(con: duckdb.DuckDBPyConnection, before: date) -> list[str]:
    """Every category with a row before ``before``, by sale spend (desc) then by name."""
    rows = con.sql(
        """
        SELECT category
        FROM orders
        WHERE category IS NOT NULL AND ordered_at < CAST(? AS TIMESTAMP)
        GROUP BY category
        ORDER BY SUM(CASE WHEN kind = 'sale' THEN net_amount ELSE 0 END) DESC, category
        """,
        params=[before],
    ).fetchall()
    return [r[0] for r in rows]


def customer_features(
    con: duckdb.DuckDBPyConnection,
    as_of: date | Sequence[date],
    *,
    max_categories: int = 30,
) -> pa.Table:
    """Compute customer features at one or many cutoffs in a single query.

    Returns one row per (as_of, customer) for every customer with at least one order
    row (of any kind) strictly before ``as_of``; columns are :data:`FEATURE_COLUMNS`
    then, when the store has categories, ``spend__<slug>`` for the top
    ``max_categories`` categories by sale spend before the latest cutoff and
    ``spend__other``, then the matching ``share__<slug>`` columns. Days are whole
    calendar days, money is in the store's currency units. Rows are sorted by
    (as_of, customer_id).
    """
    dates = _as_dates(as_of)
    if max_categories < 0:
        raise ConfigError(f"max_categories={max_categories} should be >= 0")
    try:
        ranked = _categories_by_spend(con, dates[-1])
    except duckdb.CatalogException as exc:
        raise StoreError(
            "the store has no 'orders' table", where="orders", hint="ingest orders first"
        ) from exc

    table = f"cutoffs_{uuid.uuid4().hex}"
    values = ", ".join(f"(DATE '{d.isoformat()}')" for d in dates)
    con.sql(f"CREATE TEMP TABLE {table} (as_of DATE)")
    try:
        con.sql(f"INSERT INTO {table} VALUES {values}")
        sql = feature_sql(table, ranked[:max_categories], other=bool(ranked))
        return con.sql(sql).to_arrow_table()
    finally:
        con.sql(f"DROP TABLE IF EXISTS {table}")
