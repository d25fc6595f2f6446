"""Buy-till-you-die customer value: BG/NBD for orders, Gamma-Gamma for order value.

The models and their fit come from PyMC-Marketing (``clv.BetaGeoModel``,
``clv.GammaGammaModel``, maximum a posteriori with flat priors, which is the maximum
likelihood estimate of Fader, Hardie & Lee). A fitted model is kept as its seven
parameters in :class:`BTYDModel`, whose predictions are the closed forms PyMC-Marketing
uses, computed here with scipy so that a model loaded from JSON predicts without PyMC;
the tests prove the two agree to 1e-6 on CDNOW. Expected orders use an equivalent form
of the same expression (Euler's transformation of its hypergeometric function), and a
quadrature where scipy's hyp2f1 fails, so frequent buyers over long horizons get
numbers where the textbook form overflows.

Units and conventions (those of the published CDNOW analyses, whose parameters the
tests reproduce):

- Time is in **weeks**, measured between calendar days: a purchase is dated to its day
  and the observation period ends with the last day before ``as_of``. So recency is
  ``(last purchase day - first purchase day) / 7`` and T is
  ``(as_of - 1 day - first purchase day) / 7``; a customer who first bought on
  1997-01-01 has T = 38.86 weeks at ``as_of`` 1997-10-01, as in Fader, Hardie & Lee's
  CDNOW data, and one who first bought the day before ``as_of`` has T = 0.
- An "order" is a purchase day: frequency counts the distinct days with a sale after
  the first one (several orders on one day are one purchase), and every prediction of
  orders counts purchase days.
- Money is in the store's currency, net of returns by the data model's rule
  (``net_amount``; see :class:`custintel.data.model.OrderKind`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
from scipy.linalg import eigh_tridiagonal
from scipy.special import expit, hyp2f1

from custintel.errors import ConfigError, InputError, MissingColumns, NotEnoughData, StoreError

if TYPE_CHECKING:
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MIN_REPEAT_CUSTOMERS",
    "SUMMARY_COLUMNS",
    "BTYDModel",
    "btyd_summary",
    "fit_bgnbd",
    "fit_btyd",
    "fit_gamma_gamma",
]

FORMAT = "custintel.value.BTYDModel"
FORMAT_VERSION = 1
SUMMARY_COLUMNS: tuple[str, ...] = ("customer_id", "frequency", "recency", "T", "monetary_value")
# Gamma-Gamma is fitted on fewer customers than this only by mistake: three parameters
# from a handful of means are noise, and the mean order value serves better.
MIN_REPEAT_CUSTOMERS = 10
DAYS_PER_WEEK = 7.0
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
# A horizon that the fitted model must predict finitely for every fitted customer.
_CHECK_HORIZON_DAYS = 365
_BGNBD = ("r", "alpha", "a", "b")
_GAMMA_GAMMA = ("p", "q", "v")


# --------------------------------------------------------------------------- summary


def _check_date(name: str, value: date) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise ConfigError(
                f"{name}={value.isoformat()} has a time of day; cutoffs are whole dates",
                hint="pass a date (rows strictly before that day are used)",
            )
        return value.date()
    if not isinstance(value, date):
        raise ConfigError(f"{name}={value!r} is not a date", hint="pass a datetime.date")
    return value


def summary_sql(*, with_start: bool) -> str:
    """The summary query over ``orders``; parameters: as_of, as_of[, start].

    Plain SQL that sqlglot transpiles to Spark (window MIN, CASE inside aggregates,
    ``date_diff('day', ...)``), one scan of ``orders``.
    """
    start = " AND ordered_at >= CAST(? AS TIMESTAMP)" if with_start else ""
    return f"""
WITH days AS (
  -- one row per customer and calendar day with any order row; is_purchase marks the
  -- days with a sale
  SELECT
    customer_id,
    CAST(ordered_at AS DATE) AS order_date,
    MAX(CASE WHEN kind = 'sale' THEN 1 ELSE 0 END) AS is_purchase,
    SUM(net_amount) AS net_spend
  FROM orders
  WHERE ordered_at < CAST(? AS TIMESTAMP){start}
  GROUP BY customer_id, CAST(ordered_at AS DATE)
),
marked AS (
  SELECT
    customer_id,
    order_date,
    is_purchase,
    net_spend,
    MIN(CASE WHEN is_purchase = 1 THEN order_date END)
      OVER (PARTITION BY customer_id) AS first_date
  FROM days
),
customers AS (
  SELECT
    customer_id,
    SUM(is_purchase) - 1 AS frequency,
    date_diff('day', MIN(first_date), MAX(CASE WHEN is_purchase = 1 THEN order_date END))
      AS recency_days,
    date_diff('day', MIN(first_date), CAST(? AS DATE)) - 1 AS t_days,
    -- every row after the first purchase day, sales and returns alike
    SUM(CASE WHEN order_date > first_date THEN net_spend ELSE 0 END) AS repeat_spend,
    SUM(net_spend) AS net_spend
  FROM marked
  WHERE first_date IS NOT NULL
  GROUP BY customer_id
)
SELECT
  customer_id,
  CAST(frequency AS BIGINT) AS frequency,
  CAST(recency_days AS DOUBLE) / {DAYS_PER_WEEK} AS recency,
  CAST(t_days AS DOUBLE) / {DAYS_PER_WEEK} AS "T",
  CASE WHEN frequency > 0 AND repeat_spend > 0 AND net_spend > 0
    THEN CAST(repeat_spend AS DOUBLE) / frequency ELSE 0.0 END AS monetary_value
FROM customers
"""


def btyd_summary(
    con: duckdb.DuckDBPyConnection, as_of: date, *, start: date | None = None
) -> pd.DataFrame:
    """One row per customer with a sale before ``as_of``: the BTYD sufficient statistics.

    Columns (:data:`SUMMARY_COLUMNS`), sorted by customer_id:

    - ``frequency``: repeat purchase days (distinct days with a sale, minus 1);
    - ``recency``: weeks from the first to the last purchase day (0 without repeats);
    - ``T``: weeks from the first purchase day to the last day before ``as_of``;
    - ``monetary_value``: net spend per repeat purchase day, in currency units: the
      ``net_amount`` of every row dated after the first purchase day (sales, and returns
      whichever purchase they undo) divided by ``frequency``; 0 without repeats, and 0
      when that repeat spend or the customer's total net spend is not positive.

    Only rows strictly before ``as_of`` are read, and with ``start`` only rows on or
    after it (a customer's first purchase is then their first since ``start``: use it
    to fit on a recent stretch of a long history). One query; no rows, no error: an
    empty frame says that no customer bought in the period.
    """
    as_of = _check_date("as_of", as_of)
    params: list[object] = [as_of]
    if start is not None:
        start = _check_date("start", start)
        if start >= as_of:
            raise ConfigError(
                f"start={start.isoformat()} should be before as_of={as_of.isoformat()}"
            )
        params.append(start)
    params.append(as_of)
    try:
        frame = con.execute(summary_sql(with_start=start is not None), params).df()
    except duckdb.CatalogException as exc:
        raise StoreError(
            "the store has no 'orders' table", where="orders", hint="ingest orders first"
        ) from exc
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    return frame.astype({"frequency": "int64", "recency": "float64", "T": "float64"})


# --------------------------------------------------------------------------- fitting


@contextmanager
def _library_warnings() -> Iterator[None]:
    """Silence the notices PyMC's stack prints that say nothing about our data."""
    with warnings.catch_warnings():
        # ArviZ announces its refactor once a day on import.
        warnings.filterwarnings(
            "ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning
        )
        # PyTensor warns on its first compile where no BLAS is linked; these models do
        # no matrix products.
        warnings.filterwarnings(
            "ignore",
            message="PyTensor could not link to a BLAS installation",
            category=UserWarning,
        )
        yield


def _require_columns(summary: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise MissingColumns(
            missing,
            [str(c) for c in summary.columns],
            where="BTYD summary",
            hint="build the summary with custintel.value.btyd.btyd_summary()",
        )


def _checked(summary: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The summary's ``columns`` with the BTYD invariants checked (0 <= recency <= T)."""
    _require_columns(summary, columns)
    frame = summary.loc[:, list(columns)]
    numeric = [c for c in columns if c != "customer_id"]
    values = frame[numeric].to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1)
    if "recency" in columns and "T" in columns:
        bad |= frame["recency"].to_numpy(float) > frame["T"].to_numpy(float)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise InputError(
            f"{int(bad.sum())} summary row(s) have missing or negative values, or "
            f"recency > T (first at positions {rows})",
            where="BTYD summary",
            hint="build the summary with custintel.value.btyd.btyd_summary()",
        )
    return frame


def _posterior_value(fitted: Any, name: str) -> float:
    """A parameter's point value: the MAP estimate (or the posterior mean of a sample)."""
    return float(fitted.fit_result[name].mean())


def _check_fitted(model: Any, names: tuple[str, ...], label: str, n: int) -> None:
    values = {name: _posterior_value(model, name) for name in names}
    if not all(np.isfinite(v) and v > 0 for v in values.values()):
        shown = ", ".join(f"{k}={v:.3g}" for k, v in values.items())
        raise NotEnoughData(
            f"the {label} fit on {n} customers did not find positive finite parameters ({shown})",
            where="BTYD summary",
            hint="fit on more customers or a longer history",
        )


def fit_bgnbd(summary: pd.DataFrame) -> BetaGeoModel:
    """Fit PyMC-Marketing's BG/NBD to the summary by MAP with flat priors on r, alpha,
    a and b (which makes MAP the maximum likelihood estimate).

    Raises :class:`NotEnoughData` for an empty summary, or one without any repeat
    purchase (the purchase and dropout processes cannot be told apart then).
    """
    data = _checked(summary, ("customer_id", "frequency", "recency", "T"))
    if data.empty:
        raise NotEnoughData(
            "the BTYD summary has no customers, so there is nothing to fit",
            where="BTYD summary",
            hint="choose an as_of after the first sale, or load orders first",
        )
    repeat = int((data["frequency"] > 0).sum())
    if repeat == 0:
        raise NotEnoughData(
            f"none of the {len(data)} customers has a repeat purchase day; BG/NBD needs "
            "repeat purchases to tell how often customers buy from how soon they leave",
            where="BTYD summary",
            hint="use a later as_of (a longer history)",
        )
    with _library_warnings():
        from pymc_extras.prior import Prior
        from pymc_marketing.clv import BetaGeoModel

        model = BetaGeoModel(model_config={name: Prior("HalfFlat") for name in _BGNBD})
        model.fit(data.reset_index(drop=True), method="map", progressbar=False)
    _check_fitted(model, _BGNBD, "BG/NBD", len(data))
    return model


def fit_gamma_gamma(summary: pd.DataFrame) -> GammaGammaModel:
    """Fit PyMC-Marketing's Gamma-Gamma to the customers with a repeat purchase day and
    a positive ``monetary_value``, by MAP with flat priors on p, q and v.

    Raises :class:`NotEnoughData` with fewer than :data:`MIN_REPEAT_CUSTOMERS` such
    customers, or when the fit has no finite mean order value (q <= 1: a spend
    distribution so heavy-tailed that its mean does not exist).
    """
    data = _checked(summary, ("customer_id", "frequency", "monetary_value"))
    repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    if len(repeat) < MIN_REPEAT_CUSTOMERS:
        raise NotEnoughData(
            f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} customers with a repeat "
            f"purchase day and positive repeat spend; the summary has {len(repeat)} "
            f"(of {len(data)} customers)",
            where="BTYD summary",
            hint="use a later as_of (a longer history); until then the mean order value is used",
        )
    with _library_warnings():
        from pymc_extras.prior import Prior
        from pymc_marketing.clv import GammaGammaModel

        model = GammaGammaModel(model_config={name: Prior("HalfFlat") for name in _GAMMA_GAMMA})
        model.fit(repeat.reset_index(drop=True), method="map", progressbar=False)
    _check_fitted(model, _GAMMA_GAMMA, "Gamma-Gamma", len(repeat))
    q = _posterior_value(model, "q")
    if not q > 1:
        raise NotEnoughData(
            f"the Gamma-Gamma fit has q={q:.3g} <= 1, so its mean order value does not "
            f"exist ({len(repeat)} repeat customers)",
            where="BTYD summary",
            hint="check the order amounts for outliers; until then the mean order value is used",
        )
    return model


def _mean_order_value(summary: pd.DataFrame) -> float:
    """Net spend per repeat purchase day over all customers with repeats (>= 0)."""
    frequency = summary["frequency"].to_numpy(float)
    total = float(frequency.sum())
    if total <= 0:
        return 0.0
    return max(0.0, float((frequency * summary["monetary_value"].to_numpy(float)).sum()) / total)


def fit_btyd(summary: pd.DataFrame) -> BTYDModel:
    """Fit BG/NBD and, when the data allow, Gamma-Gamma on a :func:`btyd_summary`.

    With fewer than :data:`MIN_REPEAT_CUSTOMERS` repeat customers with positive spend
    (or a Gamma-Gamma fit without a finite mean), BG/NBD is still fitted and the
    model's order value is the mean net spend per repeat purchase day of all customers
    (``spend_model == "mean_order_value"``, with the reason in ``spend_note``).

    Raises :class:`NotEnoughData` when BG/NBD cannot be fitted: an empty summary, no
    repeat purchases, or a fit whose predictions are not finite (too few customers to
    pin the four parameters down).
    """
    bgnbd = fit_bgnbd(summary)
    try:
        gamma_gamma: GammaGammaModel | None = fit_gamma_gamma(summary)
        note = ""
    except NotEnoughData as exc:
        gamma_gamma, note = None, exc.message
    model = BTYDModel.from_fitted(
        bgnbd,
        gamma_gamma,
        mean_order_value=_mean_order_value(summary),
        spend_note=note,
        n_customers=len(summary),
        n_repeat_customers=int((summary["frequency"] > 0).sum()),
    )
    check = np.concatenate(
        [
            np.asarray(model.expected_orders(summary, _CHECK_HORIZON_DAYS)),
            np.asarray(model.p_alive(summary)),
        ]
    )
    if not np.isfinite(check).all():
        raise NotEnoughData(
            f"the BG/NBD fit on {len(summary)} customers ({model.n_repeat_customers} with "
            f"repeats) is degenerate (r={model.r:.3g}, alpha={model.alpha:.3g}, "
            f"a={model.a:.3g}, b={model.b:.3g}) and cannot predict",
            where="BTYD summary",
            hint="fit on more customers or a longer history",
        )
    return model


# --------------------------------------------------------------------------- model


def _library_version() -> str | None:
    try:
        return version("pymc-marketing")
    except PackageNotFoundError:  # pragma: no cover - a declared dependency
        return None


def _index(summary: pd.DataFrame) -> pd.Index:
    if "customer_id" in summary.columns:
        return pd.Index(summary["customer_id"], name="customer_id")
    return summary.index


def _horizon_weeks(horizon_days: float) -> float:
    if not np.isfinite(horizon_days) or horizon_days <= 0:
        raise ConfigError(f"horizon_days={horizon_days} should be a positive number of days")
    return float(horizon_days) / DAYS_PER_WEEK


def _beta_nodes(a: float, b: float, n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Jacobi nodes and weights for the Beta(a, b) distribution on (0, 1).

    Golub-Welsch on the Jacobi recurrence for the weight (1-u)^(b-1) (1+u)^(a-1); the
    weights are the squared first components of the eigenvectors, which sum to 1, so
    no Beta function (which overflows for large b) is ever evaluated.
    """
    al, be = b - 1.0, a - 1.0
    k = np.arange(n, dtype=float)
    s = 2 * k + al + be
    with np.errstate(invalid="ignore", divide="ignore"):
        diagonal = np.where(k == 0, (be - al) / (al + be + 2), (be**2 - al**2) / (s * (s + 2)))
    k = k[1:]
    s = s[1:]
    off = np.sqrt(4 * k * (k + al) * (k + be) * (k + al + be) / (s**2 * (s + 1) * (s - 1)))
    u, vectors = eigh_tridiagonal(diagonal, off)
    return (1 + u) / 2, vectors[0] ** 2


@dataclass(frozen=True)
class BTYDModel:
    """A fitted BG/NBD (+ Gamma-Gamma) model: its parameters and its predictions.

    BG/NBD: purchase rates are Gamma(shape ``r``, rate ``alpha``) per week; after each
    repeat purchase a customer drops out with a probability that is Beta(``a``, ``b``).
    Gamma-Gamma: a customer's order values are Gamma(``p``, ν) with ν ~ Gamma(``q``,
    ``v``), so the population's mean order value is p·v / (q - 1). ``p``, ``q`` and
    ``v`` are None when Gamma-Gamma could not be fitted; order values are then
    ``mean_order_value`` (net spend per repeat purchase day over all customers), and
    ``spend_note`` says why.

    Every prediction takes a :func:`btyd_summary` frame (at the as_of the predictions
    start from) and returns a Series keyed by its customer_id.
    """

    r: float
    alpha: float
    a: float
    b: float
    p: float | None = None
    q: float | None = None
    v: float | None = None
    mean_order_value: float = 0.0
    spend_note: str = ""
    n_customers: int = 0
    n_repeat_customers: int = 0

    def __post_init__(self) -> None:
        for name in _BGNBD:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ConfigError(f"BG/NBD parameter {name}={value} should be finite and > 0")
        given = [getattr(self, name) is not None for name in _GAMMA_GAMMA]
        if any(given) and not all(given):
            raise ConfigError("Gamma-Gamma parameters p, q and v are given all or none")
        if all(given):
            for name in _GAMMA_GAMMA:
                value = getattr(self, name)
                if not (np.isfinite(value) and value > 0):
                    raise ConfigError(f"Gamma-Gamma parameter {name}={value} should be > 0")
            if not self.q > 1:  # type: ignore[operator]
                raise ConfigError(f"Gamma-Gamma q={self.q} should be > 1 (finite mean)")
        if not (np.isfinite(self.mean_order_value) and self.mean_order_value >= 0):
            raise ConfigError(f"mean_order_value={self.mean_order_value} should be >= 0")

    @property
    def spend_model(self) -> str:
        """``"gamma_gamma"`` or ``"mean_order_value"`` (the fallback)."""
        return "gamma_gamma" if self.p is not None else "mean_order_value"

    @classmethod
    def from_fitted(
        cls,
        bgnbd: BetaGeoModel,
        gamma_gamma: GammaGammaModel | None,
        *,
        mean_order_value: float,
        spend_note: str = "",
        n_customers: int = 0,
        n_repeat_customers: int = 0,
    ) -> BTYDModel:
        """The parameters of fitted PyMC-Marketing models (MAP estimates; the posterior
        means of a sampled fit)."""
        spend = (
            {name: _posterior_value(gamma_gamma, name) for name in _GAMMA_GAMMA}
            if gamma_gamma is not None
            else {}
        )
        return cls(
            **{name: _posterior_value(bgnbd, name) for name in _BGNBD},
            **spend,
            mean_order_value=float(mean_order_value),
            spend_note=spend_note,
            n_customers=int(n_customers),
            n_repeat_customers=int(n_repeat_customers),
        )

    # ---- predictions

    def _history(self, summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame = _checked(summary, ("frequency", "recency", "T"))
        return (
            frame["frequency"].to_numpy(float),
            frame["recency"].to_numpy(float),
            frame["T"].to_numpy(float),
        )

    def _p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        # Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model":
        # 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)) for x > 0.
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        log_odds_dead = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(
            a / (b + np.maximum(x, 1) - 1)
        )
        return np.where(x == 0, 1.0, expit(-log_odds_dead))

    def _expected_orders(
        self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        # Fader, Hardie & Lee (2005), eq. 10, as PyMC-Marketing's expected_purchases: its
        # denominator 1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x) is 1 / P(alive),
        # and the rest is the expectation for a customer who is alive.
        return self._alive_orders(*np.broadcast_arrays(x, T, t)) * self._p_alive(x, t_x, T)

    def _alive_orders(self, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Expected purchases in the next ``t`` weeks of a customer alive at T."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        # The closed form holds (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z), z = t/(alpha+T+t),
        # which overflows (inf * 0) for frequent buyers over long horizons; Euler's
        # transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) makes it
        # (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters do not grow with x.
        rest = (alpha + T) / (alpha + T + t)  # 1 - z
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            value = (a + b + x - 1) / (a - 1)
            value = value * (
                1 - rest ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, 1 - rest)
            )
        # scipy's hyp2f1 still fails for some large a, b (inf or nan); the value must lie
        # between 0 and what the customer would buy if they never dropped out.
        ceiling = t * (r + x) / (alpha + T)
        bad = ~np.isfinite(value) | (value < 0) | (value > ceiling * (1 + 1e-9))
        if bad.any():
            value = np.where(bad, 0.0, value)
            value[bad] = self._alive_orders_by_quadrature(x[bad], T[bad], t[bad])
        return value

    def _alive_orders_by_quadrature(
        self, x: np.ndarray, T: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """The same expectation as an integral over the dropout probability p.

        Given p, a customer alive at T expects (1 - E[exp(-lambda p t)]) / p purchases,
        and lambda ~ Gamma(r + x, alpha + T) makes E[exp(-lambda p t)] =
        (1 + p t / (alpha + T))^-(r+x); p ~ Beta(a, b + x) is integrated by Gauss-Jacobi
        quadrature (128 nodes: 1e-11 relative against 40-digit references), one node set
        per distinct frequency (a loop over frequencies, not customers).
        """
        out = np.empty(x.shape)
        scale = t / (self.alpha + T)
        for value in np.unique(x):
            rows = x == value
            nodes, weights = _beta_nodes(self.a, self.b + value)
            f = -np.expm1(-(self.r + value) * np.log1p(np.outer(scale[rows], nodes))) / nodes
            out[rows] = f @ weights
        return out

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still active at the summary's as_of.

        Customers without a repeat purchase (frequency 0) get exactly 1: in BG/NBD a
        customer can only drop out right after a repeat purchase, so one who never
        repeated is alive by construction. Their low expected orders come from the
        purchase rate instead (few orders over a long T mean a slow buyer).
        """
        x, t_x, T = self._history(summary)
        return pd.Series(self._p_alive(x, t_x, T), index=_index(summary), name="p_alive")

    def expected_orders(self, summary: pd.DataFrame, horizon_days: float) -> pd.Series:
        """Expected purchase days of each customer in the ``horizon_days`` days after the
        summary's as_of."""
        x, t_x, T = self._history(summary)
        t = np.full_like(x, _horizon_weeks(horizon_days))
        return pd.Series(
            self._expected_orders(x, t_x, T, t), index=_index(summary), name="expected_orders"
        )

    def _order_value(self, summary: pd.DataFrame) -> np.ndarray:
        if self.p is None or self.q is None or self.v is None:
            return np.full(len(summary), self.mean_order_value)
        frame = _checked(summary, ("frequency", "monetary_value"))
        x = frame["frequency"].to_numpy(float)
        m = frame["monetary_value"].to_numpy(float)
        # Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", eq. 5: the
        # customer's mean, weighted by their repeat purchases, against the population's.
        weight = self.p * x / (self.p * x + self.q - 1)
        population = self.p * self.v / (self.q - 1)
        return (1 - weight) * population + weight * m

    def expected_order_value(self, summary: pd.DataFrame) -> pd.Series:
        """Expected net spend per future purchase day of each customer (currency units).

        Gamma-Gamma's conditional expectation: the population mean for customers
        without repeats, moving towards the customer's own ``monetary_value`` the more
        repeat purchases they made (a customer whose repeats were all returned, value 0,
        is pulled below the population mean). Without Gamma-Gamma, ``mean_order_value``
        for everyone.
        """
        return pd.Series(
            self._order_value(summary), index=_index(summary), name="expected_order_value"
        )

    def expected_spend(self, summary: pd.DataFrame, horizon_days: float) -> pd.Series:
        """Expected net spend of each customer in the next ``horizon_days`` days: expected
        orders times expected order value (currency units, undiscounted)."""
        orders = self.expected_orders(summary, horizon_days)
        return (orders * self._order_value(summary)).rename("expected_spend")

    def clv(
        self, summary: pd.DataFrame, horizon_days: float, annual_discount_rate: float = 0.1
    ) -> pd.Series:
        """Discounted expected net spend of each customer over the next ``horizon_days``.

        The horizon is cut into months of 365.25 / 12 days (the last one shorter when
        the horizon is not a whole number of months); each month's expected orders
        (the growth of the cumulative expectation over it) times the expected order
        value are discounted to as_of from the month's end at
        ``(1 + annual_discount_rate) ** (-days / 365.25)``. This is the lifetimes /
        PyMC-Marketing ``customer_lifetime_value`` scheme with an annual rate, so a rate
        of 0 gives :meth:`expected_spend`.
        """
        if not (np.isfinite(annual_discount_rate) and annual_discount_rate > -1):
            raise ConfigError(
                f"annual_discount_rate={annual_discount_rate} should be a rate above -1 "
                "(0.1 = 10 % a year)"
            )
        _horizon_weeks(horizon_days)
        x, t_x, T = self._history(summary)
        n_steps = int(np.ceil(horizon_days / DAYS_PER_MONTH - 1e-9))
        ends = np.minimum(np.arange(1, n_steps + 1) * DAYS_PER_MONTH, horizon_days)
        cumulative = self._expected_orders(
            x[:, None], t_x[:, None], T[:, None], ends[None, :] / DAYS_PER_WEEK
        )
        per_step = np.diff(cumulative, axis=1, prepend=0.0)
        discount = (1 + annual_discount_rate) ** (-ends / DAYS_PER_YEAR)
        value = per_step @ discount * self._order_value(summary)
        return pd.Series(value, index=_index(summary), name="clv")

    # ---- storage

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description; :meth:`from_dict` rebuilds an identical model."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "time_unit": "week",
            "fitted_with": {"pymc-marketing": _library_version()},
            **asdict(self),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BTYDModel:
        """Rebuild a model from :meth:`to_dict` output; refuses other formats."""
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(
                f"not a BTYD model of format {FORMAT} version {FORMAT_VERSION}: "
                f"format={data.get('format')!r}, format_version={data.get('format_version')!r}",
                hint="retrain the value model with this custintel version",
            )
        if data.get("time_unit") != "week":
            raise ConfigError(f"BTYD model time_unit={data.get('time_unit')!r}, expected 'week'")

        def optional(name: str) -> float | None:
            return None if data.get(name) is None else float(data[name])

        try:
            return cls(
                r=float(data["r"]),
                alpha=float(data["alpha"]),
                a=float(data["a"]),
                b=float(data["b"]),
                p=optional("p"),
                q=optional("q"),
                v=optional("v"),
                mean_order_value=float(data["mean_order_value"]),
                spend_note=str(data.get("spend_note", "")),
                n_customers=int(data.get("n_customers", 0)),
                n_repeat_customers=int(data.get("n_repeat_customers", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"malformed BTYD model: {exc!r}",
                hint="retrain the value model with this custintel version",
            ) from exc
