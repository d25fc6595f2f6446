"""Churn probabilities that are calibrated and keep the model's ranking.

Isotonic regression (the usual non-parametric calibration) maps scores to a step
function: every customer in one block gets the same probability, so a model's ranking
inside the block is lost and ROC-AUC drops (on CDNOW's holdout, BTYD's churn AUC fell
from 0.763 by raw score to 0.756 after isotonic calibration). Centered isotonic
regression (Oron & Flournoy, 2017) keeps the isotonic fit but interpolates linearly
between the centre of each block (its mean score, its fitted rate), which makes the map
strictly increasing inside the range of the calibration scores, and so keeps ranks
there. scikit-learn fits the isotonic steps; this module only places the centres.

The lowest block's level can be exactly 0 (none of its customers churned) and the
highest's exactly 1; served as they are, a handful of customers would be told "0 %" or
"100 %" churn (on the fictional Superstore export, 3 customers at 100 % who all came
back). Those two levels take the posterior mean under Jeffreys' prior instead, 0.5 /
(n + 1) for a block of n customers with no churner (1 minus it with no active one),
kept below half the next level so the map stays strictly increasing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

__all__ = ["CenteredIsotonic"]


class CenteredIsotonic:
    """Monotone calibration ``score -> probability``: isotonic blocks, joined at their
    centres by straight lines; flat (clipped) beyond the first and last centre."""

    def fit(self, score: np.ndarray, outcome: np.ndarray) -> CenteredIsotonic:
        """Fit on raw scores and 0/1 outcomes (higher score, more likely 1)."""
        score = np.asarray(score, float)
        steps = IsotonicRegression(out_of_bounds="clip").fit_transform(score, outcome)
        # A block is a run of equal fitted values; its centre is the mean score in it.
        levels, block = np.unique(steps, return_inverse=True)
        sizes = np.bincount(block)
        self.centres_ = np.bincount(block, weights=score) / sizes
        self.levels_ = _off_the_bounds(levels.astype(float), sizes)
        return self

    def predict(self, score: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw scores."""
        return np.interp(np.asarray(score, float), self.centres_, self.levels_)

    def to_dict(self) -> dict[str, list[float]]:
        """The centres and their levels, as JSON-able lists."""
        return {"centres": self.centres_.tolist(), "levels": self.levels_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CenteredIsotonic:
        """The map :meth:`to_dict` stored."""
        fitted = cls()
        fitted.centres_ = np.asarray(data["centres"], float)
        fitted.levels_ = np.asarray(data["levels"], float)
        return fitted


def _off_the_bounds(levels: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The block levels with an end level of exactly 0 or 1 replaced by Jeffreys'
    posterior mean for its block, and kept strictly inside its neighbour's level."""
    levels = levels.copy()
    if levels[0] <= 0.0:
        shrunk = 0.5 / (sizes[0] + 1)
        levels[0] = min(shrunk, levels[1] / 2) if len(levels) > 1 else shrunk
    if levels[-1] >= 1.0:
        shrunk = 0.5 / (sizes[-1] + 1)
        levels[-1] = 1 - (min(shrunk, (1 - levels[-2]) / 2) if len(levels) > 1 else shrunk)
    return levels
