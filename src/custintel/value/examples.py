"""Training and scoring examples for the machine-learned value models.

One row per (cutoff, customer): the point-in-time features, the BTYD model's view at that
cutoff (fitted on the rows before it), and, for labelled cutoffs, what happened next.

Label windows may be shorter than the horizon asked for: a shop with 9 months of history
cannot label a 9-month horizon anywhere before its last day. So every target is a *rate*
(spend and orders per day of the window) and the BTYD model supplies, as features, its
expected rates over the same window; at scoring the window is the horizon. The BTYD rates
carry what the horizon changes (customers drop out, so longer windows have lower rates),
and the trees learn how the shop's customers differ from BTYD's view within the range of
rates they were trained on.

Cost at scale: features are computed one cutoff at a time (DuckDB's multi-cutoff join
grows faster than linearly: 91 s for four cutoffs of a 1M-customer shop against 10 s for
one), and the BTYD models, whose four parameters describe the whole customer base, are
fitted on a random sample of at most ``BTYD_FIT_SAMPLE`` customers and then applied to
everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from custintel.errors import NotEnoughData
from custintel.features.customer import customer_features
from custintel.value.btyd import btyd_summary, fit_btyd
from custintel.value.btyd_model import BTYDModel
from custintel.value.labels import labels

__all__ = [
    "AUTO_FAMILIES",
    "BTYD_FEATURES",
    "BTYD_FIT_SAMPLE",
    "OUTLIER_FACTOR",
    "BTYDViews",
    "btyd_rates",
    "examples",
    "outlier_spend",
]

BTYD_FEATURES = ("btyd_orders_rate", "btyd_spend_rate", "btyd_p_alive")
# The order-model families compared by default (Pareto/NBD by name only, see BTYDViews).
AUTO_FAMILIES = ("bgnbd", "mbgnbd")
# Population parameters are pinned down long before this many customers.
BTYD_FIT_SAMPLE = 200_000
# A customer who has spent more than this many times the median customer is of another
# kind (a wholesale or trade account in a retail shop): squared-error trees fitted with
# them learn little else, and the RMSE every spend candidate is chosen on becomes their
# error alone. CDNOW's largest customer stays under 330 times the median at every
# cutoff, the demo shop's under 90; docs/value.md, "Outlying customers".
OUTLIER_FACTOR = 1000.0


class BTYDViews:
    """The BTYD summary and fitted model at each cutoff, each fitted once per run.

    The order-model family is chosen once per run by :meth:`choose`: each of
    ``families`` is fitted on the history before a labelled cutoff and the one whose
    expected orders over the following window are closest to what happened (RMSE) is
    fitted at every other cutoff. Measured error, not in-sample likelihood: on CDNOW the
    likelihood prefers MBG/NBD, whose holdout error is the worst of the three. Pareto/NBD
    is left out of the automatic choice and can be asked for by name: PyMC-Marketing's
    fit of it costs some 3.5 to 8 s at any size (100 s on a busy 2-core machine), and on
    CDNOW, whose holdout it predicts a little better than BG/NBD, this rule would not
    pick it (bench/btyd_families.py), so it would cost every run that fit for nothing.
    Without :meth:`choose`, ``family`` is used as given ("auto": by likelihood).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        family: str = "auto",
        *,
        families: Sequence[str] = AUTO_FAMILIES,
        seed: int = 0,
    ) -> None:
        self._con = con
        self._seed = seed
        self.family = family
        self.families = tuple(families)
        self.family_errors: dict[str, float] = {}
        self._fitted: dict[date, tuple[pd.DataFrame, BTYDModel]] = {}

    def _fit(self, summary: pd.DataFrame, family: str, cutoff: date) -> BTYDModel:
        """``fit_btyd`` on ``summary`` (a sample of it above ``BTYD_FIT_SAMPLE``); a shop
        that cannot support the fit is told which cutoff's customers fell short, with the
        fit's own hint where it has one."""
        fit_on = summary
        if len(summary) > BTYD_FIT_SAMPLE:
            fit_on = summary.sample(n=BTYD_FIT_SAMPLE, random_state=self._seed)
        try:
            return fit_btyd(fit_on, family=family)
        except NotEnoughData as error:
            raise NotEnoughData(
                error.message,
                where=f"{error.where or 'BTYD fit'} of the orders before {cutoff}",
                hint=error.hint
                or "the value models need customers who come back and some who are seen to "
                "leave: check the order dates for a long stretch without orders, or score "
                "again once more orders have come in",
            ) from error

    def choose(self, cutoff: date, window_days: int) -> str:
        """Fit each family at ``cutoff`` and keep the one with the lowest RMSE of expected
        orders over ``[cutoff, cutoff + window_days)``; an explicit family is kept."""
        if self.family != "auto" or len(self.families) == 1:
            self.family = self.families[0] if self.family == "auto" else self.family
            return self.family
        summary = btyd_summary(self._con, cutoff)
        actual = (
            labels(self._con, [cutoff], window_days)
            .set_index("customer_id")["orders"]
            .reindex(summary["customer_id"])
            .fillna(0)
            .to_numpy(float)
        )
        fitted = {}
        for family in self.families:
            model = self._fit(summary, family, cutoff)
            if model.family != family:  # the fit failed and fell back
                continue
            expected = model.expected_orders(summary, window_days).to_numpy(float)
            self.family_errors[family] = float(np.sqrt(np.mean((expected - actual) ** 2)))
            fitted[family] = model
        if not fitted:
            raise NotEnoughData(f"no BTYD family could be fitted on the orders before {cutoff}")
        self.family = min(self.family_errors, key=self.family_errors.__getitem__)
        self._fitted[cutoff] = (summary, fitted[self.family])
        return self.family

    def at(self, cutoff: date) -> tuple[pd.DataFrame, BTYDModel]:
        """The summary of every customer before ``cutoff`` and the model fitted on it (on
        a random sample when there are more than ``BTYD_FIT_SAMPLE`` customers)."""
        if cutoff not in self._fitted:
            summary = btyd_summary(self._con, cutoff)
            self._fitted[cutoff] = (summary, self._fit(summary, self.family, cutoff))
        return self._fitted[cutoff]

    def rates(self, cutoff: date, window_days: int) -> pd.DataFrame:
        """Per customer: BTYD's expected orders and spend per day over the window, and
        P(alive) at the cutoff."""
        return btyd_rates(*self.at(cutoff), window_days)


def btyd_rates(summary: pd.DataFrame, model: BTYDModel, window_days: int) -> pd.DataFrame:
    """The ``BTYD_FEATURES`` of each customer of ``summary``: expected orders and spend
    per day over the window, and P(alive) at its start."""
    return pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "btyd_orders_rate": model.expected_orders(summary, window_days).to_numpy(float)
            / window_days,
            "btyd_spend_rate": model.expected_spend(summary, window_days).to_numpy(float)
            / window_days,
            "btyd_p_alive": model.p_alive(summary).to_numpy(float),
        }
    )


def outlier_spend(monetary: pd.Series | np.ndarray) -> float:
    """The net spend above which a customer is outlying: ``OUTLIER_FACTOR`` times the
    median net spend of the customers who have spent anything (infinite when none has)."""
    spent = np.asarray(monetary, float)
    spent = spent[spent > 0]
    return OUTLIER_FACTOR * float(np.median(spent)) if len(spent) else float("inf")


def examples(
    con: duckdb.DuckDBPyConnection,
    windows: Sequence[tuple[date, int]],
    *,
    categories: Sequence[str] = (),
    labelled: bool = True,
    btyd: BTYDViews | None = None,
) -> pd.DataFrame:
    """Examples at each ``(cutoff, window_days)``: features, BTYD rates over the window,
    and (``labelled``) the realised spend, orders and churn in the window, as totals and
    as per-day rates (``spend_rate``, ``orders_rate``). ``btyd`` shares fitted BTYD
    models between calls. ``outlying`` marks the customers whose net spend before the
    cutoff is past :func:`outlier_spend` of that cutoff's customers: the spend models
    leave them to BTYD (``models.ValueModels``)."""
    views = btyd or BTYDViews(con)
    parts = []
    for cutoff, window in windows:
        part = customer_features(con, [cutoff], categories=categories or None).to_pandas()
        part["as_of"] = pd.to_datetime(part["as_of"]).dt.date
        part = part.merge(views.rates(cutoff, window), on="customer_id", how="left")
        part["window_days"] = window
        part["outlying"] = part["monetary"] > outlier_spend(part["monetary"])
        if labelled:
            part = part.merge(
                labels(con, [cutoff], window, categories=categories),
                on=["as_of", "customer_id"],
                how="left",
            )
            part["spend_rate"] = part["spend"] / window
            part["orders_rate"] = part["orders"] / window
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
