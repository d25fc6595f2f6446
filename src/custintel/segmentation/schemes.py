"""Named segment schemes: rules that turn (R, F, M) scores into segment names.

A :class:`Scheme` is an ordered list of :class:`Segment` s, each the union of one or
more :class:`Rule` s (boxes of the grid: a set of allowed R, F and M scores). Every
scheme is checked when it is built to be a partition of the 125 (r, f, m) cells: each
cell belongs to exactly one segment, so every customer gets one name and no rule order
can change the answer. A user scheme that leaves a cell out or covers one twice is
refused with a :class:`~custintel.errors.ConfigError` naming the cells. The order of the
segments is only the order they are listed in (best first).

The built-in schemes live in :mod:`custintel.segmentation.builtin`;
docs/segmentation.md ("Segment schemes") draws each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from custintel.errors import ConfigError, InputError, MissingColumns, closest_names

__all__ = ["Rule", "Scheme", "Segment", "assign_segments", "scheme_from_dict"]

SCORES = frozenset(range(1, 6))
_RULE_KEYS = ("r", "f", "m")
_TEXT_KEYS = ("description", "action")
_ANY = "any"
_REST = "rest"
_SHOW = 4


@dataclass(frozen=True)
class Rule:
    """The cells whose R, F and M scores are all in these sets (a box of the grid)."""

    r: frozenset[int] = SCORES
    f: frozenset[int] = SCORES
    m: frozenset[int] = SCORES

    def cells(self) -> Iterable[tuple[int, int, int]]:
        """The (r, f, m) cells of this rule, in grid order."""
        for r in sorted(self.r):
            for f in sorted(self.f):
                for m in sorted(self.m):
                    yield r, f, m


@dataclass(frozen=True)
class Segment:
    """A named segment: the union of its rules' cells.

    ``description`` says who the customers are and ``action`` what a shop could do
    about them, both in a shop owner's words. ``rest=True`` makes the segment take every
    cell that no other segment of its scheme takes (then it has no rules).
    """

    name: str
    rules: tuple[Rule, ...] = ()
    description: str = ""
    action: str = ""
    rest: bool = False

    def cells(self) -> Iterable[tuple[int, int, int]]:
        """The (r, f, m) cells its rules allow (none for a ``rest`` segment)."""
        for rule in self.rules:
            yield from rule.cells()


@dataclass(frozen=True)
class Scheme:
    """A named partition of the 125 (r, f, m) score cells into segments.

    Building one validates it: segment names must be unique and non-empty, scores in
    1-5, and every cell covered exactly once; otherwise :class:`ConfigError`.
    ``source`` names where a user scheme came from, for error messages.
    """

    name: str
    segments: tuple[Segment, ...]
    description: str = ""
    source: str = field(default="", compare=False)
    # Segment index of each cell, at (r - 1) * 25 + (f - 1) * 5 + (m - 1).
    cell_codes: npt.NDArray[np.int16] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "cell_codes", _validate(self))

    @property
    def segment_names(self) -> list[str]:
        """The segment names, in the scheme's order."""
        return [segment.name for segment in self.segments]

    def segment_for(self, r: int, f: int, m: int) -> str:
        """Return the segment name of one (r, f, m) cell."""
        if not {r, f, m} <= SCORES:
            raise ValueError(f"scores must be 1-5, got r={r}, f={f}, m={m}")
        return self.segments[int(self.cell_codes[_cell_index(r, f, m)])].name


def assign_segments(scores: pd.DataFrame, scheme: Scheme) -> pd.Series:
    """Return each customer's segment name under ``scheme``, vectorised.

    ``scores`` holds ``r_score``, ``f_score`` and ``m_score`` (integers 1-5, as from
    :func:`custintel.segmentation.rfm_scores`). The result is a categorical Series named
    ``rfm_segment`` on the same index, with the scheme's segments as its categories in
    the scheme's order (so empty segments still show up in counts).
    """
    missing = [c for c in ("r_score", "f_score", "m_score") if c not in scores.columns]
    if missing:
        raise MissingColumns(missing, [str(c) for c in scores.columns], where="RFM scores")
    r, f, m = (_score_array(scores, c) for c in ("r_score", "f_score", "m_score"))
    codes = scheme.cell_codes[(r - 1) * 25 + (f - 1) * 5 + (m - 1)]
    categories = pd.CategoricalDtype(scheme.segment_names)
    values = pd.Categorical.from_codes(codes, dtype=categories)
    return pd.Series(values, index=scores.index, name="rfm_segment")


def scheme_from_dict(data: Mapping[str, Any], *, name: str = "custom") -> Scheme:
    """Build a user scheme from its custintel.toml table, validating it.

    ``data`` maps each segment name, in order, to one of:

    * a table with ``r`` and ``f`` (and optionally ``m``, default any), each a score, a
      list of scores, a range string ``"4-5"`` or a list mixing them, plus optional
      ``description`` and ``action`` text;
    * a table with ``any = [{ r = ..., f = ... }, ...]`` (the union of several boxes of
      the grid) plus optional ``description`` and ``action``, or just the list itself;
    * ``"rest"`` (or ``{ rest = true, ... }``): every cell no other segment takes.

    For example::

        [segmentation.schemes.my_scheme]
        "Best" = { r = [4, 5], f = "4-5", action = "Thank them" }
        "Slipping" = { any = [{ r = 3, f = "3-5" }, { r = "1-2", f = 5 }] }
        "Others" = "rest"
    """
    where = f"custintel.toml [segmentation.schemes.{name}]"
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(
            'a scheme must be a table of segments, e.g. "Best" = { r = [4, 5], f = [4, 5] }',
            where=where,
        )
    segments = [_segment_from_value(str(seg), value, where) for seg, value in data.items()]
    return Scheme(name=name, segments=tuple(segments), source=where)


def _segment_from_value(name: str, value: Any, where: str) -> Segment:
    """Parse one segment entry of a user scheme."""
    here = f"{where} {name!r}"
    if isinstance(value, str) and value == _REST:
        return Segment(name=name, rest=True)
    if isinstance(value, list):
        return Segment(name=name, rules=_rules_from_list(value, here))
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'expected a table like {{ r = [4, 5], f = [4, 5] }} or "rest", got {value!r}',
            where=here,
        )
    allowed = (*_RULE_KEYS, *_TEXT_KEYS, _ANY, _REST)
    _refuse_unknown(value, allowed, here)
    text = {k: value.get(k, "") for k in _TEXT_KEYS}
    for key, item in text.items():
        if not isinstance(item, str):
            raise ConfigError(f"{key} must be text, got {item!r}", where=here)
    kinds = [k for k in (_REST, _ANY) if k in value]
    if any(k in value for k in _RULE_KEYS):
        kinds.append("r/f/m")
    if len(kinds) != 1:
        raise ConfigError(
            "give exactly one of: r and f (and m), any = [...], or rest = true; "
            f"got {' and '.join(kinds) or 'none of them'}",
            where=here,
        )
    if kinds[0] == _REST:
        if value[_REST] is not True:
            raise ConfigError(f"rest must be true, got {value[_REST]!r}", where=here)
        return Segment(name=name, rest=True, **text)
    if kinds[0] == _ANY:
        if not isinstance(value[_ANY], list):
            raise ConfigError(f"any must be a list of tables, got {value[_ANY]!r}", where=here)
        return Segment(name=name, rules=_rules_from_list(value[_ANY], here), **text)
    return Segment(name=name, rules=(_rule_from_table(value, here),), **text)


def _rules_from_list(items: list[Any], where: str) -> tuple[Rule, ...]:
    if not items:
        raise ConfigError("the list of rules is empty", where=where)
    rules = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            raise ConfigError(f"rule {i} must be a table like {{ r = 5, f = [4, 5] }}", where=where)
        _refuse_unknown(item, _RULE_KEYS, f"{where} rule {i}")
        rules.append(_rule_from_table(item, f"{where} rule {i}"))
    return tuple(rules)


def _rule_from_table(table: Mapping[str, Any], where: str) -> Rule:
    for key in ("r", "f"):
        if key not in table:
            raise ConfigError(
                f'missing {key!r}: list the allowed scores, e.g. {key} = [4, 5] or "1-5"',
                where=where,
            )
    sets = {k: _score_set(table[k], f"{where} {k}") for k in _RULE_KEYS if k in table}
    return Rule(**sets)


def _refuse_unknown(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [str(k) for k in table if k not in allowed]
    if unknown:
        close = closest_names(unknown[0], allowed)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown key {unknown[0]!r}{suggestion}; allowed: {', '.join(allowed)}",
            where=where,
        )


def _score_set(value: Any, where: str) -> frozenset[int]:
    """Parse ``3``, ``[4, 5]``, ``"4-5"`` or ``[1, "3-5"]`` into a set of scores 1-5."""
    items = value if isinstance(value, list | tuple) else [value]
    scores: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            scores.add(item)
        elif isinstance(item, str) and item.strip():
            low, _, high = (part.strip() for part in item.partition("-"))
            if not (low.isdigit() and (high.isdigit() or not high)):
                raise ConfigError(
                    f'cannot read {item!r} as a score or range like "4-5"', where=where
                )
            scores.update(range(int(low), int(high or low) + 1))
        else:
            raise ConfigError(
                f'expected scores 1-5, a list of them or "4-5", got {item!r}', where=where
            )
    if not scores:
        raise ConfigError("the list of scores is empty", where=where)
    if not scores <= SCORES:
        raise ConfigError(f"scores must be 1-5, got {sorted(scores - SCORES)}", where=where)
    return frozenset(scores)


def _cell_index(r: int, f: int, m: int) -> int:
    return (r - 1) * 25 + (f - 1) * 5 + (m - 1)


def _validate(scheme: Scheme) -> npt.NDArray[np.int16]:
    """Check ``scheme`` is a partition of the 125 cells; return each cell's segment index."""
    where = scheme.source or f"segment scheme {scheme.name!r}"
    names = [s.name for s in scheme.segments]
    if not names:
        raise ConfigError("a scheme needs at least one segment", where=where)
    if any(not isinstance(n, str) or not n.strip() for n in names):
        raise ConfigError("every segment needs a non-empty name", where=where)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"segment name(s) used twice: {', '.join(repeated)}", where=where)
    rests = [i for i, s in enumerate(scheme.segments) if s.rest]
    if len(rests) > 1:
        raise ConfigError(
            f"only one segment can be the rest, got {', '.join(names[i] for i in rests)}",
            where=where,
        )
    for segment in scheme.segments:
        if segment.rest == bool(segment.rules):
            raise ConfigError(
                f"segment {segment.name!r} needs rules, or rest=True and no rules", where=where
            )
        for rule in segment.rules:
            for letter in "rfm":
                chosen = getattr(rule, letter)
                if not chosen or not chosen <= SCORES:
                    raise ConfigError(
                        f"segment {segment.name!r}: {letter} must be a non-empty set of scores 1-5",
                        where=where,
                    )

    owners: list[list[int]] = [[] for _ in range(125)]
    for i, segment in enumerate(scheme.segments):
        for cell in segment.cells():
            owner = owners[_cell_index(*cell)]
            if not owner or owner[-1] != i:  # a segment's own rules may overlap
                owner.append(i)
    if rests:
        owners = [o or [rests[0]] for o in owners]
    problems = []
    twice = [i for i, o in enumerate(owners) if len(o) > 1]
    if twice:
        shown = [
            f"{cell} is in {' and '.join(repr(names[j]) for j in owners[i])}"
            for cell, i in _describe_cells(twice)
        ]
        problems.append("covered twice: " + _first(shown))
    gaps = [i for i, o in enumerate(owners) if not o]
    if gaps:
        shown = [cell for cell, _ in _describe_cells(gaps)]
        problems.append("not covered: " + _first(shown))
    if problems:
        raise ConfigError(
            "segments must cover every (R, F, M) score cell exactly once; " + "; ".join(problems),
            where=where,
            hint="narrow or widen the r/f/m lists, or add a catch-all segment such as "
            '"Others" = "rest", which takes every cell the other segments leave',
        )
    return np.array([o[0] for o in owners], dtype=np.int16)


def _describe_cells(indexes: list[int]) -> list[tuple[str, int]]:
    """Name cells readably: "R1 F2 (any M)" when all five M cells of (r, f) are listed.

    Returns (label, one cell index) pairs in grid order.
    """
    chosen = set(indexes)
    out = []
    for rf in range(25):
        block = [rf * 5 + m for m in range(5)]
        r, f = rf // 5 + 1, rf % 5 + 1
        if all(i in chosen for i in block):
            out.append((f"R{r} F{f} (any M)", block[0]))
        else:
            out.extend((f"R{r} F{f} M{i % 5 + 1}", i) for i in block if i in chosen)
    return out


def _first(labels: list[str]) -> str:
    more = f" and {len(labels) - _SHOW} more" if len(labels) > _SHOW else ""
    return ", ".join(labels[:_SHOW]) + more


def _score_array(scores: pd.DataFrame, column: str) -> npt.NDArray[np.int64]:
    """Return a score column as int64, refusing anything but whole numbers 1-5."""
    try:
        values = np.asarray(scores[column].to_numpy(dtype="float64", na_value=np.nan))
    except (TypeError, ValueError) as exc:
        raise InputError(f"column {column!r} is not numeric: {exc}", where="RFM scores") from exc
    bad = ~np.isin(values, (1.0, 2.0, 3.0, 4.0, 5.0))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} value(s) of {column} are not whole numbers 1-5, "
            f"e.g. {values[bad][:_SHOW].tolist()}",
            where="RFM scores",
            hint="compute the scores with custintel.segmentation.rfm_scores",
        )
    return values.astype(np.int64)
