"""The demo shop's fixed world: categories, their products and seasons, and the calendar.

Everything here is data or a per-day curve; the random draws live in ``generator``. Each
category carries its own price range, yearly season, weekday profile, holiday response,
basket shape, return rate and review vocabulary, so that the models trained on the demo
shop have real, distinct signals to find (electronics peaks at Black Friday, sports in
summer, fashion in spring and autumn, grocery is steady, frequent and cheap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

__all__ = [
    "CATEGORIES",
    "REVIEW_OPENERS",
    "Calendar",
    "Catalog",
    "CategorySpec",
    "build_calendar",
    "build_catalog",
    "review_vocabulary",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CategorySpec:
    """How one category behaves.

    ``items`` are (noun, typical price in currency units); ``bumps`` are yearly peaks as
    (day of year, amplitude, sharpness); ``weekly`` multiplies Monday..Sunday;
    ``black_friday`` and ``christmas`` scale the holiday curves; ``frequency`` is how much
    more often a customer who only buys this category orders; ``extra_lines`` and
    ``extra_quantity`` are Poisson means on top of one line of one unit.
    """

    name: str
    products: int
    popularity: float
    items: tuple[tuple[str, float], ...]
    brands: tuple[str, ...]
    bumps: tuple[tuple[int, float, float], ...]
    weekly: tuple[float, float, float, float, float, float, float]
    black_friday: float
    christmas: float
    frequency: float
    extra_lines: float
    extra_quantity: float
    return_rate: float
    black_friday_discount: float
    sale_discount: float
    review_noun: str
    review_details: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


# fmt: off
CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        name="electronics", products=80, popularity=0.6,
        items=(("Headphones", 89), ("Smartphone", 549), ("Laptop", 999), ("Tablet", 399),
               ("Smartwatch", 249), ("Bluetooth Speaker", 69), ("Camera", 649),
               ("Monitor", 279), ("Keyboard", 59), ("Charger", 25), ("Earbuds", 129),
               ("Game Console", 449)),
        brands=("Voltix", "Nexa", "Orbit", "Lumio", "Kairo"),
        bumps=((345, 0.6, 6.0), (200, -0.2, 2.0), (35, -0.25, 10.0)),
        weekly=(0.9, 0.9, 0.9, 0.95, 1.05, 1.3, 1.2),
        black_friday=1.0, christmas=1.0, frequency=0.8,
        extra_lines=0.25, extra_quantity=0.05, return_rate=0.025,
        black_friday_discount=0.2, sale_discount=0.1,
        review_noun="gadget",
        review_details=(
            ("The battery dies within hours.", "It stopped charging after a month.",
             "The connection keeps dropping."),
            ("Setup was a bit fiddly.", "Battery life is average.",
             "The sound is fine for the price."),
            ("The battery lasts for days.", "Setup took two minutes.",
             "Crisp sound and a sharp screen."),
        ),
    ),
    CategorySpec(
        name="grocery", products=150, popularity=0.9,
        items=(("Olive Oil", 8.5), ("Coffee Beans", 7.9), ("Pasta", 1.6), ("Rice", 2.2),
               ("Cereal", 3.9), ("Chocolate", 2.5), ("Tea", 3.5), ("Cheese", 4.9),
               ("Wine", 9.5), ("Honey", 5.5), ("Sparkling Water", 0.9), ("Tomato Sauce", 1.8)),
        brands=("Campo", "La Huerta", "Nordi", "Daily Basket", "Sol"),
        bumps=((20, 0.4, 6.0),),
        weekly=(1.0, 0.95, 0.95, 1.0, 1.1, 1.2, 0.8),
        black_friday=0.05, christmas=0.35, frequency=3.0,
        extra_lines=2.0, extra_quantity=0.8, return_rate=0.002,
        black_friday_discount=0.0, sale_discount=0.0,
        review_noun="product",
        review_details=(
            ("It was past its best-before date.", "It tasted stale.",
             "The packaging was leaking."),
            ("It tastes as expected.", "A bit pricey for the amount.",
             "The packaging could be better."),
            ("Fresh and tasty.", "Great flavour, we buy it every week.",
             "Good quality for the price."),
        ),
    ),
    CategorySpec(
        name="sports", products=70, popularity=0.5,
        items=(("Running Shoes", 99), ("Yoga Mat", 29), ("Dumbbell Set", 79),
               ("Tennis Racket", 119), ("Football", 25), ("Cycling Helmet", 69),
               ("Swimsuit", 39), ("Backpack", 59), ("Water Bottle", 15),
               ("Fitness Tracker", 89)),
        brands=("Stride", "Apex", "Kinetic", "Summit"),
        bumps=((190, 1.0, 3.0),),
        weekly=(0.85, 0.9, 0.9, 0.95, 1.0, 1.4, 1.4),
        black_friday=0.4, christmas=0.3, frequency=1.0,
        extra_lines=0.35, extra_quantity=0.1, return_rate=0.025,
        black_friday_discount=0.15, sale_discount=0.1,
        review_noun="gear",
        review_details=(
            ("It fell apart after a few sessions.", "Uncomfortable during training.",
             "The sizing is way off."),
            ("Fine for casual training.", "The sizing runs a little small.",
             "It does the job at the gym."),
            ("Perfect for my morning runs.", "Sturdy and comfortable in training.",
             "Great grip and feel."),
        ),
    ),
    CategorySpec(
        name="fashion", products=120, popularity=0.8,
        items=(("T-Shirt", 19), ("Jeans", 59), ("Dress", 69), ("Jacket", 129),
               ("Sneakers", 89), ("Scarf", 25), ("Sweater", 49), ("Coat", 179),
               ("Handbag", 99), ("Belt", 29)),
        brands=("Maren", "Atelier 9", "Urbano", "Linea", "Vela"),
        bumps=((105, 0.7, 6.0), (285, 0.7, 6.0)),
        weekly=(0.85, 0.85, 0.9, 0.95, 1.1, 1.45, 1.3),
        black_friday=0.5, christmas=0.3, frequency=1.0,
        extra_lines=0.5, extra_quantity=0.05, return_rate=0.055,
        black_friday_discount=0.25, sale_discount=0.3,
        review_noun="piece",
        review_details=(
            ("The fabric tore after one wash.", "The colour faded quickly.",
             "The fit is terrible."),
            ("The fit is okay.", "The colour is slightly different from the photo.",
             "The fabric is average."),
            ("It fits perfectly.", "Lovely fabric and colour.",
             "I get compliments every time I wear it."),
        ),
    ),
    CategorySpec(
        name="home", products=80, popularity=0.5,
        items=(("Lamp", 45), ("Cushion", 19), ("Bedding Set", 79), ("Cookware Set", 149),
               ("Vase", 29), ("Rug", 119), ("Towel Set", 35), ("Coffee Maker", 89),
               ("Storage Box", 15), ("Candle", 12)),
        brands=("Casa Nova", "Hygge", "Terra", "Nido"),
        bumps=((250, 0.5, 5.0), (80, 0.3, 6.0)),
        weekly=(0.9, 0.9, 0.9, 0.95, 1.0, 1.35, 1.3),
        black_friday=0.5, christmas=0.4, frequency=0.9,
        extra_lines=0.4, extra_quantity=0.15, return_rate=0.02,
        black_friday_discount=0.15, sale_discount=0.2,
        review_noun="item",
        review_details=(
            ("It arrived broken.", "It looks cheap in person.",
             "It stopped working after a week."),
            ("It looks fine in the living room.", "Assembly took a while.",
             "It does what it says."),
            ("It looks great in our living room.", "Really well made.",
             "It makes the house feel cosy."),
        ),
    ),
    CategorySpec(
        name="beauty", products=70, popularity=0.5,
        items=(("Face Cream", 24), ("Shampoo", 8), ("Perfume", 69), ("Lipstick", 18),
               ("Mascara", 15), ("Serum", 35), ("Body Lotion", 12), ("Hair Dryer", 59),
               ("Nail Polish", 9), ("Sunscreen", 16)),
        brands=("Aura", "Belle", "Pura", "Rosa"),
        bumps=((44, 0.6, 40.0), (128, 0.4, 25.0)),
        weekly=(0.95, 0.95, 1.0, 1.0, 1.1, 1.15, 0.95),
        black_friday=0.6, christmas=0.8, frequency=1.2,
        extra_lines=0.6, extra_quantity=0.2, return_rate=0.01,
        black_friday_discount=0.2, sale_discount=0.15,
        review_noun="product",
        review_details=(
            ("It irritated my skin.", "The scent is overpowering.", "No visible effect at all."),
            ("The scent is pleasant but fades.", "The texture is okay.",
             "Not sure it makes a difference."),
            ("My skin feels amazing.", "A lovely scent that lasts all day.",
             "Visible results after a week."),
        ),
    ),
)

# fmt: on

# Review openers per star rating (1..5); "{noun}" takes the category's review noun.
REVIEW_OPENERS: tuple[tuple[str, ...], ...] = (
    (
        "Terrible {noun}, a waste of money.",
        "Awful {noun}, I would not recommend it.",
        "Very disappointed with this {noun}.",
    ),
    (
        "Poor {noun} for the price.",
        "Not great, the {noun} did not match the description.",
        "Below expectations, the {noun} feels cheap.",
    ),
    (
        "The {noun} is okay, nothing special.",
        "Average {noun} that does the job.",
        "Decent {noun} with some minor issues.",
    ),
    (
        "Good {noun}, happy with it.",
        "Nice {noun} and good value for money.",
        "Solid {noun}, I would buy it again.",
    ),
    (
        "Excellent {noun}, highly recommended!",
        "Love this {noun}, perfect quality.",
        "Fantastic {noun}, it exceeded my expectations.",
    ),
)


def review_vocabulary() -> list[str]:
    """Every review text, indexed ``((category*5 + rating-1)*3 + opener)*3 + detail``."""
    texts = []
    for spec in CATEGORIES:
        for rating in range(5):
            sentiment = 0 if rating < 2 else (1 if rating == 2 else 2)
            for opener in REVIEW_OPENERS[rating]:
                for detail in spec.review_details[sentiment]:
                    texts.append(f"{opener.format(noun=spec.review_noun)} {detail}")
    return texts


@dataclass(frozen=True)
class Catalog:
    """Products ordered by (category, price): rank within a category follows price.

    ``product_number`` is the public number behind ``product_id`` (shuffled, so ids do not
    give prices away); ``quality`` is a latent score that lowers returns and lifts ratings.
    """

    category: IntArray
    price: FloatArray
    name: list[str]
    quality: FloatArray
    product_number: IntArray
    offsets: IntArray

    @property
    def size(self) -> int:
        return int(self.price.size)


def build_catalog(rng: np.random.Generator) -> Catalog:
    """Draw the product catalogue: names, list prices around each item's typical price."""
    cats, prices, names = [], [], []
    for c, spec in enumerate(CATEGORIES):
        item = rng.integers(0, len(spec.items), spec.products)
        brand = rng.integers(0, len(spec.brands), spec.products)
        base = np.array([p for _, p in spec.items])[item]
        price = _shop_price(base * rng.lognormal(0.0, 0.3, spec.products))
        order = np.argsort(price, kind="stable")
        cats.append(np.full(spec.products, c, dtype=np.int64))
        prices.append(price[order])
        variants = ("Classic", "Plus", "Pro", "Lite", "Eco", "Max", "Mini", "One")
        names += [
            f"{spec.brands[brand[i]]} {spec.items[item[i]][0]} {variants[k % len(variants)]}"
            for k, i in enumerate(order)
        ]
    category = np.concatenate(cats)
    sizes = np.array([spec.products for spec in CATEGORIES])
    return Catalog(
        category=category,
        price=np.concatenate(prices),
        name=names,
        quality=rng.normal(0.0, 0.5, category.size),
        product_number=rng.permutation(category.size).astype(np.int64) + 1,
        offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
    )


def _shop_price(raw: FloatArray) -> FloatArray:
    """Round like a shop does: x.99 above 10, cents below."""
    return np.where(raw >= 10, np.round(raw) - 0.01, np.round(np.maximum(raw, 0.3), 2))


@dataclass(frozen=True)
class Calendar:
    """Per-day curves over [start, end]: day 0 is ``start``; ``season[c, d]`` is the
    relative order intensity of category c on day d (yearly x weekly x holidays), and
    ``discount[c, d]`` the promotional price cut (a fraction) on that day."""

    start: date
    days: int
    weekday: IntArray
    season: FloatArray
    discount: FloatArray


def build_calendar(start: date, end: date) -> Calendar:
    """Build every category's daily intensity and discount curve for the period."""
    n = (end - start).days + 1
    day = np.datetime64(start, "D") + np.arange(n)
    weekday = (day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    doy = (day - day.astype("datetime64[Y]")).astype(np.int64)
    black_friday, sales_week, christmas, closed = _holidays(start, n)
    season = np.empty((len(CATEGORIES), n))
    discount = np.zeros((len(CATEGORIES), n))
    for c, spec in enumerate(CATEGORIES):
        yearly = np.ones(n)
        for peak, amplitude, sharpness in spec.bumps:
            angle = 2 * np.pi * (doy - peak) / 365.25
            yearly += amplitude * np.exp(sharpness * (np.cos(angle) - 1))
        weekly = np.array(spec.weekly) / np.mean(spec.weekly)
        holiday = 1 + spec.black_friday * black_friday + spec.christmas * christmas
        season[c] = yearly * weekly[weekday] * np.maximum(holiday, 0.2) * closed
        discount[c] = np.where(black_friday >= 1.0, spec.black_friday_discount, 0.0)
        discount[c] = np.where(sales_week, spec.sale_discount, discount[c])
    return Calendar(start=start, days=n, weekday=weekday, season=season, discount=discount)


def _holidays(
    start: date, n: int
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray, FloatArray]:
    """Black Friday weekend boost, winter sales flag, Christmas ramp and closed-day dips."""
    black_friday, christmas, closed = np.zeros(n), np.zeros(n), np.ones(n)
    sales = np.zeros(n, dtype=bool)
    end = start + timedelta(days=n - 1)
    for year in range(start.year - 1, end.year + 1):
        nov1 = date(year, 11, 1)
        friday = nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 22)
        boosts = {
            -7: 0.3,
            -6: 0.3,
            -5: 0.3,
            -4: 0.3,
            -3: 0.3,
            -2: 0.4,
            -1: 0.6,
            0: 3.0,
            1: 1.5,
            2: 1.0,
            3: 2.2,
        }
        for offset, boost in boosts.items():
            _put(black_friday, (friday - start).days + offset, boost)
        for december in range(1, 24):
            _put(christmas, (date(year, 12, december) - start).days, 0.3 + 0.8 * december / 23)
        for quiet in (date(year, 12, 24), date(year, 12, 31)):
            _put(closed, (quiet - start).days, 0.7)
        for holiday in (date(year, 12, 25), date(year + 1, 1, 1)):
            _put(closed, (holiday - start).days, 0.35)
        first_sale = (date(year, 12, 26) - start).days
        sales[max(first_sale, 0) : max(first_sale + 12, 0)] = True
    return black_friday, sales, christmas, closed


def _put(curve: FloatArray, index: int, value: float) -> None:
    if 0 <= index < curve.size:
        curve[index] = value
