"""The forecasting models, behind one interface.

A *candidate* is a named model that can be cross-validated and fitted on a panel of
series (``unique_id, ds, y``), returning one frame shape: ``unique_id, ds[, cutoff], y?,
<name>, <name>-lo-80, <name>-hi-80, <name>-lo-95, <name>-hi-95`` (the interval columns are
NaN for models without their own intervals). Two engines produce it:

- :class:`StatsForecastEngine` runs Nixtla statsforecast models (AutoETS, AutoARIMA,
  AutoTheta, MSTL, Croston, ADIDA, IMAPA, SeasonalNaive, ...) on every series at once.
  A model that fails on one series gives NaN there, not a crash and not statsforecast's
  silent fallback: the caller records the failure and uses the floor model instead.
- :class:`ProphetEngine` fits one Prophet model per series (Prophet has no panel mode),
  with country holidays from the offline ``holidays`` package.

The candidate sets per frequency and series profile are chosen in :func:`candidates`;
docs/forecasting.md says why each is there.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from custintel.errors import ConfigError

# statsforecast compiles its numba kernels on first use; caching them on disk makes the
# second run of the CLI start in a second instead of ten.
os.environ.setdefault("NIXTLA_NUMBA_CACHE", "1")

__all__ = [
    "LEVELS",
    "MODEL_NAMES",
    "PANDAS_FREQ",
    "SEASON",
    "Engine",
    "ProphetEngine",
    "StatsForecastEngine",
    "candidates",
    "engines_for",
    "floor_model",
]

LEVELS = (80, 95)
# Our periods start on the day, the Monday of the week, the first of the month.
PANDAS_FREQ = {"D": "D", "W": "W-MON", "M": "MS"}
# The main seasonal period of each frequency (a week of days, a year of weeks or months).
SEASON = {"D": 7, "W": 52, "M": 12}
YEAR = {"D": 365, "W": 52, "M": 12}
PARALLEL_FROM_SERIES = 50

# Names a user can ask for (--models); "default" is the measured set per frequency.
MODEL_NAMES = (
    "SeasonalNaive",
    "Naive",
    "HistoricAverage",
    "AutoETS",
    "SES",
    "AutoARIMA",
    "AutoTheta",
    "MSTL",
    "CrostonOptimized",
    "ADIDA",
    "IMAPA",
    "Prophet",
)
INTERMITTENT = ("CrostonOptimized", "ADIDA", "IMAPA")


def interval_columns(name: str) -> list[str]:
    return [f"{name}-{side}-{level}" for level in LEVELS for side in ("lo", "hi")]


class Engine(Protocol):
    """What the backtest and the final fit need from a family of models."""

    names: list[str]

    def cross_validation(
        self, panel: pd.DataFrame, h: int, n_windows: int, step_size: int
    ) -> pd.DataFrame: ...

    def forecast(self, panel: pd.DataFrame, h: int) -> pd.DataFrame: ...


# --- statsforecast -----------------------------------------------------------------------


def _nan_result(h: int, level: Sequence[int] | None, fitted: bool, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"mean": np.full(h, np.nan)}
    for lv in level or ():
        out[f"lo-{lv}"] = np.full(h, np.nan)
        out[f"hi-{lv}"] = np.full(h, np.nan)
    if fitted:
        out["fitted"] = np.full(n, np.nan)
    return out


class _Guarded:
    """A statsforecast model that gives NaN instead of raising when it fails on a series.

    statsforecast's own ``fallback_model`` swaps in another model silently; we need to
    know which series a model failed on, so the failure shows as NaN and the caller
    records it and uses the floor model.
    """

    def __init__(self, model: Any):
        self.model = model
        self.alias = model.alias

    def __getattr__(self, name: str) -> Any:
        # Everything but forecast() is the wrapped model's (uses_exog, prediction_intervals).
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def new(self) -> _Guarded:
        return type(self)(self.model.new())

    def __repr__(self) -> str:
        return self.alias

    def _run(self, y: np.ndarray, h: int, kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            # Convergence notes of the optimisers are not failures; a NaN result is.
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = self.model.forecast(y=y, h=h, **kwargs)
        except Exception:
            return _nan_result(h, kwargs.get("level"), kwargs.get("fitted", False), len(y))
        if not np.all(np.isfinite(result["mean"])):
            return _nan_result(h, kwargs.get("level"), kwargs.get("fitted", False), len(y))
        return dict(result)


class _GuardedWithLevels(_Guarded):
    def forecast(
        self,
        y: np.ndarray,
        h: int,
        X: Any = None,
        X_future: Any = None,
        level: list[int] | None = None,
        fitted: bool = False,
    ) -> dict[str, Any]:
        return self._run(y, h, {"X": X, "X_future": X_future, "level": level, "fitted": fitted})


class _GuardedPoint(_Guarded):
    def forecast(
        self,
        y: np.ndarray,
        h: int,
        X: Any = None,
        X_future: Any = None,
        fitted: bool = False,
    ) -> dict[str, Any]:
        return self._run(y, h, {"X": X, "X_future": X_future, "fitted": fitted})


def _guard(model: Any) -> _Guarded:
    import inspect

    has_levels = "level" in inspect.signature(model.forecast).parameters
    return _GuardedWithLevels(model) if has_levels else _GuardedPoint(model)


def _statsforecast_model(name: str, freq: str, seasonal: bool, n: int) -> Any:
    """One statsforecast model, set up for ``freq`` (``seasonal``: the series has at
    least two seasons; ``n``: the shortest series length, for MSTL's periods)."""
    from statsforecast import models as sf

    m = SEASON[freq] if seasonal else 1
    if name == "SeasonalNaive":
        return sf.SeasonalNaive(season_length=m)
    if name == "Naive":
        return sf.Naive()
    if name == "HistoricAverage":
        return sf.HistoricAverage()
    if name == "AutoETS":
        # ETS seasonality needs the period to be at most 24 (statsforecast, like R's
        # forecast, refuses longer ones): weekly data gets a non-seasonal ETS, and MSTL
        # handles the year.
        return sf.AutoETS(season_length=m if m <= 24 else 1)
    if name == "SES":
        return sf.AutoETS(model="ANN")
    if name == "AutoARIMA":
        return sf.AutoARIMA(season_length=m if m <= 24 else 1)
    if name == "AutoTheta":
        return sf.AutoTheta(season_length=m)
    if name == "MSTL":
        periods = [m]
        if freq == "D" and n >= 2 * YEAR["D"] + 1:
            periods.append(YEAR["D"])
        return sf.MSTL(
            season_length=periods if len(periods) > 1 else m,
            # Additive-error ETS choosing among no, linear and damped trend: half the
            # fits of "ZZN" and, on the benchmarks, the same accuracy.
            trend_forecaster=sf.AutoETS(model="AZN"),
        )
    if name == "CrostonOptimized":
        return sf.CrostonOptimized()
    if name == "ADIDA":
        return sf.ADIDA()
    if name == "IMAPA":
        return sf.IMAPA()
    raise ConfigError(
        f"model {name!r} is not known", hint=f"use one of {', '.join(MODEL_NAMES)} or default"
    )


class StatsForecastEngine:
    """statsforecast models on a panel, every series at once."""

    def __init__(self, names: Sequence[str], freq: str, *, seasonal: bool, min_length: int):
        self.names = list(names)
        self.freq = freq
        self._models = [_guard(_statsforecast_model(n, freq, seasonal, min_length)) for n in names]
        for model, name in zip(self._models, self.names, strict=True):
            model.alias = name
            model.model.alias = name

    def _engine(self, panel: pd.DataFrame) -> Any:
        from statsforecast import StatsForecast

        # Worker processes pay off from a few dozen series; below, their start-up costs
        # more than it saves.
        many = panel["unique_id"].nunique() >= PARALLEL_FROM_SERIES
        jobs = min(os.cpu_count() or 1, 4) if many else 1
        return StatsForecast(models=self._models, freq=PANDAS_FREQ[self.freq], n_jobs=jobs)

    def _levels_for(self, frame: pd.DataFrame) -> pd.DataFrame:
        for name in self.names:
            for column in interval_columns(name):
                if column not in frame:
                    frame[column] = np.nan
        return frame

    def cross_validation(
        self, panel: pd.DataFrame, h: int, n_windows: int, step_size: int
    ) -> pd.DataFrame:
        frame = self._engine(panel).cross_validation(
            df=panel, h=h, n_windows=n_windows, step_size=step_size, level=list(LEVELS)
        )
        return self._levels_for(frame)

    def forecast(self, panel: pd.DataFrame, h: int) -> pd.DataFrame:
        frame = self._engine(panel).forecast(df=panel, h=h, level=list(LEVELS))
        return self._levels_for(frame)


# --- Prophet -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProphetSettings:
    """Prophet's options that users tune (``[forecasting.prophet]`` in custintel.toml);
    the defaults are Prophet's own, with the United States' public holidays."""

    seasonality_mode: Literal["additive", "multiplicative"] = "additive"
    changepoint_prior_scale: float = 0.05
    country_holidays: str | None = "US"

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> ProphetSettings:
        """Settings from the TOML table, with a clear error for an unknown key or value."""
        options = dict(options or {})
        unknown = set(options) - {"seasonality_mode", "changepoint_prior_scale", "country_holidays"}
        if unknown:
            raise ConfigError(
                f"[forecasting.prophet] has unknown keys {sorted(unknown)}",
                hint="use seasonality_mode, changepoint_prior_scale, country_holidays",
            )
        mode = options.get("seasonality_mode", "additive")
        if mode not in ("additive", "multiplicative"):
            raise ConfigError(
                f"[forecasting.prophet] seasonality_mode={mode!r} should be additive or "
                "multiplicative"
            )
        country = options.get("country_holidays", "US") or None
        if country is not None:
            import holidays

            if country not in holidays.list_supported_countries():
                raise ConfigError(
                    f"[forecasting.prophet] country_holidays={country!r} is not a country code "
                    "the holidays package knows",
                    hint='an ISO 3166 code such as US, GB, DE, ES, or "" for none',
                )
        return cls(mode, float(options.get("changepoint_prior_scale", 0.05)), country)


def _quiet_prophet() -> None:
    """Prophet says at import that plotly is missing (we do not plot with it) and
    cmdstanpy logs every fit at INFO with its own handler; neither is the user's news."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("cmdstanpy").disabled = True


class ProphetEngine:
    """One Prophet model per series and cutoff.

    Yearly seasonality when the data spans two years, weekly seasonality on daily data,
    country holidays from the ``holidays`` package (no download). Prophet's intervals
    come from its own simulation of trend changes and noise (``uncertainty_samples``).
    """

    def __init__(self, freq: str, settings: ProphetSettings | None = None, samples: int = 300):
        self.names = ["Prophet"]
        self.freq = freq
        self.settings = settings or ProphetSettings()
        self.samples = samples

    def _fit_predict(self, history: pd.DataFrame, future: pd.DatetimeIndex) -> pd.DataFrame:
        """Prophet's forecast and bounds for ``future``; NaN where Prophet fails (the
        caller records it as a failed candidate, as for statsforecast's models)."""
        out = pd.DataFrame({"ds": future, "Prophet": np.nan})
        for column in interval_columns("Prophet"):
            out[column] = np.nan
        try:
            # Prophet's own code trips pandas deprecation notes; they are not ours to fix.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = self._fit(history)
                for level in LEVELS:
                    # One fit; each width is one more predict of the same model.
                    model.interval_width = level / 100
                    predicted = model.predict(pd.DataFrame({"ds": future}))
                    out["Prophet"] = predicted["yhat"].to_numpy()
                    out[f"Prophet-lo-{level}"] = predicted["yhat_lower"].to_numpy()
                    out[f"Prophet-hi-{level}"] = predicted["yhat_upper"].to_numpy()
        except Exception:
            return out.assign(**{c: np.nan for c in out.columns if c != "ds"})
        return out

    def _fit(self, history: pd.DataFrame) -> Any:
        _quiet_prophet()
        from prophet import Prophet

        _quiet_prophet()  # cmdstanpy sets its own level when imported
        span = (history["ds"].iloc[-1] - history["ds"].iloc[0]).days
        model = Prophet(
            yearly_seasonality=span >= 2 * 365,
            weekly_seasonality=self.freq == "D",
            daily_seasonality=False,
            seasonality_mode=self.settings.seasonality_mode,
            changepoint_prior_scale=self.settings.changepoint_prior_scale,
            uncertainty_samples=self.samples,
        )
        if self.settings.country_holidays:
            model.add_country_holidays(self.settings.country_holidays)
        return model.fit(history[["ds", "y"]])

    def _future(self, last: pd.Timestamp, h: int) -> pd.DatetimeIndex:
        return pd.date_range(last, periods=h + 1, freq=PANDAS_FREQ[self.freq])[1:]

    def cross_validation(
        self, panel: pd.DataFrame, h: int, n_windows: int, step_size: int
    ) -> pd.DataFrame:
        out = []
        for uid, series in panel.groupby("unique_id", sort=False):
            n = len(series)
            for w in range(n_windows):
                end = n - h - (n_windows - 1 - w) * step_size
                train, test = series.iloc[:end], series.iloc[end : end + h]
                predicted = self._fit_predict(train, pd.DatetimeIndex(test["ds"]))
                predicted.insert(0, "unique_id", uid)
                predicted["cutoff"] = train["ds"].iloc[-1]
                predicted["y"] = test["y"].to_numpy()
                out.append(predicted)
        return pd.concat(out, ignore_index=True)

    def forecast(self, panel: pd.DataFrame, h: int) -> pd.DataFrame:
        out = []
        for uid, series in panel.groupby("unique_id", sort=False):
            predicted = self._fit_predict(series, self._future(series["ds"].iloc[-1], h))
            predicted.insert(0, "unique_id", uid)
            out.append(predicted)
        return pd.concat(out, ignore_index=True)


# --- choosing the candidates ----------------------------------------------------------------


def candidates(freq: str, *, seasonal: bool, intermittent: bool) -> list[str]:
    """The default candidate models for a group of series (measured in docs/accuracy.md).

    - monthly: SeasonalNaive, AutoETS, AutoTheta, MSTL;
    - daily: SeasonalNaive, AutoTheta, MSTL (week, and year from two years on), SES
      (seasonal AutoETS costs 0.9 s a fit on 500 days and did not help on CDNOW);
    - weekly (a 52-week year is too long for ETS seasonality): SeasonalNaive, MSTL
      (year) with an ETS trend, and simple exponential smoothing (SES);
    - fewer than two seasons of history: Naive, HistoricAverage, AutoETS (non-seasonal);
    - sparse series (many zero periods) add CrostonOptimized, ADIDA and IMAPA.

    AutoARIMA and Prophet are not in the default set: AutoARIMA costs 0.4-0.8 s a fit
    here (ten times AutoETS) and Prophet 0.3 s, and neither made the selection more
    accurate on the real series of docs/accuracy.md; ask for them with
    ``--models default,AutoARIMA,Prophet``.
    """
    if not seasonal:
        names = ["Naive", "HistoricAverage", "AutoETS"]
    elif freq == "W":
        names = ["SeasonalNaive", "MSTL", "SES"]
    elif freq == "D":
        names = ["SeasonalNaive", "AutoTheta", "MSTL", "SES"]
    else:
        names = ["SeasonalNaive", "AutoETS", "AutoTheta", "MSTL"]
    if intermittent:
        names += list(INTERMITTENT)
    return names


def floor_model(seasonal: bool) -> str:
    """The model every other is compared with, and the fallback when one fails."""
    return "SeasonalNaive" if seasonal else "Naive"


def expand_models(
    requested: Sequence[str] | None, freq: str, *, seasonal: bool, intermittent: bool
) -> list[str]:
    """The candidate names for a group: ``requested`` with ``default`` expanded; the floor
    model is always included (it is the comparison and the fallback)."""
    names: list[str] = []
    for name in requested or ["default"]:
        if name.lower() == "default":
            names += candidates(freq, seasonal=seasonal, intermittent=intermittent)
        else:
            match = {n.lower(): n for n in MODEL_NAMES}.get(name.lower())
            if match is None:
                raise ConfigError(
                    f"model {name!r} is not known",
                    hint=f"use default or any of {', '.join(MODEL_NAMES)}",
                )
            names.append(match)
    floor = floor_model(seasonal)
    if floor not in names:
        names.insert(0, floor)
    if not seasonal:
        # Seasonal models on fewer than two seasons: their non-seasonal twins stand in.
        names = [n if n not in ("SeasonalNaive", "MSTL") else "Naive" for n in names]
    return list(dict.fromkeys(names))


def engines_for(
    names: Sequence[str],
    freq: str,
    *,
    seasonal: bool,
    min_length: int,
    prophet: ProphetSettings | None = None,
) -> list[Engine]:
    """The engines that run ``names``: one statsforecast engine for all its models, and
    Prophet's own."""
    engines: list[Engine] = []
    stats = [n for n in names if n != "Prophet"]
    if stats:
        engines.append(StatsForecastEngine(stats, freq, seasonal=seasonal, min_length=min_length))
    if "Prophet" in names:
        engines.append(ProphetEngine(freq, prophet))
    return engines
