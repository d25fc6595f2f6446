"""The built-in segment schemes, and looking a scheme up by name.

* ``standard`` (the default): the 10 classic RFM segments over the R x F grid.
* ``eleven``: the same grid with Lost split off Hibernating (R1 F1-2), as in the
  widely published 11-segment RFM scheme.
* ``value_tiers``: Premium, High, Medium, Low by F + M for active customers (R2-5), and
  Inactive for the least recent fifth (R1).

docs/segmentation.md ("Segment schemes") draws each grid; the tests prove each covers
all 125 (r, f, m) cells exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping

from custintel.errors import ConfigError, closest_names
from custintel.segmentation.schemes import Rule, Scheme, Segment, scheme_from_dict

__all__ = ["DEFAULT_SCHEME", "SCHEMES", "get_scheme"]

DEFAULT_SCHEME = "standard"


def _scores(text: str) -> frozenset[int]:
    """``"4-5"`` -> {4, 5}; ``"3"`` -> {3}."""
    low, _, high = text.partition("-")
    return frozenset(range(int(low), int(high or low) + 1))


def _rule(r: str, f: str, m: str = "1-5") -> Rule:
    return Rule(r=_scores(r), f=_scores(f), m=_scores(m))


def _rf(name: str, r: str, f: str, description: str, action: str) -> Segment:
    """A segment that is one box of the R x F grid, any M."""
    return Segment(name, (_rule(r, f),), description, action)


_CHAMPIONS = _rf(
    "Champions",
    "5",
    "4-5",
    "Bought very recently and buy more often than almost anyone.",
    "Reward them: early access, loyalty perks; ask for reviews and referrals.",
)
_LOYAL = _rf(
    "Loyal Customers",
    "3-4",
    "4-5",
    "Buy often and have bought fairly recently.",
    "Offer higher-value products and a loyalty programme; ask for reviews.",
)
_POTENTIAL = _rf(
    "Potential Loyalists",
    "4-5",
    "2-3",
    "Recent customers with a few orders: could become regulars.",
    "Recommend related products; offer membership or a loyalty programme.",
)
_NEW = _rf(
    "New Customers",
    "5",
    "1",
    "Bought very recently, for the first time or nearly.",
    "Welcome them: a thank-you, help getting started, a reason to come back.",
)
_PROMISING = _rf(
    "Promising",
    "4",
    "1",
    "Bought recently, but only once or rarely.",
    "Build the habit: a small offer on the next order, new arrivals they may like.",
)
_NEED_ATTENTION = _rf(
    "Need Attention",
    "3",
    "3",
    "Middling on recency and frequency: may drift away without a nudge.",
    "A limited-time offer or recommendations based on what they bought before.",
)
_ABOUT_TO_SLEEP = _rf(
    "About to Sleep",
    "3",
    "1-2",
    "Bought rarely, and not recently: slipping away.",
    "Remind them with popular products or a discount before they forget the shop.",
)
_AT_RISK = _rf(
    "At Risk",
    "1-2",
    "3-4",
    "Used to buy regularly, but have not for a long time.",
    "Win them back: personal emails, renewal offers, what is new since their last visit.",
)
_CANNOT_LOSE = _rf(
    "Cannot Lose Them",
    "1-2",
    "5",
    "Were among the most frequent buyers, but have not come back for a long time.",
    "Win them back at almost any cost: contact them personally, ask what went wrong.",
)
_HIBERNATING = _rf(
    "Hibernating",
    "1-2",
    "1-2",
    "Bought rarely, and long ago.",
    "Low-cost reactivation only: newsletters and seasonal offers.",
)

STANDARD = Scheme(
    "standard",
    (
        _CHAMPIONS,
        _LOYAL,
        _POTENTIAL,
        _NEW,
        _PROMISING,
        _NEED_ATTENTION,
        _ABOUT_TO_SLEEP,
        _AT_RISK,
        _CANNOT_LOSE,
        _HIBERNATING,
    ),
    "The 10 classic RFM segments over recency and frequency (monetary is not used).",
)

ELEVEN = Scheme(
    "eleven",
    (
        *STANDARD.segments[:-1],
        _rf(
            "Hibernating",
            "2",
            "1-2",
            "Bought rarely, and a good while ago.",
            "Low-cost reactivation: newsletters, seasonal offers, popular products.",
        ),
        _rf(
            "Lost",
            "1",
            "1-2",
            "Bought rarely, and longer ago than anyone else.",
            "Try one revival campaign at most; otherwise stop spending on them.",
        ),
    ),
    "The 11-segment RFM scheme: the standard grid with Lost split off Hibernating.",
)

VALUE_TIERS = Scheme(
    "value_tiers",
    (
        Segment(
            "Premium",
            (_rule("2-5", "5", "4-5"), _rule("2-5", "4", "5")),
            "Active and among the most frequent, highest-spending customers (F + M 9-10).",
            "Protect them: personal service, exclusive offers, first access to new products.",
        ),
        Segment(
            "High",
            (
                _rule("2-5", "5", "2-3"),
                _rule("2-5", "4", "3-4"),
                _rule("2-5", "3", "4-5"),
                _rule("2-5", "2", "5"),
            ),
            "Active, buying and spending well above most customers (F + M 7-8).",
            "Move them up: bundles, premium products, loyalty rewards.",
        ),
        Segment(
            "Medium",
            (
                _rule("2-5", "5", "1"),
                _rule("2-5", "4", "1-2"),
                _rule("2-5", "3", "2-3"),
                _rule("2-5", "2", "3-4"),
                _rule("2-5", "1", "4-5"),
            ),
            "Active, with about average orders and spend (F + M 5-6).",
            "Grow the basket: recommendations, free-shipping thresholds.",
        ),
        Segment(
            "Low",
            (_rule("2-5", "3", "1"), _rule("2-5", "2", "1-2"), _rule("2-5", "1", "1-3")),
            "Active, but order rarely and spend little (F + M 2-4).",
            "Keep costs low: automated emails, entry-level offers.",
        ),
        Segment(
            "Inactive",
            (_rule("1", "1-5"),),
            "The fifth of customers who have gone longest without buying, whatever they "
            "spent before.",
            "Win back the ones who spent most; let the others go.",
        ),
    ),
    "Five value tiers: Inactive by recency (R1), the others by F + M.",
)

SCHEMES: dict[str, Scheme] = {s.name: s for s in (STANDARD, ELEVEN, VALUE_TIERS)}


def get_scheme(
    name: str = DEFAULT_SCHEME,
    user_schemes: Mapping[str, Scheme | Mapping[str, object]] | None = None,
) -> Scheme:
    """Return the built-in or user-defined scheme called ``name``.

    ``user_schemes`` is the ``[segmentation.schemes]`` table of custintel.toml (each
    value a table for :func:`scheme_from_dict`, or an already built :class:`Scheme`).
    A user scheme may not reuse a built-in name, so that "standard" always means the
    same thing. An unknown name raises :class:`ConfigError` with the closest names.
    """
    user = dict(user_schemes or {})
    clash = sorted(set(user) & set(SCHEMES))
    if clash:
        raise ConfigError(
            f"user scheme(s) {', '.join(map(repr, clash))} reuse a built-in scheme name",
            where="custintel.toml [segmentation.schemes]",
            hint="give your scheme another name",
        )
    if name in SCHEMES:
        return SCHEMES[name]
    if name in user:
        value = user[name]
        return value if isinstance(value, Scheme) else scheme_from_dict(value, name=name)
    known = [*SCHEMES, *user]
    close = closest_names(name, known)
    suggestion = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    raise ConfigError(
        f"unknown segment scheme {name!r}{suggestion}; known schemes: {', '.join(known)}",
        where="segment scheme",
        hint="pick a known scheme, or define it under [segmentation.schemes.<name>] "
        "in custintel.toml",
    )
