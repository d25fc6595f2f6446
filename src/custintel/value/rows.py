"""Customers sent as feature rows, scored by a served value version.

A shop's app asks for the predictions of a customer the last training did not score
(new since, or kept in another system) by sending the customer's feature row, as
``custintel features`` writes it. A served version keeps what that takes (built by
:func:`served_model`, stored in the version's artifact): the fitted learners
(``persist.py``), the BTYD model fitted at its as_of, its settings, and the RFM score
boundaries and expected-spend ranks of the population it scored, so that a row is
placed against the same customers.

BTYD's summary is rebuilt from the row (docs/features.md): frequency =
``purchase_days`` − 1, recency = (``tenure_days`` − ``recency_days``) / 7 weeks, T =
(``tenure_days`` − 1) / 7 weeks, mean repeat spend = ``repeat_spend`` / frequency. So a
known customer's row at the version's as_of gets the predictions stored for them
(tests/value/test_rows.py), except a customer with a return dated on their first
purchase day, whose ``repeat_spend`` counts it while BTYD's summary does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from custintel.errors import ConfigError, InputError
from custintel.segmentation.builtin import get_scheme
from custintel.segmentation.rfm import score_by_thresholds
from custintel.segmentation.schemes import assign_segments
from custintel.value.btyd_model import DAYS_PER_WEEK, BTYDModel
from custintel.value.examples import BTYD_FEATURES, btyd_rates
from custintel.value.models import ValueModels
from custintel.value.persist import models_from_dict, models_to_dict
from custintel.value.service import Applied, ValueSettings, predict_customers, to_the_cent

__all__ = ["SPEND_RANKS", "ServedValue", "required_columns", "score_rows", "served_model"]

FORMAT = "custintel.served-value"
FORMAT_VERSION = 1
# Expected spends kept to rank a row against the population (every one when fewer).
SPEND_RANKS = 1001
# Columns a row may carry besides the features.
ROW_KEYS = ("customer_id", "as_of")


def served_model(
    applied: Applied,
    as_of: date,
    horizon_days: int,
    settings: ValueSettings,
    *,
    scheme: str = "standard",
    schemes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a served version needs to score feature rows, as JSON-able data."""
    spend = np.sort(to_the_cent(applied.scores["expected_spend"].to_numpy(float)))
    if len(spend) > SPEND_RANKS:
        spend = np.quantile(spend, (np.arange(SPEND_RANKS) + 0.5) / SPEND_RANKS)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "settings": dataclasses.asdict(settings),
        "models": models_to_dict(applied.models),
        "btyd": applied.btyd_model.to_dict(),
        "rfm_thresholds": applied.rfm_thresholds,
        "rfm_scheme": {"name": scheme, "schemes": dict(schemes or {})},
        "spend_ranks": spend.tolist(),
        # None when nobody can be outlying (no customer has spent anything).
        "outlier_spend": applied.outlier_spend if np.isfinite(applied.outlier_spend) else None,
    }


@dataclass
class ServedValue:
    """A served value version, ready to score feature rows."""

    models: ValueModels
    btyd: BTYDModel
    as_of: date
    horizon_days: int
    settings: ValueSettings
    rfm_thresholds: dict[str, dict[str, float]]
    rfm_scheme: dict[str, Any]
    spend_ranks: np.ndarray
    # A row whose net spend is past this is outlying (examples.outlier_spend): its
    # expected spend is BTYD's, as for the population's outlying customers.
    outlier_spend: float = float("inf")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServedValue:
        """The version :func:`served_model` stored; refuses other formats."""
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(
                f"not a served value model of format {FORMAT} version {FORMAT_VERSION}",
                hint="retrain the value model with this custintel version",
            )
        models = models_from_dict(data["models"])
        _forests_on_one_thread(models)
        return cls(
            models=models,
            btyd=BTYDModel.from_dict(data["btyd"]),
            as_of=date.fromisoformat(data["as_of"]),
            horizon_days=int(data["horizon_days"]),
            settings=ValueSettings.from_options(data["settings"]),
            rfm_thresholds=data["rfm_thresholds"],
            rfm_scheme=dict(data["rfm_scheme"]),
            spend_ranks=np.asarray(data["spend_ranks"], float),
            # Versions served before outlying customers were marked have no threshold.
            outlier_spend=float(data.get("outlier_spend") or float("inf")),
        )

    def percentile(self, spend: np.ndarray) -> np.ndarray:
        """Each spend's percentile rank among the population's expected spends, ties
        at the lowest rank of their group, as ``service.spend_percentile`` ranks them."""
        below = np.searchsorted(self.spend_ranks, to_the_cent(spend), side="left")
        return (below + 1) / len(self.spend_ranks)


def _forests_on_one_thread(models: ValueModels) -> None:
    """A served forest predicts on one thread: a request holds a few rows, and starting
    joblib's workers for each prediction cost more than the prediction (16 ms a call,
    measured on the 20k demo shop)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    fitted = [m for learners in models.regressors.values() for m in learners.values()]
    fitted += list(models.churn.models.values()) if models.churn else []
    for model in fitted:
        if isinstance(model, RandomForestClassifier | RandomForestRegressor):
            model.n_jobs = 1


# The columns BTYD's summary and the RFM scores are built from: never empty in
# `custintel features` output.
NEVER_EMPTY = (
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "purchase_days",
    "repeat_spend",
)


def required_columns(served: ServedValue) -> list[str]:
    """The feature columns a row must have: what the models learn from (but the BTYD
    rates, computed here) and what BTYD's summary is rebuilt from."""
    learned = [c for c in served.models.features if c not in BTYD_FEATURES]
    return list(dict.fromkeys([*learned, *NEVER_EMPTY]))


def _numeric(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The ``columns`` of ``rows`` as floats (null stays missing); a value that is not a
    number is refused, naming its column and row."""
    try:  # one conversion for the whole block; column by column only to name an error
        return rows[columns].astype(float)
    except (TypeError, ValueError):
        pass
    out = {}
    for column in columns:
        values = pd.to_numeric(rows[column], errors="coerce")
        bad = values.isna() & rows[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{column} is not a number in row {row} ({rows[column].iloc[row]!r})",
                where=f"rows[{row}].{column}",
                hint="send the feature values as numbers, or null where a feature is missing",
            )
        out[column] = values.astype(float)
    return pd.DataFrame(out, index=rows.index)


def _summary(rows: pd.DataFrame) -> pd.DataFrame:
    """BTYD's summary of the rows with a purchase (docs/features.md); a customer whose
    days do not fit together (the last order before the first, or on as_of) is refused."""
    recency, tenure = rows["recency_days"], rows["tenure_days"]
    bought = rows["purchase_days"] >= 1
    bad = (recency > tenure) | (recency < 0) | (bought & (recency < 1))
    if bad.any():
        customer = rows["customer_id"].iloc[int(np.flatnonzero(bad.to_numpy())[0])]
        raise InputError(
            f"customer {customer!r}: recency_days and tenure_days do not fit together "
            "(a customer with purchases has 1 <= recency_days <= tenure_days)",
            where="rows",
            hint="send rows as `custintel features` writes them",
        )
    buyers = rows[bought]
    frequency = buyers["purchase_days"] - 1
    repeat = buyers["repeat_spend"]
    positive = (frequency > 0) & (repeat > 0) & (buyers["monetary"] > 0)
    return pd.DataFrame(
        {
            "customer_id": buyers["customer_id"].to_numpy(),
            "frequency": frequency.astype("int64").to_numpy(),
            "recency": ((buyers["tenure_days"] - buyers["recency_days"]) / DAYS_PER_WEEK)
            .where(frequency > 0, 0.0)
            .to_numpy(),
            "T": ((buyers["tenure_days"] - 1) / DAYS_PER_WEEK).to_numpy(),
            "monetary_value": (repeat / frequency.where(frequency > 0, 1))
            .where(positive, 0.0)
            .to_numpy(),
        }
    )


def _starts(rows: pd.DataFrame, default: date) -> list[date]:
    """Each row's as_of (the day its horizon starts): its own, or ``default``."""
    if "as_of" not in rows.columns:
        return [default] * len(rows)
    starts = []
    for i, value in enumerate(rows["as_of"]):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            starts.append(default)
            continue
        try:
            starts.append(date.fromisoformat(str(value)))
        except ValueError:
            raise InputError(
                f"as_of {value!r} in row {i} is not a date",
                where=f"rows[{i}].as_of",
                hint="write it as YYYY-MM-DD, or leave it out to use the model's as_of",
            ) from None
    return starts


def score_rows(served: ServedValue, rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The ``SCORE_COLUMNS`` row of each feature row, in order, every row explained; and
    the columns sent that the models do not use. Rows without ``customer_id`` are named
    ``row-<i>``; ids must be unique; a missing column or a value that is not a number
    is refused (:class:`~custintel.errors.InputError`)."""
    if rows.empty:
        raise InputError("no rows to score", where="rows", hint="send at least one feature row")
    rows = rows.reset_index(drop=True)
    ids = (
        rows["customer_id"].astype(str)
        if "customer_id" in rows.columns
        else pd.Series([f"row-{i}" for i in range(len(rows))])
    )
    repeated = sorted(set(ids[ids.duplicated()]))
    if repeated:
        raise InputError(
            f"customer ids sent twice: {repeated[:5]}",
            where="rows",
            hint="send each customer once",
        )
    required = required_columns(served)
    missing = [c for c in required if c not in rows.columns]
    if missing:
        raise InputError(
            f"the rows lack {len(missing)} feature(s) the model needs: {', '.join(missing[:8])}"
            + (" ..." if len(missing) > 8 else ""),
            where="rows",
            hint=f"send rows as `custintel features --as-of {served.as_of}` writes them "
            "(docs/features.md defines each column)",
        )
    current = _numeric(rows, required)
    empty = current[list(NEVER_EMPTY)].isna()
    if empty.to_numpy().any():
        row, column = next(zip(*np.nonzero(empty.to_numpy()), strict=True))
        raise InputError(
            f"{NEVER_EMPTY[column]} is empty in row {row}",
            where=f"rows[{row}].{NEVER_EMPTY[column]}",
            hint=f"{', '.join(NEVER_EMPTY)} always have a value in `custintel features` "
            "output; send each row whole",
        )
    current.insert(0, "customer_id", ids.to_numpy())
    starts = _starts(rows, served.as_of)
    # Each row's horizon starts at its own as_of, in that window's season.
    current["as_of"] = starts
    summary = _summary(current)
    horizon = served.horizon_days
    rates = btyd_rates(summary, served.btyd, horizon)
    current = current.merge(rates, on="customer_id", how="left")
    current["outlying"] = current["monetary"].to_numpy(float) > served.outlier_spend
    scheme = get_scheme(served.rfm_scheme["name"], served.rfm_scheme.get("schemes") or None)
    segments = assign_segments(score_by_thresholds(current, served.rfm_thresholds), scheme)
    settings = dataclasses.replace(served.settings, explain_limit=len(current))
    scores, _ = predict_customers(
        served.models,
        current,
        summary,
        served.btyd,
        starts,
        horizon,
        settings,
        rfm_segment=segments.astype(str).to_numpy(),
        percentile=served.percentile,
    )
    ignored = [c for c in rows.columns if c not in required and c not in ROW_KEYS]
    return scores, ignored
