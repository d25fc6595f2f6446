"""Forecasting accuracy and speed on real data (docs/accuracy.md, docs/performance.md).

Accuracy: an outer rolling-origin backtest. At each origin, every method sees only the
periods before it and forecasts the next ``h``; errors are scaled per series by the
in-sample seasonal-naive error before the first origin (MASE), so all methods share one
scale. Methods: custintel's selection (its own inner backtest, model choice and interval
calibration run inside each origin, on the training part only), Prophet alone (yearly
seasonality when the history spans two years, weekly on daily data, US holidays,
Prophet's defaults otherwise: the settings the seed documents use) and seasonal naive.

    python -m bench.forecasting accuracy walmart      # one data set, prints JSON
    python -m bench.forecasting speed 1000            # 1,000 weekly series, prints JSON
    python -m bench.forecasting all                   # everything, prints markdown
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bench.cdnow import cdnow_store
from bench.measure import ROOT, Measurement, report, run_step

DATA = ROOT.parent / "shared" / "data"

# name -> (frequency, horizon, outer origins, spacing of the origins)
DATASETS = {
    "walmart": ("W", 12, 3, 6),
    "cdnow_weekly": ("W", 8, 3, 4),
    "cdnow_daily": ("D", 28, 3, 14),
}


def walmart() -> pd.DataFrame:
    """The 45 Walmart stores' weekly sales; weeks are labelled by their Monday."""
    raw = pd.read_csv(DATA / "walmart-store-sales" / "Walmart_Store_sales.csv")
    friday = pd.to_datetime(raw["Date"], format="%d-%m-%Y")
    return pd.DataFrame(
        {
            "series": "store " + raw["Store"].astype(str).str.zfill(2),
            "period": friday - pd.to_timedelta(friday.dt.weekday, unit="D"),
            "value": raw["Weekly_Sales"].astype(float),
        }
    )


def cdnow(freq: str) -> pd.DataFrame:
    """CDNOW's revenue per day or week, read through custintel's own sync and series."""
    from custintel.forecasting.service import series_frame

    store = cdnow_store("forecasting-cdnow")
    with store:
        return series_frame(store, freq=freq, as_of=date(1998, 7, 1))


def load(name: str) -> pd.DataFrame:
    return walmart() if name == "walmart" else cdnow(DATASETS[name][0])


def _score(
    method: str, predicted: pd.DataFrame, actual: pd.DataFrame, scale: pd.Series
) -> pd.DataFrame:
    """Join a method's forecasts (series, date, forecast, bounds) to the actual values."""
    merged = actual.merge(predicted, on=["series", "date"], how="left")
    merged["method"] = method
    merged["abs_error"] = (merged["value"] - merged["forecast"]).abs()
    merged["scaled"] = merged["abs_error"] / merged["series"].map(scale)
    return merged


def _baseline(engine_name: str, train: pd.DataFrame, freq: str, h: int) -> pd.DataFrame:
    """Prophet alone or seasonal naive alone, with their own intervals."""
    from custintel.forecasting.models import ProphetEngine, StatsForecastEngine

    panel = train.rename(columns={"series": "unique_id", "period": "ds", "value": "y"})
    if engine_name == "Prophet":
        engine = ProphetEngine(freq)
    else:
        length = int(panel.groupby("unique_id").size().min())
        engine = StatsForecastEngine(["SeasonalNaive"], freq, seasonal=True, min_length=length)
    out = engine.forecast(panel, h)
    name = engine.names[0]
    return pd.DataFrame(
        {
            "series": out["unique_id"],
            "date": pd.to_datetime(out["ds"]),
            "forecast": out[name],
            "lower_80": out[f"{name}-lo-80"],
            "upper_80": out[f"{name}-hi-80"],
            "lower_95": out[f"{name}-lo-95"],
            "upper_95": out[f"{name}-hi-95"],
        }
    )


def accuracy(name: str, models: list[str] | None = None) -> dict[str, object]:
    """Outer backtest of custintel's selection, Prophet alone and seasonal naive."""
    from custintel.forecasting import forecast_panel
    from custintel.forecasting.backtest import series_scale

    freq, h, origins, spacing = DATASETS[name]
    frame = load(name)
    periods = np.sort(frame["period"].unique())
    cutoffs = [periods[-h - spacing * k - 1] for k in reversed(range(origins))]
    panel = frame.rename(columns={"series": "unique_id", "period": "ds", "value": "y"})
    first = pd.Series(cutoffs[0], index=panel["unique_id"].unique())
    scale = series_scale(panel, first, freq)
    scored, seconds, chosen = [], {"custintel": 0.0, "Prophet": 0.0, "SeasonalNaive": 0.0}, []
    for cutoff in cutoffs:
        train = frame[frame["period"] <= cutoff]
        test = frame[(frame["period"] > cutoff)].groupby("series").head(h)
        actual = test.rename(columns={"period": "date"})
        started = time.perf_counter()
        result = forecast_panel(train, freq=freq, horizon=h, models=models)
        seconds["custintel"] += time.perf_counter() - started
        ours = result.forecasts.assign(date=lambda f: pd.to_datetime(f["date"]))
        chosen += list(ours.groupby("series")["model"].first())
        scored.append(_score("custintel", ours, actual, scale))
        for baseline in ("Prophet", "SeasonalNaive"):
            started = time.perf_counter()
            predicted = _baseline(baseline, train, freq, h)
            seconds[baseline] += time.perf_counter() - started
            scored.append(_score(baseline, predicted, actual, scale))
    rows = pd.concat(scored, ignore_index=True)
    n_series = frame["series"].nunique()
    methods = {}
    for method, part in rows.groupby("method"):
        with np.errstate(invalid="ignore", divide="ignore"):
            smape = np.where(
                (part["value"].abs() + part["forecast"].abs()) == 0,
                0.0,
                200 * part["abs_error"] / (part["value"].abs() + part["forecast"].abs()),
            )
        methods[method] = {
            "mase": float(part.groupby("series")["scaled"].mean().mean()),
            "smape": float(np.mean(smape)),
            "coverage_80": float(
                ((part["value"] >= part["lower_80"]) & (part["value"] <= part["upper_80"])).mean()
            ),
            "coverage_95": float(
                ((part["value"] >= part["lower_95"]) & (part["value"] <= part["upper_95"])).mean()
            ),
            "seconds_per_series": seconds[str(method)] / (n_series * origins),
            "seconds": seconds[str(method)],
        }
    return {
        "dataset": name,
        "series": n_series,
        "freq": freq,
        "horizon": h,
        "origins": [str(pd.Timestamp(c).date()) for c in cutoffs],
        "methods": methods,
        "chosen": pd.Series(chosen).str.replace(r"\(.*\)", "", regex=True).value_counts().to_dict(),
        "candidates": models or ["default"],
    }


def synthetic_weekly(n: int, weeks: int = 156, seed: int = 0) -> pd.DataFrame:
    """``n`` weekly retail-like series: a level, a trend, a yearly cycle with a December
    peak, noise; one in ten sparse (a slow mover with many empty weeks)."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    start = pd.Timestamp("2023-01-02")
    parts = []
    for i in range(n):
        level = rng.lognormal(8, 1)
        if i % 10 == 9:
            y = rng.poisson(0.6, weeks) * level / 50
        else:
            season = 1 + 0.3 * np.sin(2 * np.pi * (t - 13) / 52) + 0.6 * (t % 52 >= 49)
            trend = 1 + rng.normal(0, 0.003) * t
            y = level * season * trend * rng.lognormal(0, 0.1, weeks)
        parts.append(
            pd.DataFrame(
                {
                    "series": f"s{i:04d}",
                    "period": start + pd.to_timedelta(7 * t, unit="D"),
                    "value": y,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def speed(n: str, method: str = "custintel") -> None:
    """Forecast ``n`` synthetic weekly series 12 weeks ahead: custintel's whole selection
    (backtest included) or, the naive way, Prophet fitted per series."""
    frame = synthetic_weekly(int(n))
    started = time.perf_counter()
    if method == "custintel":
        from custintel.forecasting import forecast_panel

        result = forecast_panel(frame, freq="W", horizon=12)
        detail = {"chosen": result.forecasts.groupby("series")["model"].first().nunique()}
    else:
        _baseline("Prophet", frame, "W", 12)
        detail = {}
    report(time.perf_counter() - started, series=int(n), method=method, **detail)


def step_accuracy(name: str, *models: str) -> None:
    started = time.perf_counter()
    result = accuracy(name, list(models) or None)
    report(time.perf_counter() - started, **result)


STEPS = {"accuracy": step_accuracy, "speed": speed}


def accuracy_markdown(results: list[Measurement]) -> str:
    lines = [
        f"Measured {date.today()} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}). Reproduce: `python -m bench.forecasting all`.",
        "",
        "| data | series | horizon | method | MASE | sMAPE | 80 % covered | 95 % covered | "
        "s per series |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        r = m.result
        for method, s in r["methods"].items():  # type: ignore[union-attr]
            lines.append(
                f"| {r['dataset']} | {r['series']} | {r['horizon']} {r['freq']} | {method} | "
                f"{s['mase']:.3f} | {s['smape']:.1f} % | {s['coverage_80']:.1%} | "
                f"{s['coverage_95']:.1%} | {s['seconds_per_series']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["all", *STEPS])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--prophet-series", type=int, default=100)
    options = parser.parse_args()
    if options.step != "all":
        STEPS[options.step](*options.args)
        return
    accuracy_runs = [run_step("bench.forecasting", "accuracy", name) for name in DATASETS]
    speed_runs = [
        run_step("bench.forecasting", "speed", str(options.series)),
        run_step("bench.forecasting", "speed", str(options.prophet_series), "prophet"),
    ]
    for m in accuracy_runs + speed_runs:
        print(f"{m.name:10s} {m.seconds:8.1f} s {m.peak_mib:8.0f} MiB", file=sys.stderr)
    print(accuracy_markdown(accuracy_runs))
    print(json.dumps([m.result for m in accuracy_runs + speed_runs], indent=1, default=str))
    ours, prophet = speed_runs
    per_ours = ours.seconds / options.series
    per_prophet = prophet.seconds / options.prophet_series
    print(
        f"\n{options.series} weekly series with selection: {ours.seconds:.1f} s "
        f"({ours.peak_mib:,.0f} MiB peak); Prophet alone: {per_prophet:.3f} s a series "
        f"({options.prophet_series} series), {per_prophet / per_ours:.1f}x custintel's "
        "time per series."
    )


if __name__ == "__main__":
    Path(ROOT / "bench" / "results").mkdir(exist_ok=True)
    main()
