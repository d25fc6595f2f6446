"""distinct_rows: codes by the values of some columns, and the first row of each."""

from __future__ import annotations

import numpy as np
import pytest

from custintel.value.distinct import distinct_rows


def test_rows_with_equal_values_share_a_code_and_nan_equals_nan() -> None:
    x = np.array([1.0, 2.0, 1.0, np.nan, 1.0, np.nan])
    T = np.array([5.0, 5.0, 5.0, 7.0, 6.0, 7.0])
    codes, first = distinct_rows(x, T)
    assert codes.tolist() == [0, 1, 0, 2, 3, 2]
    assert first.tolist() == [0, 1, 3, 4]


def test_per_row_values_are_rebuilt_from_the_first_rows() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 1000).astype(float)
    T = rng.integers(0, 30, 1000).astype(float)
    codes, first = distinct_rows(x, T)
    values = x * 100 + T  # depends on (x, T) alone
    np.testing.assert_array_equal(values[first][codes], values)
    assert len(first) == len(set(zip(x, T, strict=True)))


def test_at_least_one_column_is_needed() -> None:
    with pytest.raises(ValueError, match="at least one column"):
        distinct_rows()
