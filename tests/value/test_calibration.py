"""Centered isotonic calibration: calibrated like isotonic, ranks kept."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from custintel.value.calibration import CenteredIsotonic


def simulated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A raw score whose true churn probability is a sigmoid of it."""
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    churned = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * score + 0.5))).astype(int)
    return score, churned


def test_probabilities_are_as_well_calibrated_as_isotonic_and_keep_the_ranking() -> None:
    score, churned = simulated(5000, seed=0)
    test_score, test_churned = simulated(20000, seed=1)
    centered = CenteredIsotonic().fit(score, churned).predict(test_score)
    steps = IsotonicRegression(out_of_bounds="clip").fit(score, churned).predict(test_score)
    truth = 1 / (1 + np.exp(-2 * test_score + 0.5))
    # close to the true probabilities, no worse than plain isotonic
    assert np.mean(np.abs(centered - truth)) < 0.03
    assert brier_score_loss(test_churned, centered) <= brier_score_loss(test_churned, steps) + 1e-3
    # inside the calibration range the map is strictly increasing: the ranking survives
    inside = (test_score > score.min() + 0.5) & (test_score < score.max() - 0.5)
    assert spearmanr(test_score[inside], centered[inside]).statistic > 0.9999
    assert roc_auc_score(test_churned, centered) > roc_auc_score(test_churned, steps)


def test_a_constant_outcome_gives_a_constant_probability_short_of_certainty() -> None:
    score = np.linspace(0, 1, 50)
    model = CenteredIsotonic().fit(score, np.ones(50, int))
    # 50 of 50 churned: Jeffreys' posterior mean, 1 - 0.5 / 51, not a certain 100 %
    np.testing.assert_allclose(model.predict(np.array([-1.0, 0.5, 2.0])), 1 - 0.5 / 51)
    nobody = CenteredIsotonic().fit(score, np.zeros(50, int))
    np.testing.assert_allclose(nobody.predict(np.array([0.5])), 0.5 / 51)


def test_no_customer_is_told_zero_or_certain_churn_and_the_order_holds() -> None:
    # the lowest 3 scores never churned, the highest 3 always did
    score = np.arange(20.0)
    churned = np.array([0, 0, 0] + [0, 1] * 7 + [1, 1, 1])
    model = CenteredIsotonic().fit(score, churned)
    probability = model.predict(np.array([-5.0, *score, 30.0]))
    assert probability.min() > 0 and probability.max() < 1
    assert probability[0] == model.levels_[0] and probability[-1] == model.levels_[-1]
    assert np.all(np.diff(model.levels_) > 0)
