"""Sales forecasts from the store, and their record in it.

Reads the sales series as of a date (whole periods only: the period holding ``as_of``
is not over yet, so it is forecast rather than shown as a dip), forecasts them with
:func:`forecast_panel`, and keeps the forecast and its backtest in the store's
``forecasts`` and ``forecast_backtests`` tables under the model version the registry
gave the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa

from custintel.data.store import Store, require_orders_since
from custintel.errors import ConfigError, NotEnoughData
from custintel.features.series import TOTAL_LABEL, calendar, sales_series
from custintel.forecasting.models import ProphetSettings
from custintel.forecasting.pipeline import ForecastResult, forecast_panel

__all__ = [
    "METRICS",
    "TIMEFRAMES",
    "forecast_sales",
    "record_forecast",
    "series_frame",
    "summary",
]

METRICS = ("revenue", "orders")
TIMEFRAMES = {"D": "daily", "W": "weekly", "M": "monthly"}
# Each frequency's period in words and as a calendar step.
PERIODS = {
    "D": ("days", pd.DateOffset(days=1)),
    "W": ("weeks", pd.DateOffset(weeks=1)),
    "M": ("months", pd.DateOffset(months=1)),
}


def series_frame(
    store: Store,
    *,
    freq: str,
    as_of: date,
    by: str | None = None,
    metric: str = "revenue",
    where: str | None = None,
) -> pd.DataFrame:
    """The whole periods before ``as_of`` as (series, period, value): the total, and one
    series per value of ``by`` when given."""
    if metric not in METRICS:
        raise ConfigError(f"metric={metric!r} is not supported; use revenue or orders")
    parts = [sales_series(store.con, freq, as_of=as_of, where=where)]  # type: ignore[arg-type]
    if by:
        parts.append(sales_series(store.con, freq, by=by, as_of=as_of, where=where))  # type: ignore[arg-type]
    frame = pd.concat([p.to_pandas() for p in parts], ignore_index=True)
    if frame.empty:
        raise NotEnoughData(
            f"no orders before {as_of}" + (f" matching {where}" if where else ""),
            where="orders",
            hint="check --as-of and --where, or sync orders first",
        )
    if by and (frame["series"] == TOTAL_LABEL).sum() > frame["period"].nunique():
        raise ConfigError(
            f"a {by} is named {TOTAL_LABEL!r}, like the total series",
            hint=f"rename that {by} in the source, or forecast without --by",
        )
    # The period holding as_of is incomplete unless as_of starts the next one.
    current = calendar(as_of, as_of, freq)[0]
    whole = frame[pd.to_datetime(frame["period"]) < pd.Timestamp(current)]
    if whole.empty:
        raise NotEnoughData(
            f"no whole {TIMEFRAMES[freq]} period before {as_of}",
            hint="use a finer --freq or a later --as-of",
        )
    return pd.DataFrame(
        {
            "series": whole["series"].astype(str),
            "period": pd.to_datetime(whole["period"]),
            "value": whole[metric].astype(float),
        }
    )


def forecast_sales(
    store: Store,
    *,
    freq: str,
    horizon: int,
    as_of: date,
    by: str | None = None,
    metric: str = "revenue",
    where: str | None = None,
    models: list[str] | None = None,
    windows: int = 3,
    reconcile: bool = True,
    prophet: ProphetSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> ForecastResult:
    """Forecast the shop's sales ``horizon`` periods from the period holding ``as_of``."""
    frame = series_frame(store, freq=freq, as_of=as_of, by=by, metric=metric, where=where)
    unit, step = PERIODS[freq]
    require_orders_since(
        store,
        (pd.Timestamp(as_of) - horizon * step).date(),
        as_of,
        f"{horizon} {unit}",
        "where the backtest checks the models",
    )
    result = forecast_panel(
        frame,
        freq=freq,
        horizon=horizon,
        models=models,
        windows=windows,
        total=TOTAL_LABEL if by and reconcile else None,
        prophet=prophet,
        progress=progress,
    )
    result.settings.update(
        {
            "as_of": as_of.isoformat(),
            "by": by,
            "metric": metric,
            "where": where,
            "timeframe": TIMEFRAMES[freq],
            "history_ends": (pd.Timestamp(frame["period"].max()).date()).isoformat(),
        }
    )
    return result


def _json_safe(value: Any) -> Any:
    """NaN (a failed model's score) becomes None, so the summary is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary(result: ForecastResult, model_version: int | None) -> dict[str, Any]:
    """What a run did, for the registry, the summary file and the API."""
    chosen = result.backtest[result.backtest["chosen"]]
    return _json_safe(
        {
            "model_version": model_version,
            "settings": result.settings,
            "seconds": round(result.seconds, 2),
            "accuracy": result.accuracy(),
            "chosen": {
                str(s): str(m) for s, m in zip(chosen["series"], chosen["model"], strict=True)
            },
            "intervals": {
                model: {str(level): value for level, value in levels.items()}
                for model, levels in result.calibration.items()
            },
            "warnings": result.warnings,
        }
    )


def record_forecast(store: Store, result: ForecastResult, model_version: int) -> None:
    """Keep the forecast and its backtest in the store, replacing an earlier run with the
    same timeframe, metric and split (one current forecast per question)."""
    con = store.con
    con.execute("""CREATE TABLE IF NOT EXISTS forecasts (
        model_version INTEGER, as_of DATE, timeframe VARCHAR, metric VARCHAR, split_by VARCHAR,
        series VARCHAR, date DATE, predicted_amount DOUBLE, lower_bound DOUBLE,
        upper_bound DOUBLE, lower_80 DOUBLE, upper_80 DOUBLE, model VARCHAR, note VARCHAR)""")
    con.execute("""CREATE TABLE IF NOT EXISTS forecast_backtests (
        model_version INTEGER, series VARCHAR, model VARCHAR, mase DOUBLE, smape DOUBLE,
        coverage_80 DOUBLE, coverage_95 DOUBLE, points INTEGER, failed BOOLEAN,
        floor BOOLEAN, chosen BOOLEAN)""")
    s = result.settings
    rows = result.forecasts.rename(
        columns={
            "forecast": "predicted_amount",
            "lower_95": "lower_bound",
            "upper_95": "upper_bound",
        }
    )[
        [
            "series",
            "date",
            "predicted_amount",
            "lower_bound",
            "upper_bound",
            "lower_80",
            "upper_80",
            "model",
            "note",
        ]
    ]
    backtest = result.backtest.astype({"points": "int64"})
    key = [s["timeframe"], s["metric"], s["by"] or ""]
    with store.transaction():
        con.execute(
            "DELETE FROM forecast_backtests WHERE model_version IN (SELECT model_version FROM "
            "forecasts WHERE timeframe = ? AND metric = ? AND coalesce(split_by, '') = ?)",
            key,
        )
        con.execute(
            "DELETE FROM forecasts "
            "WHERE timeframe = ? AND metric = ? AND coalesce(split_by, '') = ?",
            key,
        )
        con.register("_forecast", pa.Table.from_pandas(rows, preserve_index=False))
        con.execute(
            "INSERT INTO forecasts SELECT ?, ?, ?, ?, ?, * FROM _forecast",
            [model_version, s["as_of"], s["timeframe"], s["metric"], s["by"]],
        )
        con.unregister("_forecast")
        con.register("_backtest", pa.Table.from_pandas(backtest, preserve_index=False))
        con.execute("INSERT INTO forecast_backtests SELECT ?, * FROM _backtest", [model_version])
        con.unregister("_backtest")
