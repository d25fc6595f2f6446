"""How much a shop's value models train on: cutoffs and candidates by its size."""

from __future__ import annotations

import pytest

from custintel.value import service
from custintel.value.models import CANDIDATES


@pytest.mark.parametrize("customers", [1, 300, 20_000, 49_999, 50_000, 99_999, 100_000, 10**6])
def test_the_cutoffs_fill_the_row_cap_and_no_more(customers: int) -> None:
    count, rows, _ = service.training_plan(customers)
    assert rows == service.MAX_TRAIN_ROWS
    assert 1 <= count <= service.MAX_TRAIN_CUTOFFS
    # No cutoff is wholly sampled away: one fewer would not reach the cap.
    assert count == 1 or (count - 1) * customers < service.MAX_TRAIN_ROWS
    # More cutoffs where they fit under the cap.
    if count < service.MAX_TRAIN_CUTOFFS:
        assert (count + 1) * customers > service.MAX_TRAIN_ROWS


def test_larger_shops_never_get_more_cutoffs_or_candidates() -> None:
    sizes = [1_000, 30_000, 60_000, 99_999, 100_000, 400_000, 10**6]
    plans = [service.training_plan(n) for n in sizes]
    counts = [plan.cutoffs for plan in plans]
    assert counts == sorted(counts, reverse=True)
    assert plans[0].cutoffs == service.MAX_TRAIN_CUTOFFS and plans[0].candidates == CANDIDATES
    small = service.training_plan(99_999).candidates
    large = service.training_plan(100_000).candidates
    assert {"xgboost", "random_forest"} <= set(small)
    assert not {"xgboost", "random_forest"} & set(large) and "gbm" in large
