"""How good a per-customer value prediction is, measured on what happened.

The set the issue names: RMSE and MAE of per-customer spend, Spearman correlation,
normalised Gini, the share of actual revenue captured by the top 10 % predicted,
decile-level error, aggregate revenue error, and for churn ROC-AUC, PR-AUC, the
Brier score and a reliability table (predicted against observed churn, bin by bin).
MAE is reported but never used to choose: predicting zero for everyone scores well on
it. Each ranking measure comes with a one-sided p-value (``spearman_p``, ``roc_auc_p``):
how likely a ranking at least this good would be if the prediction were unrelated to
what happened, so that a small shop's lucky-looking figure is not read as skill; and
the model chosen as the best of several on a window gets ``chosen_ranking_p``, which
allows for that choice. A next-order date is judged against knowing nothing of the
timing (``timing_p``). The candidates whose loss on the window is within its noise of
the chosen one's are named (``within_noise``): the choice between them is a tie.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.stats import mannwhitneyu, permutation_test, rankdata, spearmanr, ttest_1samp
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = [
    "chosen_ranking_p",
    "churn_metrics",
    "normalised_gini",
    "reliability_table",
    "spearman",
    "spend_metrics",
    "timing_errors",
    "timing_p",
    "within_noise",
]

# Equal-width bins of predicted probability in a reliability table.
RELIABILITY_BINS = 10
# Shuffles of the outcomes behind ``chosen_ranking_p`` (its smallest value is 1 / 1,000).
PERMUTATIONS = 999
# Below this many customers a Spearman p-value is exact (8! = 40,320 orderings at most).
EXACT_SPEARMAN_BELOW = 9
# A candidate whose mean loss exceeds the best one's by no more than this many standard
# errors of the per-customer difference is within noise of it (about 95 % two-sided).
NOISE_Z = 2.0


def _gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    order = np.lexsort((np.arange(len(actual)), -predicted))
    cumulative = np.cumsum(actual[order]) / actual.sum()
    return float(cumulative.sum() / len(actual) - (len(actual) + 1) / (2 * len(actual)))


def normalised_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of the prediction's ordering over the Gini of the perfect ordering (1 =
    ranks customers exactly by what they spent, 0 = no better than chance). NaN when
    there is nothing to rank: no spend, or every customer spent the same."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    if actual.sum() <= 0 or np.ptp(actual) == 0:
        return float("nan")
    return _gini(actual, predicted) / _gini(actual, actual)


def spearman(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Rank correlation and its one-sided p-value (against no positive correlation);
    NaN for both when either side is constant (no ranking to compare). Below
    ``EXACT_SPEARMAN_BELOW`` customers the p-value is exact, over every ordering of the
    predictions: scipy's t approximation gives three customers ranked in order p = 0,
    where one ordering in six does that by chance."""
    if len(actual) < 2 or np.ptp(actual) == 0 or np.ptp(predicted) == 0:
        return float("nan"), float("nan")
    result = spearmanr(actual, predicted, alternative="greater")
    if len(actual) >= EXACT_SPEARMAN_BELOW:
        return float(result.statistic), float(result.pvalue)
    outcome = rankdata(actual) - (len(actual) + 1) / 2
    ranks = rankdata(predicted)
    scale = np.linalg.norm(outcome) * np.linalg.norm(ranks - ranks.mean())

    def correlation(shuffled: np.ndarray, axis: int = -1) -> np.ndarray:
        return (shuffled - shuffled.mean(axis=axis, keepdims=True)) @ outcome / scale

    exact = permutation_test(
        (ranks,),
        correlation,
        permutation_type="pairings",
        n_resamples=np.inf,
        alternative="greater",
        vectorized=True,
    )
    return float(result.statistic), float(exact.pvalue)


def spend_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Per-customer and aggregate accuracy of predicted spend (same units)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    error = predicted - actual
    n = len(actual)
    ranked = np.argsort(-predicted, kind="stable")  # highest prediction first
    top = ranked[: max(1, n // 10)]
    deciles = np.array_split(ranked, 10)
    decile_actual = np.array([actual[d].sum() for d in deciles])
    decile_predicted = np.array([predicted[d].sum() for d in deciles])
    total = actual.sum()
    rho, rho_p = spearman(actual, predicted)
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "spearman": rho,
        "spearman_p": rho_p,
        "normalised_gini": normalised_gini(actual, predicted),
        "top_decile_capture": float(actual[top].sum() / total) if total > 0 else float("nan"),
        # Mean absolute gap between predicted and actual revenue per decile of the
        # prediction, as a share of the actual total.
        "decile_error": float(np.abs(decile_predicted - decile_actual).sum() / total)
        if total > 0
        else float("nan"),
        "aggregate_error": float(predicted.sum() / total - 1) if total > 0 else float("nan"),
    }


def churn_metrics(churned: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Ranking (ROC-AUC, PR-AUC) and calibration (Brier) of churn probabilities.

    ``roc_auc_p`` is the one-sided Mann-Whitney p-value of the ROC-AUC (which is the
    Mann-Whitney U of churned against active customers over the product of their
    counts): the chance of an AUC at least this high from probabilities unrelated to
    churn."""
    churned = np.asarray(churned, bool)
    probability = np.asarray(probability, float)
    both = churned.any() and (~churned).any()
    p_value = float("nan")
    if both:
        test = mannwhitneyu(probability[churned], probability[~churned], alternative="greater")
        p_value = float(test.pvalue)
    return {
        "roc_auc": float(roc_auc_score(churned, probability)) if both else float("nan"),
        "roc_auc_p": p_value,
        "pr_auc": float(average_precision_score(churned, probability)) if both else float("nan"),
        "brier": float(brier_score_loss(churned, np.clip(probability, 0, 1))),
        "churn_rate": float(churned.mean()),
        "customers": float(len(churned)),
    }


def reliability_table(
    churned: np.ndarray, probability: np.ndarray, bins: int = RELIABILITY_BINS
) -> list[dict[str, float]]:
    """Calibration bin by bin: the predicted probabilities cut into ``bins`` equal-width
    bins of [0, 1] (the last one closed), and for each bin that holds customers its
    edges, how many, the mean predicted probability and the share that churned. Well
    calibrated probabilities have ``observed`` close to ``predicted`` in every bin with
    enough customers; the Brier score folds these gaps and the spread of the
    probabilities into one number. scikit-learn's
    ``calibration_curve`` gives the two means but not the counts, without which a
    reader cannot tell a bin of 3 customers from one of 3,000."""
    churned = np.asarray(churned, bool)
    probability = np.clip(np.asarray(probability, float), 0, 1)
    if bins < 1:
        raise ValueError(f"bins={bins} should be at least 1")
    edges = np.round(np.linspace(0, 1, bins + 1), 6)
    which = np.clip(np.searchsorted(edges, probability, side="right") - 1, 0, bins - 1)
    rows = []
    for k in range(bins):
        inside = which == k
        count = int(inside.sum())
        if count:
            rows.append(
                {
                    "low": float(edges[k]),
                    "high": float(edges[k + 1]),
                    "customers": float(count),
                    "predicted": float(probability[inside].mean()),
                    "observed": float(churned[inside].mean()),
                }
            )
    return rows


def chosen_ranking_p(
    actual: np.ndarray,
    predictions: dict[str, np.ndarray],
    chosen: str,
    *,
    measure: Literal["spearman", "roc_auc"],
    plain_p: float,
    settled_below: float,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> float:
    """The one-sided p-value of ``chosen``'s ranking of customers, allowing for its
    having been chosen among ``predictions`` for the lowest squared error (RMSE, or the
    Brier score of churn probabilities) on these same outcomes.

    The plain p-values (``spearman_p``, ``roc_auc_p``; the chosen one's is given as
    ``plain_p``) test one prediction fixed in advance; the chosen one was the best of
    several on this very window, which flatters it. If the outcomes had nothing to do
    with any prediction, shuffling them among the customers would change nothing that
    matters: so the choice is made again on each of
    ``permutations`` shuffles, and the p-value is the share of shuffles (the observed
    outcomes counted as one) whose chosen candidate ranks at least as well as ``chosen``
    did (``measure``: "spearman" against the outcomes' ranks, "roc_auc" against churn).

    The shuffles are spent only where they can change a verdict at ``settled_below``:
    the plain p-value times the number of candidates bounds the chosen one's
    (Bonferroni), so when that bound is already below ``settled_below`` it is returned
    as it is. NaN when the plain p-value is (the chosen prediction or the outcomes are
    constant)."""
    if plain_p != plain_p:
        return float("nan")
    names = list(predictions)
    if plain_p * len(names) < settled_below:
        return float(plain_p * len(names))
    matrix = np.column_stack([np.asarray(predictions[n], float) for n in names])
    actual = np.asarray(actual, float)
    # Squared error against shuffled outcomes y: sum(p**2) - 2 p.y + sum(y**2), the last
    # the same for every candidate, so only the first two decide the choice.
    squares = (matrix**2).sum(axis=0)
    ranks = rankdata(matrix, axis=0)  # average ranks, as Spearman and ROC-AUC use
    if measure == "spearman":
        centred = ranks - ranks.mean(axis=0)
        norms = np.linalg.norm(centred, axis=0)
        scores = np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0)
        outcome = rankdata(actual)
        outcome = (outcome - outcome.mean()) / np.linalg.norm(outcome - outcome.mean())
        offset, scale = 0.0, 1.0
    else:  # ROC-AUC is the rank sum of the churned, shifted and scaled
        positives = actual.sum()
        scores, outcome = ranks, actual
        offset = positives * (positives + 1) / 2
        scale = positives * (len(actual) - positives)
    observed = (outcome @ scores[:, names.index(chosen)] - offset) / scale
    rng = np.random.default_rng(seed)
    batch = max(1, 20_000_000 // max(len(actual), 1))
    # Besag and Clifford's sequential test: once `enough` shuffles have ranked at least
    # as well, the p-value is at or above settled_below whatever the rest would show,
    # so it stops there with the p-value enough / shuffles run; a ranking at chance on
    # a million customers costs about a tenth of the shuffles.
    enough = math.ceil(settled_below * (permutations + 1))
    at_least = 0
    for start in range(0, permutations, batch):
        size = min(batch, permutations - start)
        shuffled = rng.permuted(np.tile(np.arange(len(actual)), (size, 1)), axis=1)
        picked = np.argmin(squares - 2 * (actual[shuffled] @ matrix), axis=1)
        ranked = (outcome[shuffled] @ scores - offset) / scale
        hits = np.cumsum(ranked[np.arange(size), picked] >= observed - 1e-12) + at_least
        if enough >= 1 and hits[-1] >= enough:
            return enough / (start + int(np.argmax(hits >= enough)) + 1)
        at_least = int(hits[-1])
    return (1 + at_least) / (1 + permutations)


def timing_errors(
    actual_days: np.ndarray, predictions: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Each next-order candidate's mean and median absolute error in days against the
    days to the next order of customers who ordered, and how many they are: what the
    choice compares (mean) and reports."""
    actual = np.asarray(actual_days, float)
    return {
        name: {
            "mae_days": float(np.mean(np.abs(days - actual))),
            "median_abs_days": float(np.median(np.abs(days - actual))),
            "customers": float(len(actual)),
        }
        for name, days in predictions.items()
    }


def timing_p(
    actual_days: np.ndarray,
    predictions: dict[str, np.ndarray],
    chosen: str,
    *,
    baseline: str = "midpoint",
) -> float:
    """The one-sided p-value that ``chosen``'s days to the next order are nearer what
    happened than ``baseline``'s (the middle of the window for everyone, which knows
    nothing of the customers' timing), allowing for its having been chosen among the
    other candidates for the lowest mean absolute error.

    Each customer's absolute error under the baseline minus under ``chosen`` is one
    loss differential; the test is the one-sided t-test of their mean (Diebold and
    Mariano's comparison of forecast accuracy, with customers in place of periods, so
    without its autocorrelation term), and its p-value is multiplied by the number of
    candidates other than the baseline (Bonferroni: the chosen one was the best of
    them), capped at 1. NaN when ``chosen`` is the baseline; 1 when the differentials
    cannot be tested (fewer than two customers, or all alike and not in its favour).
    A t-test, not a permutation test like :func:`chosen_ranking_p`: the candidates are
    few and the differential's mean is the very quantity the choice compared."""
    if chosen == baseline:
        return float("nan")
    actual = np.asarray(actual_days, float)
    differential = np.abs(predictions[baseline] - actual) - np.abs(predictions[chosen] - actual)
    if len(differential) < 2:
        return 1.0
    if np.ptp(differential) == 0:  # no spread: the t statistic is undefined
        return 0.0 if differential[0] > 0 else 1.0
    p = float(ttest_1samp(differential, 0.0, alternative="greater").pvalue)
    rivals = sum(1 for name in predictions if name != baseline)
    return min(1.0, p * rivals)


def within_noise(losses: dict[str, np.ndarray], best: str, *, z: float = NOISE_Z) -> list[str]:
    """The candidates other than ``best`` whose mean loss per customer exceeds
    ``best``'s by no more than ``z`` standard errors of the per-customer difference.

    ``losses`` holds each candidate's loss per customer on the same customers (squared
    error for RMSE, squared probability error for the Brier score, absolute days for a
    date); ``best`` is the candidate of lowest mean loss. The difference is paired, as in
    :func:`timing_p`: every candidate is scored on the same customers, whose own
    difficulty cancels out, so a lead too small to tell from which customers happened to
    fall in the window shows as one. A candidate whose losses equal ``best``'s
    everywhere is within noise; with fewer than two customers every one is."""
    chosen = np.asarray(losses[best], float)
    tied = []
    for name, loss in losses.items():
        if name == best:
            continue
        difference = np.asarray(loss, float) - chosen
        if len(difference) < 2:
            tied.append(name)
            continue
        error = float(np.std(difference, ddof=1)) / math.sqrt(len(difference))
        if float(np.mean(difference)) <= z * error:
            tied.append(name)
    return tied
