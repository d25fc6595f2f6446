"""Prediction intervals: coverage on simulated series, conformal calibration on residuals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from custintel.forecasting import forecast_panel
from custintel.forecasting.intervals import apply_intervals, calibrate, conformal_quantile

# Standard normal quantiles: P(|Z| <= Z80) = 0.80, P(|Z| <= Z95) = 0.95.
Z80, Z95 = 1.2815515655446004, 1.959963984540054
CUTOFFS = pd.to_datetime(["2024-01-01", "2024-05-01", "2024-09-01"])  # 3 windows of 4


def ar1(rng: np.random.Generator, n: int, phi: float = 0.6, mean: float = 100.0) -> np.ndarray:
    """A stationary AR(1) around ``mean`` with innovations of SD 8."""
    sd = 8.0
    y = np.empty(n)
    y[0] = mean + rng.normal(0, sd / math.sqrt(1 - phi**2))
    for t in range(1, n):
        y[t] = mean + phi * (y[t - 1] - mean) + rng.normal(0, sd)
    return y


def test_backtest_coverage_of_simulated_series_is_near_nominal() -> None:
    # 40 series of 80 weeks (under two years: the quick non-seasonal candidates).
    rng = np.random.default_rng(21)
    dates = pd.date_range("2023-01-02", periods=80, freq="W-MON")
    frame = pd.concat(
        [
            pd.DataFrame({"series": f"s{i:02d}", "period": dates, "value": ar1(rng, 80)})
            for i in range(40)
        ],
        ignore_index=True,
    )
    result = forecast_panel(frame, freq="W", horizon=4)
    accuracy = result.accuracy()
    assert accuracy["series_backtested"] == 40
    # 40 series x 3 windows x 4 weeks = 480 pooled points: the binomial SD at 80 % is
    # under 2 points, windows share their origin so the real spread is wider, and the
    # calibration itself accepts native intervals anywhere in 75-85 %. Bands: +-10 points
    # at 80 %, and 88-99 % at 95 % (the 90-98 % band the calibration accepts, widened).
    assert 0.70 <= accuracy["coverage_80"] <= 0.90, accuracy
    assert 0.88 <= accuracy["coverage_95"] <= 0.99, accuracy
    # Every model's calibration says which intervals it uses, and how well they held.
    for model, levels in result.calibration.items():
        for level in (80, 95):
            setting = levels[level]
            assert setting["method"] in ("native", "conformal"), model
            if setting["method"] == "conformal":
                assert setting["multiplier"] > 0, model
    out = result.forecasts
    assert (out["lower_95"] <= out["lower_80"]).all() and (out["upper_80"] <= out["upper_95"]).all()
    assert ((out["lower_80"] <= out["forecast"]) & (out["forecast"] <= out["upper_80"])).all()


def test_the_80_band_lies_inside_the_95_band_on_a_short_history() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(30)
    values = 150 - 4 * t + rng.normal(0, 3, 30)
    dates = pd.date_range("2021-01-01", periods=30, freq="MS")
    frame = pd.DataFrame({"series": "s", "period": dates, "value": values})
    out = forecast_panel(frame, freq="M", horizon=6).forecasts
    assert len(out) == 6
    assert (out["lower_95"] <= out["lower_80"]).all()
    assert (out["upper_80"] <= out["upper_95"]).all(), out[["upper_80", "upper_95"]]


def test_conformal_quantile_on_hand_computed_scores() -> None:
    scores = np.arange(1.0, 11.0)  # 1 .. 10
    assert conformal_quantile(scores, 80) == 9.0  # ceil(11 * 0.8) = 9th smallest
    assert conformal_quantile(scores, 95) == 10.0  # ceil(11 * 0.95) = 11 > 10: the largest
    assert conformal_quantile(scores[::-1].copy(), 80) == 9.0  # order does not matter
    # non-finite scores (failed forecasts) are left out: 3 scores remain, ceil(4*0.5) = 2
    assert conformal_quantile(np.array([np.nan, 3.0, 1.0, np.inf, 2.0]), 50) == 2.0
    assert math.isnan(conformal_quantile(np.array([np.nan]), 80))


def test_conformal_quantile_covers_new_scores_at_least_at_the_level() -> None:
    # Split-conformal guarantee: a new exchangeable score falls at or below the quantile
    # of n others with probability >= level; with n = 19 exactly 16/20 = 80 % (the 16th
    # of 19). Over 4,000 trials the binomial SD is 0.6 points: the band is 4 SDs wide on
    # each side, and one rank off (15/20 or 17/20) is 8 SDs out.
    rng = np.random.default_rng(22)
    trials = rng.exponential(size=(4000, 20))
    held = [trial[-1] <= conformal_quantile(trial[:-1], 80) for trial in trials]
    assert 0.775 <= np.mean(held) <= 0.825


def residual_frame(
    rng: np.random.Generator, model: str, width: float | None, n_series: int = 200
) -> pd.DataFrame:
    """Backtest rows of ``model`` on ``n_series`` series (3 windows x 4 points): errors
    N(0, sd) with a different sd per series, the model's own intervals ``width`` times
    the right ones (``None``: no intervals), the series' scale its sd."""
    sd = np.repeat(rng.uniform(5, 50, n_series), 12)
    error = rng.normal(0, sd)
    yhat = 100.0 + np.zeros_like(sd)
    frame = pd.DataFrame(
        {
            "model": model,
            "unique_id": np.repeat([f"s{i:03d}" for i in range(n_series)], 12),
            "cutoff": np.tile(np.repeat(CUTOFFS, 4), n_series),
            "y": yhat + error,
            "yhat": yhat,
            "scale": sd,
        }
    )
    for level, z in ((80, Z80), (95, Z95)):
        half = np.nan if width is None else width * z * sd
        frame[f"lo_{level}"] = yhat - half
        frame[f"hi_{level}"] = yhat + half
    return frame


@pytest.fixture(scope="module")
def calibrated() -> tuple[dict, pd.DataFrame]:
    rng = np.random.default_rng(23)
    long = pd.concat(
        [
            residual_frame(rng, "narrow", 0.3),  # own intervals a third of the right width
            residual_frame(rng, "right", 1.0),
            residual_frame(rng, "wide", 3.0),
            residual_frame(rng, "pointonly", None),
        ],
        ignore_index=True,
    )
    return calibrate(long)


def test_intervals_far_too_narrow_are_replaced_by_conformal_ones(calibrated) -> None:
    calibration, long = calibrated
    for level in (80, 95):
        setting = calibration["narrow"][level]
        assert setting["method"] == "conformal"
        assert setting["native_coverage"] < 0.5  # 0.3 of the width holds far too little
        # scores are |error| / (0.3 * right half-width): their level-quantile is 1/0.3
        assert setting["multiplier"] == pytest.approx(1 / 0.3, rel=0.08)
        # 2,400 points: the leave-a-window-out coverage is within 3 points of nominal
        assert setting["coverage"] == pytest.approx(level / 100, abs=0.03)
        # ``coverage`` is measured on the rows the selection would have published; on
        # these alike series every row of the model covers alike.
        rows = long[long["model"] == "narrow"]
        assert rows[f"covered_{level}"].mean() == pytest.approx(level / 100, abs=0.03)


def test_intervals_within_the_band_stay_native(calibrated) -> None:
    calibration, long = calibrated
    for level in (80, 95):
        setting = calibration["right"][level]
        assert setting["method"] == "native"
        assert setting["multiplier"] is None
        assert setting["coverage"] == pytest.approx(setting["native_coverage"])
        assert setting["coverage"] == pytest.approx(level / 100, abs=0.03)
    rows = long[long["model"] == "right"]
    held = (rows["y"] >= rows["lo_80"]) & (rows["y"] <= rows["hi_80"])
    assert (rows["covered_80"] == held).all()


def test_intervals_far_too_wide_are_narrowed(calibrated) -> None:
    calibration, _ = calibrated
    setting = calibration["wide"][80]
    assert setting["method"] == "conformal"
    assert setting["native_coverage"] > 0.98
    assert setting["multiplier"] == pytest.approx(1 / 3, rel=0.08)


def test_a_model_without_intervals_gets_them_from_the_series_scale(calibrated) -> None:
    calibration, _ = calibrated
    for level, z in ((80, Z80), (95, Z95)):
        setting = calibration["pointonly"][level]
        assert setting["method"] == "conformal"
        assert setting["native_coverage"] is None
        # scores are |error| / sd: the quantile of |N(0, 1)|
        assert setting["multiplier"] == pytest.approx(z, rel=0.08)
        assert setting["coverage"] == pytest.approx(level / 100, abs=0.03)


def test_apply_intervals_uses_the_calibration_per_model(calibrated) -> None:
    calibration, _ = calibrated
    dates = pd.date_range("2025-01-01", periods=2, freq="MS")
    rows = []
    for model, half in (("narrow", 3.0), ("right", 3.0), ("pointonly", np.nan), ("new", 3.0)):
        rows.append(
            pd.DataFrame(
                {
                    "model": model,
                    "unique_id": "s",
                    "ds": dates,
                    "yhat": 50.0,
                    "lo_80": 50.0 - half,
                    "hi_80": 50.0 + half,
                    "lo_95": 50.0 - 2 * half,
                    "hi_95": 50.0 + 2 * half,
                    "scale": 10.0,
                }
            )
        )
    out = apply_intervals(pd.concat(rows, ignore_index=True), calibration).set_index("model")
    m80 = calibration["narrow"][80]["multiplier"]
    m95 = calibration["narrow"][95]["multiplier"]
    np.testing.assert_allclose(out.loc["narrow", "hi_80"], 50.0 + m80 * 3.0)
    np.testing.assert_allclose(out.loc["narrow", "lo_80"], 50.0 - m80 * 3.0)
    np.testing.assert_allclose(out.loc["narrow", "hi_95"], 50.0 + m95 * 6.0)
    np.testing.assert_allclose(out.loc["right", "hi_80"], 53.0)  # native: untouched
    np.testing.assert_allclose(out.loc["new", "lo_95"], 44.0)  # not calibrated: untouched
    mp = calibration["pointonly"][80]["multiplier"]
    np.testing.assert_allclose(out.loc["pointonly", "hi_80"], 50.0 + mp * 10.0)  # scale


def test_calibrating_on_the_chosen_series_keeps_nominal_coverage() -> None:
    """Four candidates with alike, partly shared errors on 400 alike series; each series
    chooses the candidate with the lowest backtest error (as the selection does). The
    calibrated intervals should then cover about 80 % of the chosen model's next errors
    on its series: those series' future errors are no smaller than any other's."""
    rng = np.random.default_rng(24)
    n_series, names = 400, ["A", "B", "C", "D"]
    common = rng.normal(size=(n_series, 12))
    errors = {m: math.sqrt(0.5) * (common + rng.normal(size=(n_series, 12))) for m in names}
    ids = [f"s{i:03d}" for i in range(n_series)]
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "model": m,
                    "unique_id": np.repeat(ids, 12),
                    "cutoff": np.tile(np.repeat(CUTOFFS, 4), n_series),
                    "y": e.ravel(),
                    "yhat": 0.0,
                    "lo_80": -0.5 * Z80,  # own intervals half the right width:
                    "hi_80": 0.5 * Z80,  # conformal ones replace them
                    "lo_95": -0.5 * Z95,
                    "hi_95": 0.5 * Z95,
                    "scale": 1.0,
                }
            )
            for m, e in errors.items()
        ],
        ignore_index=True,
    )
    calibration, _ = calibrate(long)
    future = np.abs(rng.normal(size=200_000))  # next errors: N(0, 1) on every series
    for m in names:
        setting = calibration[m][80]
        assert setting["method"] == "conformal"
        covered = float(np.mean(future <= setting["multiplier"] * 0.5 * Z80))
        # ~100 chosen series x 12 points per model: 4 points is about 3 SDs of the
        # quantile's sampling error.
        assert covered >= 0.76, (m, covered)
