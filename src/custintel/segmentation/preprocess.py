"""The clustering feature matrix: chosen features, log-transformed, filled and scaled.

Customer features are heavy-tailed (a few customers order hundreds of times or spend
thousands), so distances on raw values would be decided by those few. Each feature goes
through three steps, learned in :meth:`FeaturePreprocessor.fit` and replayed exactly by
:meth:`FeaturePreprocessor.transform`:

1. **Transform.** Counts, amounts and day spans (``recency_days``, ``frequency``,
   ``monetary``, ``tenure_days``, ``avg_basket_lines``, ``spend__*``...) become
   ``log1p(max(x, 0))``. Amounts are clipped at 0 *before* the log: a customer whose
   refunds exceed their purchases (net ``monetary`` < 0) counts as a customer who spent
   nothing. Shares and ratios already on a bounded scale (``share__*``, ``*_share``,
   ``trend_90d``) are used as they are.
2. **Non-finite values.** NaN (``ipi_*`` for customers with a single order, or a hole in
   the input) is filled with the feature's median at fit time. +inf becomes the largest
   finite value seen at fit time and -inf the smallest (for log features -inf is already
   0 after the clip). Both are counted; NaN in a column that the feature SQL never leaves
   empty (recency, frequency, monetary, tenure) and every infinite value raise a
   :class:`FeatureValueWarning`, since they point at broken input.
3. **Scaling.** Standard scaling (mean 0, standard deviation 1, population std; a
   constant feature keeps scale 1 and so adds nothing to distances). Features selected
   by one glob pattern (``"share__*"``) form a group whose columns are each weighted by
   ``1/sqrt(m)``, so a group of m category shares weighs as much as one feature.

Every fitted parameter is a plain float, so :meth:`FeaturePreprocessor.to_dict` is JSON.
"""

from __future__ import annotations

import fnmatch
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from custintel.errors import ConfigError, InputError, MissingColumns
from custintel.segmentation.rfm import DegenerateDataWarning

__all__ = [
    "DEFAULT_FEATURES",
    "EXTENDED_FEATURES",
    "FeatureData",
    "FeaturePreprocessor",
    "FeatureValueWarning",
    "column_names",
    "numeric_column",
    "stratified_sample",
]

FeatureData: TypeAlias = pd.DataFrame | pa.Table

# Recency, frequency, monetary: the default clustering space.
DEFAULT_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary")
# RFM plus tenure, basket size and the category mix (a group weighing as one feature).
EXTENDED_FEATURES: tuple[str, ...] = (
    *DEFAULT_FEATURES,
    "tenure_days",
    "avg_basket_lines",
    "share__*",
)

# Features used as they are (already bounded); every other one gets log1p(max(x, 0)).
_IDENTITY_PATTERNS = ("share__*", "*_share", "trend_90d")
# Columns the feature SQL never leaves NULL: a NaN there means the input is broken.
_NEVER_NULL = frozenset({"recency_days", "frequency", "monetary", "tenure_days"})
_WHERE = "customer features"


class FeatureValueWarning(DegenerateDataWarning):
    """Feature values were NaN or infinite where they should not be, and were replaced.

    A :class:`~custintel.segmentation.rfm.DegenerateDataWarning`, so one filter covers
    every "usable, but look at your data" warning of segmentation.
    """


@dataclass(frozen=True)
class ColumnParams:
    """Fitted parameters of one feature column (all plain numbers, JSON-safe)."""

    name: str
    transform: str  # "log1p" or "identity"
    fill: float  # replaces NaN (median of the transformed finite values)
    lower: float  # replaces -inf (smallest transformed finite value)
    upper: float  # replaces +inf (largest transformed finite value)
    mean: float
    scale: float
    weight: float


def column_names(data: FeatureData) -> list[str]:
    """The column names of a pandas frame or an Arrow table."""
    return [str(c) for c in (data.column_names if isinstance(data, pa.Table) else data.columns)]


def numeric_column(data: FeatureData, name: str) -> np.ndarray:
    """Column ``name`` as float64, NULL as NaN; a non-numeric column is an :class:`InputError`."""
    if isinstance(data, pa.Table):
        col = data.column(name)
        if not (
            pa.types.is_integer(col.type)
            or pa.types.is_floating(col.type)
            or pa.types.is_boolean(col.type)
            or pa.types.is_decimal(col.type)
        ):
            raise InputError(f"column {name!r} has type {col.type}, not a number", where=_WHERE)
        return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    series = data[name]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise InputError(f"column {name!r} has dtype {series.dtype}, not a number", where=_WHERE)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _is_identity(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in _IDENTITY_PATTERNS)


def _expand(features: Sequence[str], available: Sequence[str]) -> list[tuple[str, float]]:
    """Resolve names and glob patterns to (column, weight) in table order, without repeats."""
    chosen: dict[str, float] = {}
    missing = []
    for entry in features:
        if any(ch in entry for ch in "*?["):
            matched = [c for c in available if fnmatch.fnmatchcase(c, entry)]
            for col in matched:  # a pattern matching nothing (no categories) adds nothing
                chosen.setdefault(col, 1.0 / math.sqrt(len(matched)))
        elif entry in available:
            chosen.setdefault(entry, 1.0)
        else:
            missing.append(entry)
    if missing:
        raise MissingColumns(
            missing,
            available,
            where=_WHERE,
            hint="compute features with custintel.features.customer_features, "
            "or choose other clustering features",
        )
    if not chosen:
        raise ConfigError(f"features={list(features)!r} select no column of the feature table")
    return list(chosen.items())


def _transformed(values: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log1p":
        with np.errstate(invalid="ignore"):
            return np.log1p(np.maximum(values, 0.0))  # NaN stays NaN, +inf stays +inf
    return values.astype(np.float64, copy=True)


class FeaturePreprocessor:
    """Turn a customer-feature table into the scaled matrix that clustering works on.

    ``features`` are column names or glob patterns (``"share__*"``); see the module
    docstring for the transform, fill and scaling rules.
    """

    def __init__(self, features: Sequence[str] = DEFAULT_FEATURES):
        self.features = tuple(features)

    @property
    def feature_names_(self) -> list[str]:
        """The columns used, in matrix order."""
        return [c.name for c in self.columns_]

    def fit(self, data: FeatureData) -> FeaturePreprocessor:
        """Learn fill values, clip bounds and scaling from ``data``."""
        self.fit_transform(data)
        return self

    def fit_transform(self, data: FeatureData) -> np.ndarray:
        """Fit on ``data`` and return its scaled matrix (n_rows, n_features)."""
        if not self.features:
            raise ConfigError("features=() is empty; name at least one feature column")
        expanded = _expand(self.features, column_names(data))
        n = data.num_rows if isinstance(data, pa.Table) else len(data)
        matrix = np.empty((n, len(expanded)), dtype=np.float64)
        columns = []
        for j, (name, weight) in enumerate(expanded):
            transform = "identity" if _is_identity(name) else "log1p"
            t = _transformed(numeric_column(data, name), transform)
            finite = t[np.isfinite(t)]
            if finite.size == 0:
                if n:
                    warnings.warn(
                        f"feature {name!r} has no finite value; it is ignored (set to 0)",
                        FeatureValueWarning,
                        stacklevel=3,
                    )
                fill = lower = upper = 0.0
            else:
                fill = float(np.median(finite))
                lower, upper = float(finite.min()), float(finite.max())
            params = ColumnParams(name, transform, fill, lower, upper, 0.0, 1.0, weight)
            matrix[:, j] = t = self._clean(t, params)
            mean, std = (float(t.mean()), float(t.std())) if n else (0.0, 0.0)
            scale = std if std > 0 and math.isfinite(std) else 1.0
            columns.append(ColumnParams(name, transform, fill, lower, upper, mean, scale, weight))
        self.columns_ = columns
        self.n_features_in_ = len(columns)
        return self.scale(matrix, out=matrix)

    def transform(self, data: FeatureData) -> np.ndarray:
        """The scaled matrix of ``data`` with the parameters learned in fit."""
        self._check_fitted()
        available = set(column_names(data))
        missing = [c.name for c in self.columns_ if c.name not in available]
        if missing:
            raise MissingColumns(missing, column_names(data), where=_WHERE)
        n = data.num_rows if isinstance(data, pa.Table) else len(data)
        matrix = np.empty((n, len(self.columns_)), dtype=np.float64)
        for j, params in enumerate(self.columns_):
            t = _transformed(numeric_column(data, params.name), params.transform)
            matrix[:, j] = self._clean(t, params)
        return self.scale(matrix, out=matrix)

    def scale(self, transformed: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """Map transformed (log, filled) values to the scaled, weighted clustering space."""
        mean, scale, weight = self._vectors()
        return np.multiply(np.subtract(transformed, mean, out=out), weight / scale, out=out)

    def unscale(self, scaled: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`scale`: back to transformed (log) feature values."""
        mean, scale, weight = self._vectors()
        return np.asarray(scaled) * (scale / weight) + mean

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe parameters (plain numbers and strings)."""
        self._check_fitted()
        return {"features": list(self.features), "columns": [asdict(c) for c in self.columns_]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeaturePreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output."""
        pre = cls(data["features"])
        pre.columns_ = [ColumnParams(**c) for c in data["columns"]]
        pre.n_features_in_ = len(pre.columns_)
        return pre

    def _vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_fitted()
        return (
            np.array([c.mean for c in self.columns_]),
            np.array([c.scale for c in self.columns_]),
            np.array([c.weight for c in self.columns_]),
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise ConfigError("this FeaturePreprocessor is not fitted yet; call fit first")

    @staticmethod
    def _clean(t: np.ndarray, params: ColumnParams) -> np.ndarray:
        """Replace NaN by the fill and ±inf by the clip bounds, warning where it is odd."""
        nan = np.isnan(t)
        inf = np.isinf(t)
        n_nan, n_inf = int(nan.sum()), int(inf.sum())
        if n_inf:
            warnings.warn(
                f"feature {params.name!r}: {n_inf} of {t.size} values are infinite; +inf is "
                f"clipped to {params.upper:.6g} and -inf to {params.lower:.6g} "
                f"({params.transform} scale, the finite range seen in fit)",
                FeatureValueWarning,
                stacklevel=4,
            )
            t[inf] = np.where(t[inf] > 0, params.upper, params.lower)
        if n_nan:
            if params.name in _NEVER_NULL:
                warnings.warn(
                    f"feature {params.name!r}: {n_nan} of {t.size} values are missing; "
                    f"they are filled with the fitted median ({params.fill:.6g}, "
                    f"{params.transform} scale)",
                    FeatureValueWarning,
                    stacklevel=4,
                )
            t[nan] = params.fill
        return t


def stratified_sample(labels: np.ndarray, size: int, order: np.ndarray) -> np.ndarray:
    """Sorted row indices of a proportional sample of ``size`` rows, stratified by label.

    Each label keeps its share of ``size`` (largest-remainder rounding, so the quotas add
    up to ``size``) and at least 2 rows (or all it has), so small clusters are
    represented; the sample can exceed ``size`` by those minimums. ``order`` is a random
    permutation of the row indices; each stratum takes its rows in that order, so samples
    for different labelings drawn with the same ``order`` overlap as much as possible
    (common random numbers: differences in a score come from the clusterings, not from
    the draw).
    """
    n = labels.shape[0]
    if size >= n:
        return np.arange(n)
    ordered = labels[order]
    values, counts = np.unique(labels, return_counts=True)
    exact = size * counts / n
    quotas = np.floor(exact).astype(np.int64)
    short = size - int(quotas.sum())
    quotas[np.argsort(quotas - exact, kind="stable")[:short]] += 1
    quotas = np.minimum(np.maximum(quotas, np.minimum(counts, 2)), counts)
    parts = [order[ordered == v][:q] for v, q in zip(values, quotas, strict=True)]
    return np.sort(np.concatenate(parts))
