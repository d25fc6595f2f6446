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

__all__ = [
    "FEATURE_COLUMNS",
    "MAX_CATEGORIES",
    "OTHER",
    "category_slug",
    "category_slugs",
    "customer_features",
    "feature_sql",
    "top_categories",
]

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
    "repeat_spend",
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
# How many categories, those with the most sale spend, get columns of their own; the
# rest, and lines without a category, are summed in ``other``.
MAX_CATEGORIES = 30
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


def category_slugs(categories: Sequence[str]) -> list[str]:
    """The column-name slug of each category of a list, in its order: ``category_slug``,
    suffixed ``_2``, ``_3``... where an earlier category took it, and never ``other``,
    the column of every category not listed (a category named "Other" is ``other_2``).
    Every column that names the categories of one list uses these slugs."""
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


# Sums of money are rounded to this many decimals. A sum of doubles depends on the order
# of its terms, which DuckDB's threads vary from run to run, and a purchase refunded in
# full leaves a residue such as 0.1 + 0.2 - 0.3 = 5.6e-17: unrounded, that read as a
# rising trend_90d of +1, and the last digits of a sum could send a customer to the other
# side of a tree's split in one run and not the next.
MONEY_DECIMALS = 6


def _money(total: str) -> str:
    """``total`` (an aggregate or sum of money) rounded to ``MONEY_DECIMALS``."""
    return f"ROUND({total}, {MONEY_DECIMALS})"


def _window_sums(column: str, age: str, value: str, *, money: bool = False) -> str:
    """SUM(CASE ...) per window: ``value`` summed where ``age`` (days before as_of) <= N;
    rounded as money when ``money``."""
    lines = []
    for n in WINDOWS:
        total = f"SUM(CASE WHEN {age} <= {n} THEN {value} ELSE 0 END)"
        lines.append(f"    {_money(total) if money else total} AS {column}_{n}d")
    return ",\n".join(lines)


def _lines(as_of_table: str, where: str = "") -> str:
    """The order rows seen by each cutoff, with ``age`` = days from the row's date to as_of.

    Written out in every branch rather than shared as a CTE: a CTE used several times is
    materialised by DuckDB (a copy of every row), while a repeated scan of the columnar
    table is cheap and reads only the columns that branch needs.
    """
    cond = f" AND {where}" if where else ""
    return f"""(
    SELECT
      o.customer_id,
      c.as_of,
      date_diff('day', CAST(o.ordered_at AS DATE), c.as_of) AS age,
      o.kind,
      o.amount,
      o.net_amount,
      o.order_id,
      o.product_id,
      o.category,
      o.store_id
    FROM orders AS o
    JOIN {as_of_table} AS c ON o.ordered_at < CAST(c.as_of AS TIMESTAMP){cond}
  ) AS l"""


def _category_parts(categories: Sequence[str], other: bool) -> tuple[list[str], str, list[str]]:
    """Pivot aggregates over ``cat_spend``, the category-numbering join, select items.

    Each listed category gets a number through a small VALUES table, so the pivot
    compares integers rather than strings (31 string comparisons per row cost more
    than the aggregation itself).
    """
    slugs = category_slugs(categories)
    sums = [
        f"    SUM(CASE WHEN k.idx = {i} THEN s.spend END) AS cat_{i}"
        for i in range(len(categories))
    ]
    join = ""
    if categories:
        values = ", ".join(f"({_literal(c)}, {i})" for i, c in enumerate(categories))
        join = f"\n  LEFT JOIN (VALUES {values}) AS k(category, idx) ON k.category = s.category"
    keys = [f"cat_{i}" for i in range(len(categories))]
    names = list(slugs)
    if other:
        rest = " AND k.idx IS NULL" if categories else ""
        other_sum = f"SUM(CASE WHEN s.by_category = 1{rest} THEN s.spend END)"
        sums.append(f"    {_money(other_sum)} AS cat_other")
        keys.append("cat_other")
        names.append(OTHER)
    spend = [f"  COALESCE(cs.{k}, 0.0) AS spend__{n}" for k, n in zip(keys, names, strict=True)]
    share = [
        f"  CASE WHEN cu.sale_spend > 0 THEN COALESCE(cs.{k}, 0.0) / cu.sale_spend END"
        f" AS share__{n}"
        for k, n in zip(keys, names, strict=True)
    ]
    return sums, join, spend + share


def feature_sql(
    as_of_table: str = "cutoffs", categories: Sequence[str] = (), *, other: bool | None = None
) -> str:
    """Return the feature query over ``orders`` and a table of cutoffs ``(as_of DATE)``.

    ``categories`` are the category values that get their own ``spend__``/``share__``
    columns; every other category, and NULL, goes to ``spend__other``/``share__other``,
    which are present when ``other`` is true (default: when ``categories`` is not
    empty). With neither, the query has no category columns. The text is plain SQL in
    DuckDB's dialect that ``sqlglot.transpile(sql, read="duckdb", write="spark")`` turns
    into Spark SQL. Rows come out in no particular order.

    Plan: three scans of ``orders`` (customer totals; sale lines by order; sale lines
    by category and by store, as grouping sets); the order rows are windowed once for
    purchase days and the gaps between them. No correlated subqueries; the joins are on
    (as_of, customer_id), plus one with the small VALUES table of category numbers.
    """
    if not _IDENTIFIER.fullmatch(as_of_table):
        raise ConfigError(
            f"as_of_table={as_of_table!r} is not a plain table name",
            hint="use letters, digits, underscores and at most one dot (schema.table)",
        )
    if other is None:
        other = bool(categories)
    cat_sums, cat_join, cat_select = _category_parts(categories, other)
    cat_aggs = "".join(",\n" + x for x in cat_sums)
    cat_cols = "".join(",\n" + x for x in cat_select)
    orders_cols = ",\n".join(
        f"  CAST(COALESCE(os.orders_{n}d, 0) AS BIGINT) AS orders_{n}d" for n in WINDOWS
    )
    spend_cols = ",\n".join(f"  cu.spend_{n}d" for n in WINDOWS)
    sale_lines = _lines(as_of_table, "o.kind = 'sale'")
    return f"""\
WITH cust AS (
  SELECT
    as_of,
    customer_id,
    MIN(CASE WHEN kind = 'sale' THEN age END) AS sale_recency,
    MAX(CASE WHEN kind = 'sale' THEN age END) AS sale_tenure,
    MIN(age) AS any_recency,
    MAX(age) AS any_tenure,
    {_money("SUM(net_amount)")} AS monetary,
    {_money("SUM(CASE WHEN kind = 'sale' THEN net_amount ELSE 0 END)")} AS sale_spend,
{_window_sums("spend", "age", "net_amount", money=True)},
    {_money("SUM(CASE WHEN age > 90 AND age <= 180 THEN net_amount ELSE 0 END)")}
      AS spend_prev_90d,
    COUNT(DISTINCT CASE WHEN kind = 'sale' THEN product_id END) AS distinct_products,
    SUM(CASE WHEN kind IN ('return', 'refunded') THEN 1 ELSE 0 END) AS refund_count,
    {_money("SUM(CASE WHEN kind IN ('return', 'refunded') THEN ABS(amount) ELSE 0 END)")}
      AS refund_amount,
    SUM(CASE WHEN kind = 'cancelled' THEN 1 ELSE 0 END) AS cancelled_count
  FROM {_lines(as_of_table)}
  GROUP BY as_of, customer_id
),
sale_orders AS (
  -- one row per order of sale lines; rows without order_id form one order per day.
  -- An order's date is the date of its first line.
  SELECT
    as_of,
    customer_id,
    {_money("SUM(net_amount)")} AS order_total,
    COUNT(*) AS n_lines,
    MAX(age) AS order_age
  FROM {sale_lines}
  GROUP BY as_of, customer_id, order_id, CASE WHEN order_id IS NULL THEN age END
),
order_gaps AS (
  -- gap = days since the customer's previous order: 0 for a second order on the same
  -- day, so the positive gaps are exactly the gaps between distinct purchase days
  SELECT
    as_of,
    customer_id,
    order_total,
    n_lines,
    order_age,
    -- 0 = Monday ... 6 = Sunday of the order's date (1900-01-01 was a Monday)
    (((date_diff('day', DATE '1900-01-01', as_of) - order_age) % 7) + 7) % 7 AS weekday,
    LAG(order_age) OVER (PARTITION BY as_of, customer_id ORDER BY order_age DESC)
      - order_age AS gap,
    MAX(order_age) OVER (PARTITION BY as_of, customer_id) AS first_age
  FROM sale_orders
),
order_stats AS (
  SELECT
    as_of,
    customer_id,
    COUNT(*) AS frequency,
    MAX(order_total) AS order_value_max,
    STDDEV_POP(order_total) AS order_value_std,
    SUM(n_lines) AS sale_lines,
    {_money("SUM(CASE WHEN order_age = first_age THEN order_total ELSE 0 END)")}
      AS first_day_sales,
{_window_sums("orders", "order_age", "1")},
    SUM(CASE WHEN gap IS NULL OR gap > 0 THEN 1 ELSE 0 END) AS purchase_days,
    SUM(CASE WHEN (gap IS NULL OR gap > 0) AND weekday >= 5 THEN 1 ELSE 0 END)
      AS weekend_days,
    AVG(CASE WHEN gap > 0 THEN gap END) AS ipi_mean_days,
    STDDEV_POP(CASE WHEN gap > 0 THEN gap END) AS ipi_std_days
  FROM order_gaps
  GROUP BY as_of, customer_id
),
cat_spend AS (
  -- sale spend per category and, separately, per store: few rows per customer, so
  -- the counts and the category pivot below run on far fewer rows than the lines.
  -- by_category = 1 marks the per-category rows (store_id is not grouped there).
  SELECT
    as_of,
    customer_id,
    category,
    store_id,
    GROUPING(store_id) AS by_category,
    {_money("SUM(net_amount)")} AS spend
  FROM {sale_lines}
  GROUP BY GROUPING SETS ((as_of, customer_id, category), (as_of, customer_id, store_id))
),
cat_stats AS (
  SELECT
    s.as_of,
    s.customer_id,
    SUM(CASE WHEN s.by_category = 1 AND s.category IS NOT NULL THEN 1 ELSE 0 END)
      AS distinct_categories,
    SUM(CASE WHEN s.by_category = 0 AND s.store_id IS NOT NULL THEN 1 ELSE 0 END)
      AS distinct_stores{cat_aggs}
  FROM cat_spend AS s{cat_join}
  GROUP BY s.as_of, s.customer_id
)
SELECT
  cu.customer_id,
  cu.as_of,
  CAST(COALESCE(cu.sale_recency, cu.any_recency) AS BIGINT) AS recency_days,
  CAST(COALESCE(os.frequency, 0) AS BIGINT) AS frequency,
  cu.monetary,
  CAST(COALESCE(cu.sale_tenure, cu.any_tenure) AS BIGINT) AS tenure_days,
  CAST(COALESCE(os.purchase_days, 0) AS BIGINT) AS purchase_days,
  {_money("cu.monetary - COALESCE(os.first_day_sales, 0.0)")} AS repeat_spend,
  cu.monetary / os.frequency AS monetary_mean,
  os.order_value_max,
  os.order_value_std,
  CAST(os.ipi_mean_days AS DOUBLE) AS ipi_mean_days,
  CAST(os.ipi_std_days AS DOUBLE) AS ipi_std_days,
  CAST(cu.sale_recency AS DOUBLE) / os.ipi_mean_days AS recency_vs_usual,
{orders_cols},
{spend_cols},
  CASE WHEN ABS(cu.spend_90d) + ABS(cu.spend_prev_90d) = 0 THEN 0.0
    ELSE (cu.spend_90d - cu.spend_prev_90d) / (ABS(cu.spend_90d) + ABS(cu.spend_prev_90d))
  END AS trend_90d,
  CAST(cu.distinct_products AS BIGINT) AS distinct_products,
  CAST(COALESCE(cs.distinct_categories, 0) AS BIGINT) AS distinct_categories,
  CAST(COALESCE(cs.distinct_stores, 0) AS BIGINT) AS distinct_stores,
  CAST(os.weekend_days AS DOUBLE) / os.purchase_days AS weekend_share,
  CAST(cu.refund_count AS BIGINT) AS refund_count,
  cu.refund_amount,
  CAST(cu.cancelled_count AS BIGINT) AS cancelled_count,
  CAST(os.sale_lines AS DOUBLE) / os.frequency AS avg_basket_lines{cat_cols}
FROM cust AS cu
LEFT JOIN order_stats AS os ON os.as_of = cu.as_of AND os.customer_id = cu.customer_id
LEFT JOIN cat_stats AS cs ON cs.as_of = cu.as_of AND cs.customer_id = cu.customer_id
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
    try:
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
    except duckdb.CatalogException as exc:
        raise StoreError(
            "the store has no 'orders' table", where="orders", hint="ingest orders first"
        ) from exc
    return [r[0] for r in rows]


def top_categories(
    con: duckdb.DuckDBPyConnection, before: date, max_categories: int = MAX_CATEGORIES
) -> list[str]:
    """The ``max_categories`` categories with the most sale spend before ``before``.

    Ties are broken by name. A model trained on features should keep this list (it is
    what names the ``spend__``/``share__`` columns) and pass it back as
    ``customer_features(..., categories=...)`` when scoring, so that the columns match.
    """
    if max_categories < 0:
        raise ConfigError(f"max_categories={max_categories} should be >= 0")
    return _categories_by_spend(con, before)[:max_categories]


def customer_features(
    con: duckdb.DuckDBPyConnection,
    as_of: date | Sequence[date],
    *,
    max_categories: int = MAX_CATEGORIES,
    categories: Sequence[str] | None = None,
) -> pa.Table:
    """Compute customer features at one or many cutoffs in a single query.

    Returns one row per (as_of, customer) for every customer with at least one order
    row (of any kind) strictly before ``as_of``; columns are :data:`FEATURE_COLUMNS`
    then, when the store has categories, ``spend__<slug>`` for the top
    ``max_categories`` categories by sale spend before the latest cutoff and
    ``spend__other``, then the matching ``share__<slug>`` columns. Days are whole
    calendar days, money is in the store's currency units. Rows are sorted by
    (as_of, customer_id).

    ``categories`` fixes the category columns instead (in that order, plus ``other``),
    e.g. to score with the columns a model was trained on; ``max_categories`` is then
    ignored. With several cutoffs the columns are chosen at the latest one: each row's
    values still use only rows before its own as_of (a category first sold later is 0).
    """
    dates = _as_dates(as_of)
    if categories is None:
        if max_categories < 0:
            raise ConfigError(f"max_categories={max_categories} should be >= 0")
        ranked = _categories_by_spend(con, dates[-1])
        chosen, other = ranked[:max_categories], bool(ranked)
    else:
        chosen, other = list(dict.fromkeys(categories)), True

    table = f"cutoffs_{uuid.uuid4().hex}"
    values = ", ".join(f"(DATE '{d.isoformat()}')" for d in dates)
    con.sql(f"CREATE TEMP TABLE {table} (as_of DATE)")
    try:
        con.sql(f"INSERT INTO {table} VALUES {values}")
        result = con.sql(feature_sql(table, chosen, other=other)).to_arrow_table()
    finally:
        con.sql(f"DROP TABLE IF EXISTS {table}")
    # Sorted here rather than in SQL, so that the query itself stays order-free (an
    # ORDER BY would cost Spark a global sort for nothing).
    return result.sort_by([("as_of", "ascending"), ("customer_id", "ascending")])
