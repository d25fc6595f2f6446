"""Rows that agree on some columns, found once.

For computations that depend on a row only through a few of its values (TreeSHAP of one
tree through the sides of its splits; BTYD's expectation for an active customer through
frequency and age): compute once per distinct row and index back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["distinct_rows"]


def distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code (0, 1, ... in order of first appearance) by its values in
    ``columns`` (equal lengths; NaN equals NaN), and the first row of each code, so that
    ``values[first][codes]`` rebuilds any column of per-row values that depends on
    ``columns`` alone."""
    if not columns:
        raise ValueError("distinct_rows needs at least one column")
    rows = len(columns[0])
    codes, uniques = pd.factorize(np.asarray(columns[0]), use_na_sentinel=False)
    count = len(uniques)
    for column in columns[1:]:
        # Refactorised after each column, the codes stay below the row count.
        column_codes, uniques = pd.factorize(np.asarray(column), use_na_sentinel=False)
        codes, kept = pd.factorize(codes * len(uniques) + column_codes)
        count = len(kept)
    first = np.empty(count, np.int64)
    first[codes[::-1]] = np.arange(rows - 1, -1, -1)  # the last write is the first row
    return codes.astype(np.int64, copy=False), first
