"""The demo shop's customers: demographics and the latent traits that drive their buying.

Each customer gets demographic attributes (city, urban/rural, age class, income, education,
gender, the male/female ratio a B2B retailer records about its clientele) and four latent
traits in the buy-till-you-die tradition:

- ``rate``: purchases per (seasonally adjusted) day while alive, Gamma across customers;
- ``dropout``: the chance of leaving after each purchase, Beta across customers;
- ``value``: the basket-value level (more units, pricier products), Gamma across customers;
- ``prefs``: category preferences, a Dirichlet per customer.

The traits lean on the demographics (income and age lift basket value, city type and age
move frequency and channel, gender and clientele ratio tilt the categories), so that a
demographic clustering of the demo shop finds groups that really spend differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custintel.demo.catalog import CATEGORIES

__all__ = [
    "AGE_CLASSES",
    "CITIES",
    "EDUCATION",
    "GENDERS",
    "INCOME",
    "STORES",
    "URBAN",
    "WEB",
    "People",
    "categorical",
    "categorical_by_group",
    "draw_people",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# (name, share of customers, index of the nearest store in STORES, P(urban, suburban, rural))
CITIES: tuple[tuple[str, float, int, tuple[float, float, float]], ...] = (
    ("Madrid", 0.22, 0, (0.75, 0.22, 0.03)),
    ("Barcelona", 0.18, 1, (0.75, 0.22, 0.03)),
    ("Valencia", 0.10, 2, (0.6, 0.3, 0.1)),
    ("Sevilla", 0.09, 3, (0.55, 0.35, 0.1)),
    ("Bilbao", 0.06, 4, (0.6, 0.3, 0.1)),
    ("Zaragoza", 0.07, 0, (0.5, 0.35, 0.15)),
    ("Málaga", 0.07, 3, (0.5, 0.35, 0.15)),
    ("Valladolid", 0.05, 0, (0.4, 0.4, 0.2)),
    ("Granada", 0.05, 3, (0.35, 0.4, 0.25)),
    ("Toledo", 0.04, 0, (0.2, 0.4, 0.4)),
    ("Cáceres", 0.04, 3, (0.15, 0.35, 0.5)),
    ("Teruel", 0.03, 2, (0.05, 0.25, 0.7)),
)
STORES = ("S01", "S02", "S03", "S04", "S05", "web")
WEB = STORES.index("web")
URBAN = ("urban", "suburban", "rural")
AGE_CLASSES = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
INCOME = ("low", "middle", "high")
EDUCATION = ("secondary", "vocational", "bachelor", "master", "doctorate")
GENDERS = ("female", "male")

_AGE_SHARE = (0.12, 0.22, 0.22, 0.18, 0.14, 0.12)
# P(education | income), rows low, middle, high
_EDUCATION_GIVEN_INCOME = (
    (0.45, 0.35, 0.15, 0.04, 0.01),
    (0.20, 0.30, 0.35, 0.13, 0.02),
    (0.05, 0.12, 0.38, 0.35, 0.10),
)
# Category preference tilts (log-alpha) per category, in CATEGORIES order:
# electronics, grocery, sports, fashion, home, beauty
_TILT_MALE = np.array([0.9, 0.0, 0.7, -0.8, 0.0, -1.2])
_TILT_YOUNG = np.array([0.3, -0.2, 0.3, 0.4, -0.3, 0.2])
_TILT_OLD = np.array([-0.2, 0.3, -0.3, -0.2, 0.4, 0.0])
_TILT_RICH = np.array([0.3, -0.2, 0.1, 0.2, 0.2, 0.1])

# Trait parameters: mean purchases per day while alive (Gamma shape), dropout Beta(a, b),
# basket-value Gamma shape (mean 1 before demographic multipliers).
RATE_MEAN, RATE_SHAPE = 0.03, 0.9
DROPOUT_A, DROPOUT_B = 1.4, 5.0
VALUE_SHAPE = 4.0


@dataclass(frozen=True)
class People:
    """Customers as parallel arrays, one element per customer (codes index the vocabularies)."""

    city: IntArray
    urban: IntArray
    age: IntArray
    income: IntArray
    education: IntArray
    gender: IntArray
    male_female_ratio: FloatArray
    prefs: FloatArray
    rate: FloatArray
    dropout: FloatArray
    value: FloatArray
    web_share: FloatArray
    home_store: IntArray

    @property
    def size(self) -> int:
        return int(self.city.size)


def draw_people(rng: np.random.Generator, n: int) -> People:
    """Draw ``n`` customers' demographics, then their traits conditioned on them."""
    city = rng.choice(len(CITIES), n, p=_normalised([c[1] for c in CITIES]))
    urban = categorical(rng, np.array([c[3] for c in CITIES])[city])
    age = rng.choice(len(AGE_CLASSES), n, p=_normalised(_AGE_SHARE))
    income = _draw_income(rng, age, urban)
    education = categorical(rng, np.array(_EDUCATION_GIVEN_INCOME)[income])
    gender = (rng.random(n) < 0.48).astype(np.int64)
    ratio = np.round(rng.beta(np.where(gender == 1, 6.0, 4.0), np.where(gender == 1, 4.0, 6.0)), 3)
    prefs = _draw_prefs(rng, age, income, ratio)
    frequency = prefs @ np.array([spec.frequency for spec in CATEGORIES])
    rate = (
        rng.gamma(RATE_SHAPE, RATE_MEAN / RATE_SHAPE, n)
        * np.array([1.1, 1.0, 0.85])[urban]
        * np.array([1.15, 1.1, 1.0, 1.0, 0.9, 0.85])[age]
        * frequency
        / frequency.mean()
    )
    loyalty = np.array([1.3, 1.1, 1.0, 0.9, 0.85, 0.8])[age]
    dropout = np.clip(rng.beta(DROPOUT_A, DROPOUT_B, n) * loyalty, 1e-4, 1.0)
    value = (
        rng.gamma(VALUE_SHAPE, 1.0 / VALUE_SHAPE, n)
        * np.array([0.65, 1.0, 1.7])[income]
        * np.array([0.8, 0.95, 1.1, 1.15, 1.05, 0.95])[age]
    )
    has_store = np.array(
        [c[0] in ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao") for c in CITIES]
    )[city]
    web_logit = (
        rng.normal(-0.6, 1.0, n)
        + np.array([0.3, 0.0, 0.8])[urban]
        + np.array([1.0, 0.7, 0.2, 0.0, -0.4, -0.8])[age]
        + np.where(has_store, 0.0, 1.2)
    )
    return People(
        city=city,
        urban=urban,
        age=age,
        income=income,
        education=education,
        gender=gender,
        male_female_ratio=ratio,
        prefs=prefs,
        rate=rate,
        dropout=dropout,
        value=value,
        web_share=1.0 / (1.0 + np.exp(-web_logit)),
        home_store=np.array([c[2] for c in CITIES], dtype=np.int64)[city],
    )


def categorical(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One draw per row of ``probs`` (rows sum to 1): the index of the chosen column."""
    u = rng.random((probs.shape[0], 1))
    chosen = (np.cumsum(probs, axis=1) < u).sum(axis=1)
    return np.minimum(chosen, probs.shape[1] - 1).astype(np.int64)


def categorical_by_group(rng: np.random.Generator, probs: FloatArray, group: IntArray) -> IntArray:
    """One draw per element of ``group`` from the row ``probs[group]``, without building
    an (n, k) matrix: cheap for millions of draws over a few groups."""
    cumulative: FloatArray = np.cumsum(probs, axis=1)
    u = rng.random(group.size)
    chosen = np.zeros(group.size, dtype=np.int64)
    for column in range(probs.shape[1] - 1):
        chosen += cumulative[:, column][group] < u
    return chosen


def _draw_income(rng: np.random.Generator, age: IntArray, urban: IntArray) -> IntArray:
    """Income bracket from a softmax that favours middle age and cities."""
    low = np.array([1.0, 0.2, 0.0, 0.0, 0.1, 0.5])[age] + np.array([0.0, 0.0, 0.4])[urban]
    high = (
        np.array([-1.0, -0.2, 0.3, 0.5, 0.3, -0.2])[age] + np.array([0.4, 0.2, -0.3])[urban] - 0.6
    )
    scores = np.stack([low, np.full(age.size, 0.6), high], axis=1)
    weights = np.exp(scores)
    return categorical(rng, weights / weights.sum(axis=1, keepdims=True))


def _draw_prefs(
    rng: np.random.Generator, age: IntArray, income: IntArray, ratio: FloatArray
) -> FloatArray:
    """Per-customer Dirichlet category preferences, tilted by the demographics."""
    popularity = np.array([spec.popularity for spec in CATEGORIES])
    tilt = (
        np.outer(2 * (ratio - 0.5), _TILT_MALE)
        + np.outer(age <= 1, _TILT_YOUNG)
        + np.outer(age >= 4, _TILT_OLD)
        + np.outer(income == 2, _TILT_RICH)
    )
    raw = np.maximum(rng.gamma(popularity * np.exp(tilt)), 1e-12)
    return raw / raw.sum(axis=1, keepdims=True)


def _normalised(weights: tuple[float, ...] | list[float]) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()
