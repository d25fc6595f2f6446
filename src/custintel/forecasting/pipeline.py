"""Forecast a panel of series: profile, backtest, choose, calibrate, fit, reconcile.

This is the capability's core, independent of where the series come from (the store,
a benchmark's CSV) and of where the result goes (service.py stores it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from custintel.errors import ConfigError, NotEnoughData
from custintel.forecasting.backtest import (
    BacktestPlan,
    plan_backtest,
    run_backtest,
    series_scale,
)
from custintel.forecasting.intervals import apply_intervals, calibrate
from custintel.forecasting.models import (
    LEVELS,
    PANDAS_FREQ,
    ProphetSettings,
    engines_for,
    expand_models,
    floor_model,
)
from custintel.forecasting.panel import SeriesProfile, build_panel
from custintel.forecasting.reconcile import reconcile
from custintel.forecasting.selection import ENSEMBLE, _ensemble, choose, to_long

__all__ = ["FORECAST_COLUMNS", "ForecastResult", "forecast_panel"]

FORECAST_COLUMNS = [
    "series",
    "date",
    "forecast",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "model",
    "note",
]
Progress = Callable[[str], None]


@dataclass
class ForecastResult:
    """A forecast run: the forecast rows, the history, the backtest table, the summary."""

    forecasts: pd.DataFrame
    history: pd.DataFrame
    backtest: pd.DataFrame
    calibration: dict[str, dict[int, dict[str, Any]]]
    profiles: dict[str, SeriesProfile]
    settings: dict[str, Any]
    seconds: float
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def accuracy(self) -> dict[str, Any]:
        """The backtest in one line per series: chosen model, its MASE and sMAPE, the
        floor model's MASE, and the pooled coverage of the chosen models' intervals."""
        bt = self.backtest
        if bt.empty:
            return {"series_backtested": 0}
        chosen = bt[bt["chosen"]]
        floor = bt[bt["floor"]]
        return {
            "series_backtested": int(chosen["series"].nunique()),
            "mase": float(chosen["mase"].mean()),
            "smape": float(chosen["smape"].mean()),
            "floor_mase": float(floor["mase"].mean()),
            "coverage_80": _weighted(chosen, "coverage_80"),
            "coverage_95": _weighted(chosen, "coverage_95"),
        }


def _weighted(rows: pd.DataFrame, column: str) -> float | None:
    valid = rows[rows[column].notna()]
    if valid.empty:
        return None
    return float(np.average(valid[column], weights=valid["points"]))


def forecast_panel(
    frame: pd.DataFrame,
    *,
    freq: str,
    horizon: int,
    models: Sequence[str] | None = None,
    windows: int = 3,
    total: str | None = None,
    prophet: ProphetSettings | None = None,
    progress: Progress | None = None,
) -> ForecastResult:
    """Forecast every series of ``frame`` (series, period, value) ``horizon`` periods
    past its last period.

    ``models``: candidate names (``default`` = the measured set per frequency); ``windows``:
    backtest origins; ``total``: the name of the series that the others add up to (their
    forecasts are then reconciled to it); ``prophet``: Prophet's settings when it is a
    candidate.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    if freq not in PANDAS_FREQ:
        raise ConfigError(f"freq={freq!r} is not supported; use D, W or M")
    if horizon < 1:
        raise ConfigError(f"horizon={horizon} should be at least 1")
    if frame.empty:
        raise NotEnoughData("no sales to forecast", hint="check the as_of date and filters")
    panel, profiles = build_panel(frame, freq)
    warnings = {name: list(p.warnings) for name, p in profiles.items()}
    backtests, finals, scores_all, chosen_of = [], [], [], {}
    members_of: dict[str, list[str]] = {}

    # Series that share a profile and a backtest plan run together (statsforecast fits
    # a whole group in one call; lengths may differ, the plan fits the shortest).
    groups: dict[tuple[bool, bool, BacktestPlan], list[str]] = {}
    for name, p in profiles.items():
        if p.constant is None:
            plan = plan_backtest(p.length, horizon, seasonal=p.seasonal, freq=freq, windows=windows)
            groups.setdefault((p.seasonal, p.intermittent, plan), []).append(name)
    for (seasonal, intermittent, plan), names_in_group in groups.items():
        part = panel[panel["unique_id"].isin(names_in_group)]
        length = min(profiles[name].length for name in names_in_group)
        names = expand_models(models, freq, seasonal=seasonal, intermittent=intermittent)
        floor = floor_model(seasonal)
        engines = engines_for(names, freq, seasonal=seasonal, min_length=length, prophet=prophet)
        if plan.warning:
            for name in names_in_group:
                warnings[name].append(plan.warning)
        say(f"backtesting {', '.join(names)} on {len(names_in_group)} series")
        if plan.windows:
            cv = run_backtest(engines, part, plan)
            first_cutoff = cv.groupby("unique_id")["cutoff"].min()
            scale = series_scale(part, first_cutoff, freq)
            long, scores, members = choose(to_long(cv, names, scale))
            scores["floor"] = scores["model"] == floor
            backtests.append(long)
            scores_all.append(scores)
            best = scores[scores["chosen"]].set_index("unique_id")["model"]
        else:
            scale = series_scale(part, part.groupby("unique_id")["ds"].max(), freq)
            members = pd.Series(dtype=object)
            best = pd.Series(floor, index=names_in_group)
        say(f"fitting the chosen models on {len(names_in_group)} series")
        fitted = [engine.forecast(part, horizon) for engine in engines]
        wide = reduce(lambda a, b: a.merge(b, on=["unique_id", "ds"]), fitted)
        final = to_long(wide, names, scale)
        if len(members):
            final = pd.concat([final, _ensemble(final, members)], ignore_index=True)
        picked = _pick(final, best, members, floor, part, warnings)
        finals.append(picked)
        for uid, model in best.items():
            chosen_of[str(uid)] = model
        members_of.update({str(k): v for k, v in members.items()})

    calibration, backtest_long = calibrate(pd.concat(backtests)) if backtests else ({}, None)
    forecasts = pd.concat(finals, ignore_index=True) if finals else _empty_long()
    forecasts = apply_intervals(forecasts, calibration)
    is_ensemble = forecasts["model"] == ENSEMBLE
    forecasts.loc[is_ensemble, "model"] = [
        f"{ENSEMBLE}({'+'.join(members_of[u])})" for u in forecasts.loc[is_ensemble, "unique_id"]
    ]
    forecasts = _add_constants(forecasts, profiles, freq, horizon, frame)
    forecasts = _clip_nonnegative(forecasts, profiles)
    if total is not None and total in profiles and len(profiles) > 1:
        nonnegative = {name for name, p in profiles.items() if p.nonnegative}
        forecasts = reconcile(forecasts, total, nonnegative=nonnegative)
    backtest_table = _backtest_table(scores_all, backtest_long, chosen_of)
    result = ForecastResult(
        forecasts=_contract(forecasts, warnings),
        history=frame.rename(columns={"period": "date", "value": "actual"})[
            ["series", "date", "actual"]
        ].reset_index(drop=True),
        backtest=backtest_table,
        calibration=calibration,
        profiles=profiles,
        settings={
            "freq": freq,
            "horizon": horizon,
            "models": list(models or ["default"]),
            "windows": windows,
            "reconciled": total is not None and len(profiles) > 1,
        },
        seconds=time.perf_counter() - started,
        warnings={k: v for k, v in warnings.items() if v},
    )
    return result


def _empty_long() -> pd.DataFrame:
    columns = ["model", "unique_id", "ds", "yhat"]
    columns += [f"{s}_{lv}" for lv in LEVELS for s in ("lo", "hi")] + ["scale"]
    return pd.DataFrame({c: [] for c in columns})


def _pick(
    final: pd.DataFrame,
    best: pd.Series,
    members: pd.Series,
    floor: str,
    history: pd.DataFrame,
    warnings: dict[str, list[str]],
) -> pd.DataFrame:
    """Each series' rows of its chosen model. Where that model (or a member of the chosen
    ensemble) fails on the whole history: the next model that does not, in backtest order
    (the floor model last), and where even the floor fails, the last value, each with a
    note."""
    last = history.groupby("unique_id", sort=False)["y"].last()
    out = []
    for uid, rows in final.groupby("unique_id", sort=False):
        model = str(best.get(uid, floor))
        ok = {str(m) for m, r in rows.groupby("model") if np.isfinite(r["yhat"]).all()}
        needed = list(members.get(uid, [])) if model == ENSEMBLE else [model]
        if all(m in ok for m in needed):
            out.append(rows[rows["model"] == model])
            continue
        fallback = next((m for m in [*needed, floor] if m in ok), None)
        failed = ", ".join(m for m in needed if m not in ok)
        if fallback is None:
            warnings[str(uid)].append(
                f"{failed} and {floor} failed on the whole history; the last value is repeated"
            )
            rows = rows[rows["model"] == floor].copy()
            rows["model"], rows["yhat"] = "LastValue", float(last[uid])
            out.append(rows)
            continue
        warnings[str(uid)].append(f"{failed} failed on the whole history; {fallback} used")
        out.append(rows[rows["model"] == fallback])
    return pd.concat(out, ignore_index=True)


def _add_constants(
    forecasts: pd.DataFrame,
    profiles: dict[str, SeriesProfile],
    freq: str,
    horizon: int,
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """Constant series (all-zero ones too) forecast their constant, with no spread."""
    last = pd.Timestamp(frame["period"].max())
    dates = pd.date_range(last, periods=horizon + 1, freq=PANDAS_FREQ[freq])[1:]
    parts = [forecasts]
    for name, profile in profiles.items():
        if profile.constant is None:
            continue
        value = profile.constant
        rows = pd.DataFrame({"model": "Constant", "unique_id": name, "ds": dates, "yhat": value})
        for level in LEVELS:
            rows[f"lo_{level}"] = value
            rows[f"hi_{level}"] = value
        parts.append(rows)
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)


def _clip_nonnegative(forecasts: pd.DataFrame, profiles: dict[str, SeriesProfile]) -> pd.DataFrame:
    """Series that never went below zero get no negative forecasts or bounds."""
    nonneg = forecasts["unique_id"].map(lambda u: profiles[u].nonnegative).to_numpy(bool)
    for column in ["yhat"] + [f"{s}_{lv}" for lv in LEVELS for s in ("lo", "hi")]:
        values = forecasts[column].to_numpy(float)
        forecasts[column] = np.where(nonneg, np.maximum(values, 0), values)
    return forecasts


def _contract(forecasts: pd.DataFrame, warnings: dict[str, list[str]]) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "series": forecasts["unique_id"].astype(str),
            "date": pd.to_datetime(forecasts["ds"]).dt.date,
            "forecast": forecasts["yhat"].astype(float),
            "lower_80": forecasts["lo_80"].astype(float),
            "upper_80": forecasts["hi_80"].astype(float),
            "lower_95": forecasts["lo_95"].astype(float),
            "upper_95": forecasts["hi_95"].astype(float),
            "model": forecasts["model"].astype(str),
        }
    )
    out["note"] = out["series"].map(lambda s: "; ".join(warnings.get(s, [])))
    return out.sort_values(["series", "date"]).reset_index(drop=True)[FORECAST_COLUMNS]


def _backtest_table(
    scores: list[pd.DataFrame], long: pd.DataFrame | None, chosen: dict[str, str]
) -> pd.DataFrame:
    """One row per series and candidate: MASE, sMAPE, coverage of the intervals it would
    use, whether it failed, is the floor model, was chosen."""
    columns = ["series", "model", "mase", "smape", "coverage_80", "coverage_95", "points"]
    columns += ["failed", "floor", "chosen"]
    if not scores or long is None:
        return pd.DataFrame({c: [] for c in columns})
    table = pd.concat(scores, ignore_index=True)
    coverage = long.groupby(["unique_id", "model"]).agg(
        coverage_80=("covered_80", "mean"),
        coverage_95=("covered_95", "mean"),
        points=("y", "size"),
    )
    table = table.merge(coverage.reset_index(), on=["unique_id", "model"], how="left")
    table = table.rename(columns={"unique_id": "series"})
    table["chosen"] = [
        chosen.get(s) == m for s, m in zip(table["series"], table["model"], strict=True)
    ]
    return table[columns].sort_values(["series", "mase"]).reset_index(drop=True)
