"""From sales series to the panel the models see, with a profile and warnings per series.

Odd histories are named here, before any model runs: a series that starts late is cut
to its first sale; one with fewer than two seasons gets non-seasonal models; a constant
or all-zero series gets its constant; a single huge outlier is capped for fitting; a
sparse series (many zero periods) adds the intermittent-demand models. Each case leaves
a warning in the output instead of a crash or a silent guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from custintel.forecasting.models import SEASON

__all__ = ["SeriesProfile", "build_panel", "profile_series"]

# A period more than this many robust standard deviations (1.4826 · MAD) above the
# median is an outlier. Holiday peaks in retail reach 10-15 (Walmart's Christmas weeks);
# a data-entry error or a one-off bulk order is far beyond.
OUTLIER_Z = 25.0
# At most this share of a series' periods may be capped; more is a pattern, not noise.
MAX_OUTLIER_SHARE = 0.02
# Sparse (intermittent) demand: at least this share of periods without sales. Syntetos
# and Boylan's ADI > 1.32 threshold corresponds to about a quarter of periods empty.
INTERMITTENT_ZERO_SHARE = 0.25
# At most this share of negative periods, and a series still counts as non-negative.
MAX_NEGATIVE_SHARE = 0.05


@dataclass
class SeriesProfile:
    """What the panel builder found about one series."""

    series: str
    length: int
    start: date
    seasonal: bool
    intermittent: bool
    constant: float | None  # the value of a constant series, else None
    nonnegative: bool
    warnings: list[str] = field(default_factory=list)


def profile_series(
    name: str, ds: pd.Series, y: np.ndarray, freq: str
) -> tuple[SeriesProfile, pd.Series, np.ndarray]:
    """Profile one series and return it cleaned for fitting (trimmed, outliers capped)."""
    warnings: list[str] = []
    nonzero = np.flatnonzero(y != 0)
    if len(nonzero) == 0:
        profile = SeriesProfile(name, len(y), ds.iloc[0].date(), False, False, 0.0, True)
        profile.warnings.append("no sales in the whole history: the forecast is 0")
        return profile, ds, y
    first = int(nonzero[0])
    if first > 0:
        warnings.append(
            f"starts late: first sale in the period of {ds.iloc[first].date()}, "
            f"{first} empty periods before it are left out"
        )
        ds, y = ds.iloc[first:].reset_index(drop=True), y[first:]
    y = y.astype(float).copy()
    m = SEASON[freq]
    seasonal = len(y) >= 2 * m
    if not seasonal:
        warnings.append(
            f"only {len(y)} periods, fewer than two seasons ({2 * m}): seasonal models are not used"
        )
    # Revenue net of returns dips below zero in a rare month of a small shop; that does
    # not make a negative forecast plausible. A series whose periods are negative more
    # often than that (net refunds, adjustments) may be forecast negative.
    nonnegative = bool(np.mean(y < 0) <= MAX_NEGATIVE_SHARE)
    if np.all(y == y[0]):
        profile = SeriesProfile(
            name, len(y), ds.iloc[0].date(), seasonal, False, float(y[0]), bool(y[0] >= 0)
        )
        profile.warnings = [*warnings, f"constant at {y[0]:g}: the forecast is that constant"]
        return profile, ds, y
    intermittent = float(np.mean(y == 0)) >= INTERMITTENT_ZERO_SHARE
    if intermittent:
        warnings.append(
            f"sparse: {np.mean(y == 0):.0%} of periods have no sales; "
            "intermittent-demand models are candidates"
        )
    else:
        warnings += _cap_outliers(ds, y)
    profile = SeriesProfile(
        name, len(y), ds.iloc[0].date(), seasonal, intermittent, None, nonnegative, warnings
    )
    return profile, ds, y


def _cap_outliers(ds: pd.Series, y: np.ndarray) -> list[str]:
    """Cap (in place) the few periods far above the rest at the largest ordinary value."""
    median = float(np.median(y))
    spread = 1.4826 * float(np.median(np.abs(y - median)))
    if spread <= 0:
        return []
    z = (y - median) / spread
    outliers = np.flatnonzero(np.abs(z) > OUTLIER_Z)
    if len(outliers) == 0 or len(outliers) > max(1, MAX_OUTLIER_SHARE * len(y)):
        return []
    ordinary = np.delete(y, outliers)
    low, high = float(ordinary.min()), float(ordinary.max())
    warnings = []
    for i in outliers:
        capped = min(max(y[i], low), high)
        warnings.append(
            f"outlier in the period of {ds.iloc[i].date()}: {y[i]:,.2f} is "
            f"{abs(z[i]):.0f} robust SDs from the median; capped at {capped:,.2f} for fitting"
        )
        y[i] = capped
    return warnings


def build_panel(frame: pd.DataFrame, freq: str) -> tuple[pd.DataFrame, dict[str, SeriesProfile]]:
    """``frame`` (series, period, value) → the cleaned panel (unique_id, ds, y) of the
    series that need models, and every series' profile (constant ones have no rows)."""
    parts, profiles = [], {}
    for name, group in frame.groupby("series", sort=True):
        group = group.sort_values("period")
        ds = pd.to_datetime(group["period"]).reset_index(drop=True)
        profile, ds, y = profile_series(str(name), ds, group["value"].to_numpy(float), freq)
        profiles[profile.series] = profile
        if profile.constant is None:
            parts.append(pd.DataFrame({"unique_id": profile.series, "ds": ds, "y": y}))
    panel = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({"unique_id": [], "ds": pd.to_datetime([]), "y": []})
    )
    return panel, profiles
