"""The shop's year: how much its returning customers buy in each month against the rest.

The value models learn per-day rates on label windows before the horizon they predict
(examples.py); a window of spring teaches spring's rates. In a shop whose returning
customers buy more in the fourth quarter, every candidate then predicts a December from
what March was like: on the fictional Superstore export, whose fourth quarter sells about
twice its first, every spend candidate came out 47 to 59 % below what the customers spent
in the last quarter; on the demo shop 14 to 16 % below at 90 days (docs/accuracy.md).

So the rates are put on one footing: each label window's rates are divided by the
window's seasonal factor before the trees learn them, and every candidate's prediction
(BTYD's stationary rates and the baselines' too) is multiplied by the factor of the window
it predicts. The factor of a window is the mean, over its days, of a monthly index
fitted on the shop's monthly repeat spend (or repeat orders): the sale and return rows
of customers after their first order day, so that the season of new customers' first
orders, which the value models do not predict, stays out.

The index is a classical multiplicative decomposition: statsmodels' ``seasonal_decompose``
gives the trend (a centred 2 x 12 moving average, so the first and last six months have
none), and each calendar month's effect is the mean log ratio of its months to the trend.
statsmodels would average those ratios as they are; a shop without a season would then
get a few percent of year-to-year noise as its season, and one with a strong season the
same noise on top. So the effects are shrunk toward no season by the share of their
spread that the year-to-year scatter within each calendar month does not explain (the
random-effects estimate of one-way analysis of variance), and a spread that the same
analysis cannot tell from noise (F test, p >= 0.05) is no season at all. On the demo
shop 84 % of the spend season is kept, on Superstore 88 %; simulated shops without a
season get none (or, one time in twenty, a faint one), and a known season is recovered
(tests/value/test_seasons.py).

It needs ``MIN_MONTHS`` complete months of repeat orders (three years: two ratios to the
trend for every calendar month); with fewer, or a month with none, every factor is 1 and
the note says why. The index is fitted on the orders before the validation cutoff, so the
window the models are chosen on is predicted with a season that did not see it; the final
models use the same index. Churn probabilities are not adjusted: on the demo shop, whose
churn learners are calibrated on the third quarter and checked on the fourth, predicted
and observed churn agree bin by bin within 7 points (most bins within 4) without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import f as f_distribution
from statsmodels.tsa.seasonal import seasonal_decompose

__all__ = ["MIN_MONTHS", "Seasons", "fit_seasons"]

MIN_MONTHS = 36
TARGETS = ("spend", "orders")
FLAT = (1.0,) * 12
# A season whose spread could be noise at this p-value or above is none (_shrunk_index).
SEASON_P = 0.05
# A window's key: its first day (days since 1970) times this, plus its length in days.
WINDOW_KEY = 100_000


@dataclass(frozen=True)
class Seasons:
    """A monthly index per target (12 values, January first, mean 1), and what it
    rests on (or why it is flat)."""

    spend: tuple[float, ...] = FLAT
    orders: tuple[float, ...] = FLAT
    note: str | None = None

    @property
    def flat(self) -> bool:
        """Whether every factor is 1 (no seasonal adjustment)."""
        return self.spend == FLAT and self.orders == FLAT

    def factors(
        self, target: str, starts: Sequence[date] | pd.Series, days: int | Sequence[int] | pd.Series
    ) -> np.ndarray:
        """The seasonal factor of each window ``[start, start + days)``: the mean of
        ``target``'s monthly index over its days. Computed once per distinct window (a
        scoring run has one, a training set a few)."""
        if self.flat or not len(starts):
            return np.ones(len(starts))
        first = pd.to_datetime(pd.Series(starts)).to_numpy().astype("datetime64[D]")
        lengths = np.broadcast_to(np.asarray(days, dtype=np.int64), first.shape)
        index = np.asarray(self.spend if target == "spend" else self.orders, float)
        key = first.astype(np.int64) * WINDOW_KEY + lengths
        windows, which = np.unique(key, return_inverse=True)
        by_window = np.array(
            [
                index[
                    pd.date_range(
                        np.datetime64(int(k // WINDOW_KEY), "D"), periods=int(k % WINDOW_KEY)
                    ).month.to_numpy()
                    - 1
                ].mean()
                for k in windows
            ]
        )
        return by_window[which.ravel()]

    def to_dict(self) -> dict[str, Any]:
        """The indices and the note, as JSON-able data."""
        return {"spend": list(self.spend), "orders": list(self.orders), "note": self.note}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Seasons:
        """The seasons :meth:`to_dict` stored; flat for a version stored before seasons
        were kept (its rates were served unadjusted, as they still are)."""
        if not data:
            return cls()
        return cls(
            tuple(float(v) for v in data["spend"]),
            tuple(float(v) for v in data["orders"]),
            data.get("note"),
        )


def _monthly_repeat(con: duckdb.DuckDBPyConnection, before: date) -> pd.DataFrame:
    """Repeat spend and repeat orders per calendar month, for the complete months after
    the first order's month and before ``before`` (months without any are zeros)."""
    frame = con.execute(
        """
        WITH past AS (SELECT * FROM orders WHERE ordered_at < CAST(? AS TIMESTAMP)),
        firsts AS (
          SELECT customer_id, MIN(CAST(ordered_at AS DATE)) AS first_day
          FROM past GROUP BY customer_id
        ),
        repeat AS (
          SELECT p.*, CAST(p.ordered_at AS DATE) AS day
          FROM past AS p JOIN firsts AS f USING (customer_id)
          WHERE CAST(p.ordered_at AS DATE) > f.first_day
        ),
        spend AS (
          SELECT date_trunc('month', day) AS month, SUM(net_amount) AS spend
          FROM repeat GROUP BY 1
        ),
        -- an order is its order_id, or a customer's day when the id is missing, as in
        -- the features and the labels
        order_keys AS (
          SELECT MIN(day) AS day FROM repeat WHERE kind = 'sale'
          GROUP BY customer_id, order_id, CASE WHEN order_id IS NULL THEN day END
        ),
        counts AS (
          SELECT date_trunc('month', day) AS month, COUNT(*) AS orders
          FROM order_keys GROUP BY 1
        )
        SELECT CAST(s.month AS DATE) AS month, s.spend, COALESCE(c.orders, 0) AS orders
        FROM spend AS s LEFT JOIN counts AS c USING (month) ORDER BY 1
        """,
        [before],
    ).df()
    first = con.execute(
        "SELECT CAST(date_trunc('month', MIN(ordered_at)) AS DATE) FROM orders "
        "WHERE ordered_at < CAST(? AS TIMESTAMP)",
        [before],
    ).fetchone()
    if not first or first[0] is None:
        return pd.DataFrame(columns=["spend", "orders"], dtype=float)
    # Complete months only: from the month after the first order's to the month before
    # the one ``before`` falls in.
    months = pd.period_range(
        pd.Period(first[0], freq="M") + 1, pd.Period(before, freq="M") - 1, freq="M"
    )
    frame["month"] = pd.PeriodIndex(pd.to_datetime(frame["month"]), freq="M")
    return frame.set_index("month")[["spend", "orders"]].reindex(months, fill_value=0.0)


def fit_seasons(con: duckdb.DuckDBPyConnection, before: date) -> Seasons:
    """The monthly seasonal index of repeat spend and repeat orders on the orders before
    ``before`` (module docstring); flat, with a note, where the history cannot carry
    one."""
    monthly = _monthly_repeat(con, before)
    if len(monthly) < MIN_MONTHS:
        return Seasons(
            note=f"no seasonal adjustment: {len(monthly)} complete months of repeat orders "
            f"before {before}, and a yearly season needs {MIN_MONTHS}"
        )
    short = (monthly.to_numpy(float) <= 0).any(axis=1)
    if short.any():
        empty = monthly.index[int(np.argmax(short))]
        return Seasons(
            note=f"no seasonal adjustment: no repeat orders (or no net spend) in {empty}, "
            "and a multiplicative season needs every month"
        )
    calendar_month = np.array([period.month for period in monthly.index])
    indices, kept = {}, {}
    for target in TARGETS:
        values = monthly[target].to_numpy(float)
        trend = seasonal_decompose(values, model="multiplicative", period=12).trend
        centred = ~np.isnan(trend)
        ratio = np.log(values[centred] / trend[centred])
        indices[target], kept[target] = _shrunk_index(ratio, calendar_month[centred])
    spend = indices["spend"]
    if not any(kept.values()):
        return Seasons(
            note=f"no seasonal adjustment: the month-to-month spread of {len(monthly)} months "
            f"of repeat orders before {before} is within their year-to-year noise"
        )
    return Seasons(
        indices["spend"],
        indices["orders"],
        f"monthly season of {len(monthly)} months of repeat orders before {before}: repeat "
        f"spend from {min(spend):.2f} to {max(spend):.2f} times an average month "
        f"(kept {kept['spend']:.0%} of its month-to-month spread, {kept['orders']:.0%} of "
        "the orders'; the rest is year-to-year noise)",
    )


def _shrunk_index(ratio: np.ndarray, month: np.ndarray) -> tuple[tuple[float, ...], float]:
    """The 12 monthly factors (mean 1) from log ratios to the trend, each month's mean
    effect shrunk toward none by the share of the effects' spread that their sampling
    noise does not explain; and that share. A spread that one-way analysis of variance
    cannot tell from the noise (F test, p from ``SEASON_P`` up) is no season at all: the
    shrinkage alone, estimated from two or three years, still lets a small shop's noise
    through as a season of 20 or 30 %."""
    groups = [ratio[month == m] for m in range(1, 13)]
    sizes = np.array([len(g) for g in groups], float)
    effect = np.array([g.mean() for g in groups])
    effect -= effect.mean()
    residual_df = len(ratio) - 12
    within = sum(float(((g - g.mean()) ** 2).sum()) for g in groups) / residual_df
    noise = float(np.mean(within / sizes))
    spread = float(effect.var(ddof=1))
    if spread <= 0 or noise <= 0:
        return FLAT, 0.0
    if f_distribution.sf(spread / noise, 11, residual_df) >= SEASON_P:
        return FLAT, 0.0
    weight = max(0.0, 1 - noise / spread)
    index = np.exp(weight * effect)
    return tuple(float(v) for v in index / index.mean()), weight
