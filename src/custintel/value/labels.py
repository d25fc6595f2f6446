"""What happened after each cutoff: the labels the value models learn and are scored on.

For a customer known at ``as_of`` (one row in the point-in-time features) and a
horizon of N days, the label window is ``[as_of, as_of + N days)``: spend (net of
returns, the data model's refund rule), orders (distinct orders among sale rows, as in
the features), spend per category, whether the customer ordered at all (churn = no
order), and the days until the next order (NULL when none came in the window). Labels
read only rows inside their window; features read only rows before ``as_of``: a test
moves rows across the boundary and checks that neither side sees the other's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from custintel.errors import ConfigError, NotEnoughData
from custintel.features.customer import category_slugs

__all__ = ["LABEL_COLUMNS", "REQUIRED_HISTORY_DAYS", "ValuePlan", "labels", "plan_cutoffs"]

LABEL_COLUMNS = ("spend", "orders", "churned", "days_to_next_order")
# Customers need some history before their features mean anything.
MIN_HISTORY_DAYS = 60
MIN_WINDOW_DAYS = 14
# History needed to train, calibrate and check on windows of at least MIN_WINDOW_DAYS.
REQUIRED_HISTORY_DAYS = MIN_HISTORY_DAYS + 3 * MIN_WINDOW_DAYS


def labels(
    con: duckdb.DuckDBPyConnection,
    as_of: Sequence[date],
    horizon_days: int,
    *,
    categories: Sequence[str] = (),
) -> pd.DataFrame:
    """Labels per (as_of, customer) for every customer with an order row before as_of.

    Columns: as_of, customer_id, spend, orders, churned (no order in the window),
    days_to_next_order (days from as_of to the first order in the window; NULL if
    none), and ``next_spend__<slug>`` per category of ``categories``.
    """
    if horizon_days < 1:
        raise ConfigError(f"horizon_days={horizon_days} should be at least 1")
    table = f"label_cutoffs_{uuid.uuid4().hex}"
    values = ", ".join(f"(DATE '{d.isoformat()}')" for d in sorted(set(as_of)))
    slugs = category_slugs(categories)
    category_columns = "".join(
        f', COALESCE(s."next_spend__{x}", 0) AS "next_spend__{x}"' for x in slugs
    )
    category_sums = "".join(
        f',\n  SUM(CASE WHEN o.category = ? THEN o.net_amount ELSE 0 END) AS "next_spend__{x}"'
        for x in slugs
    )
    con.sql(f"CREATE TEMP TABLE {table} (as_of DATE)")
    try:
        con.sql(f"INSERT INTO {table} VALUES {values}")
        frame = con.execute(
            f"""
            WITH known AS (
              SELECT DISTINCT c.as_of, o.customer_id
              FROM orders AS o JOIN {table} AS c ON o.ordered_at < CAST(c.as_of AS TIMESTAMP)
            ),
            after AS (
              SELECT c.as_of, o.*
              FROM orders AS o JOIN {table} AS c
                ON o.ordered_at >= CAST(c.as_of AS TIMESTAMP)
               AND o.ordered_at < CAST(c.as_of AS TIMESTAMP) + to_days(CAST(? AS INTEGER))
            ),
            sums AS (
              SELECT o.as_of, o.customer_id, SUM(o.net_amount) AS spend{category_sums}
              FROM after AS o GROUP BY o.as_of, o.customer_id
            ),
            order_keys AS (
              SELECT as_of, customer_id, MIN(CAST(ordered_at AS DATE)) AS day
              FROM after WHERE kind = 'sale'
              GROUP BY as_of, customer_id, order_id,
                CASE WHEN order_id IS NULL THEN CAST(ordered_at AS DATE) END
            ),
            counts AS (
              SELECT as_of, customer_id, COUNT(*) AS orders,
                     date_diff('day', as_of, MIN(day)) AS days_to_next_order
              FROM order_keys GROUP BY as_of, customer_id
            )
            SELECT k.as_of, k.customer_id,
                   COALESCE(s.spend, 0) AS spend,
                   COALESCE(n.orders, 0) AS orders,
                   COALESCE(n.orders, 0) = 0 AS churned,
                   n.days_to_next_order
                   {category_columns}
            FROM known AS k
            LEFT JOIN sums AS s USING (as_of, customer_id)
            LEFT JOIN counts AS n USING (as_of, customer_id)
            ORDER BY k.as_of, k.customer_id
            """,
            [horizon_days, *categories],
        ).df()
    finally:
        con.sql(f"DROP TABLE IF EXISTS {table}")
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame


@dataclass(frozen=True)
class ValuePlan:
    """The cutoffs of a time split ending at ``as_of``, each with its label window.

    ``train`` cutoffs fit the candidates, ``calibration`` (later) calibrates churn
    probabilities, ``validation`` (latest; its window ends at as_of) chooses between
    them. The final churn learners refit on ``train + calibration`` and calibrate on
    ``validation``; the final regressors learn from all three.
    """

    train: list[tuple[date, int]]
    calibration: tuple[date, int]
    validation: tuple[date, int]
    window_days: int
    note: str | None = None


def plan_cutoffs(first_order: date, as_of: date, horizon_days: int, *, count: int = 4) -> ValuePlan:
    """Windows of the full horizon where the history allows three of them after a
    first ``MIN_HISTORY_DAYS`` of history; shorter windows (down to ``MIN_WINDOW_DAYS``,
    or the horizon when that is shorter, with a note) where it does not. Training
    cutoffs are spaced half a window apart, at most ``count`` of them, each window
    ending before the calibration cutoff."""
    usable = (as_of - first_order).days - MIN_HISTORY_DAYS
    window = min(horizon_days, usable // 3)
    # A horizon shorter than MIN_WINDOW_DAYS is checked on windows of its own length.
    if window < min(MIN_WINDOW_DAYS, horizon_days):
        raise NotEnoughData(
            f"the history from {first_order} to {as_of} is too short to train and check "
            f"value models: it needs {REQUIRED_HISTORY_DAYS} days, "
            f"has {(as_of - first_order).days}",
            hint="score later, when more orders have come in",
        )
    validation = as_of - timedelta(days=window)
    calibration = validation - timedelta(days=window)
    earliest = first_order + timedelta(days=MIN_HISTORY_DAYS)
    step = max(7, window // 2)
    train = []
    for k in range(count):
        cutoff = calibration - timedelta(days=window + k * step)
        if cutoff < earliest:
            break
        train.append((cutoff, window))
    if not train:
        train = [(earliest, (calibration - earliest).days)]
    note = None
    if window < horizon_days:
        note = (
            f"the history allows {window}-day label windows, not {horizon_days}: models "
            f"learn per-day rates over {window} days and BTYD's view of the longer "
            "horizon scales them"
        )
    return ValuePlan(sorted(train), (calibration, window), (validation, window), window, note)
