"""The built-in presets against real databases: sync, seller filter, incremental sync and
``custintel init``'s schema recognition.

Every preset runs against PostgreSQL (read through ADBC) and MariaDB (read through
SQLAlchemy), and Laravel also against the SQLite file the demo writes. The shop is the
hand-made one of tests/fixtures/preset_schemas.py; expected rows come from its oracle.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

import pytest
import sqlalchemy as sa

from custintel.data import Mapping, Store, SyncReport, load_mapping, load_preset, sync
from custintel.data.inspect import propose_mapping
from fixtures.preset_schemas import (
    CATEGORIES,
    CUSTOMERS,
    ORDERS,
    PRESETS,
    PRODUCTS,
    Customer,
    ExpectedRow,
    Line,
    Order,
    add_order,
    create_preset_db,
    customer_id,
    expected_orders,
    product_id,
    set_order_status,
    status_word,
    with_status,
)

SERVERS = [pytest.param(s, marks=pytest.mark.services) for s in ("postgres", "mariadb")]
CASES = [
    *(
        pytest.param(p, s, id=f"{p}-{s}", marks=pytest.mark.services)
        for p in PRESETS
        for s in ("postgres", "mariadb")
    ),
    pytest.param("laravel", "sqlite", id="laravel-sqlite"),  # the demo's own shop database
]

# Demographic columns each preset brings to customers: store type, value of a Customer.
ATTRIBUTES: dict[str, dict[str, tuple[str, Callable[[Customer], object]]]] = {
    "laravel": {},
    "b2b": {
        "city": ("VARCHAR", attrgetter("city")),
        "urban_rural_classification": ("VARCHAR", attrgetter("area")),
        "male_female_ratio": ("DOUBLE", attrgetter("male_female_ratio")),
        "customer_age_class": ("VARCHAR", attrgetter("age_class")),
        "customer_income_bracket": ("VARCHAR", attrgetter("income_bracket")),
        "customer_education_level": ("VARCHAR", attrgetter("education")),
    },
    "store_chain": {
        "gender": ("VARCHAR", attrgetter("gender")),
        "city": ("VARCHAR", attrgetter("city")),
        "loyalty_tier": ("VARCHAR", attrgetter("loyalty_tier")),
        "birth_date": ("DATE", attrgetter("birth_date")),
    },
    "spanish_shop": {
        "city": ("VARCHAR", attrgetter("city")),
        "gender": ("VARCHAR", attrgetter("gender")),
    },
}
# The shop's new order for the incremental test, and the change to an existing one.
NEW_ORDER = Order(
    11,
    2,
    datetime(2024, 5, 3, 11, 0),
    "completed",
    2,
    (Line(13, 3, 1, Decimal("25.00")), Line(14, 1, 2, Decimal("12.50"))),
)
CHANGED_ORDER, CHANGED_AT = 8, datetime(2024, 5, 5, 9, 0)


@pytest.fixture()
def url(server: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on ``server``: a fresh PostgreSQL/MariaDB database or SQLite file."""
    if server == "sqlite":
        return f"sqlite:///{(tmp_path / 'shop.sqlite').as_posix()}"
    return str(request.getfixturevalue(f"{server}_url"))


def _sync(store: Store, mapping: Mapping, tmp_path: Path) -> SyncReport:
    return sync(store, mapping, rejects_dir=tmp_path / "rejects")


def _orders(store: Store) -> list[ExpectedRow]:
    rows = store.con.execute(
        "SELECT order_id, line_id, customer_id, product_id, category, amount, status, kind, "
        "net_amount FROM orders"
    ).fetchall()
    return sorted(ExpectedRow(*row) for row in rows)


def _counts(report: SyncReport, table: str) -> tuple[int, int, int, int, int]:
    """(read, new, changed, unchanged, rejected) of ``table`` in ``report``."""
    t = report.table(table)
    return t.read, t.inserted, t.updated, t.unchanged, t.rejected


def _check_full_load(store: Store, report: SyncReport, preset: str) -> None:
    """Every table of the shop is in the store, typed and with the refund rule applied."""
    expected = expected_orders(preset)
    assert len(expected) == 13  # 12 lines + the order without items
    assert {r.kind for r in expected} == {"sale", "cancelled", "refunded"}
    assert _counts(report, "customers") == (5, 5, 0, 0, 0)
    assert _counts(report, "products") == (4, 4, 0, 0, 0)
    assert _counts(report, "orders") == (13, 13, 0, 0, 0)
    assert _orders(store) == expected

    products = store.con.execute("SELECT product_id, category FROM products").fetchall()
    assert sorted(products) == sorted(
        (product_id(preset, p.id), CATEGORIES[p.category]) for p in PRODUCTS
    )

    attributes = ATTRIBUTES[preset]
    types = {
        name: t
        for name, t, *_ in store.con.execute("DESCRIBE customers").fetchall()
        if not name.startswith("_")
    }
    assert types == {
        "customer_id": "VARCHAR",
        "signup_at": "TIMESTAMP",
        **{name: t for name, (t, _) in attributes.items()},
    }
    columns = "".join(f", {name}" for name in attributes)
    customers = store.con.execute(
        f"SELECT customer_id, signup_at{columns} FROM customers ORDER BY customer_id"
    ).fetchall()
    date_only = preset in ("store_chain", "spanish_shop")  # their signup column is a DATE
    assert customers == [
        (
            customer_id(preset, c.id),
            datetime.combine(c.signup.date(), time()) if date_only else c.signup,
            *(value(c) for _, value in attributes.values()),
        )
        for c in CUSTOMERS
    ]


def _proposed_mapping(url: str, preset: str, tmp_path: Path) -> Mapping:
    """What `custintel init` writes for the database at ``url``, read back from the file."""
    proposal = propose_mapping(url)
    assert proposal.preset == preset
    # the fixtures declare foreign keys, which MariaDB indexes: nothing to add
    assert not [n for n in proposal.notes if "has no index" in n]
    path = tmp_path / "custintel.toml"
    path.write_text(proposal.toml, encoding="utf-8")
    return load_mapping(path)


@pytest.mark.parametrize(("preset", "server"), CASES)
def test_preset_is_recognised_synced_and_then_synced_incrementally(
    preset: str, url: str, tmp_path: Path
) -> None:
    # One story per shop, as a user lives it: init, sync, sync again, change, sync.
    create_preset_db(url, preset)
    mapping = _proposed_mapping(url, preset, tmp_path)
    assert mapping == load_preset(preset, source=url)
    incremental = mapping.tables["orders"].updated_at is not None
    with Store(None) as store:
        _check_full_load(store, _sync(store, mapping, tmp_path), preset)

        again = _sync(store, mapping, tmp_path)
        for table in ("customers", "products", "orders"):
            assert again.table(table).inserted == 0, table
            assert again.table(table).updated == 0, table
        if incremental:  # only rows updated at or after the watermark are read again
            assert 0 < again.table("orders").read < 15

        set_order_status(url, preset, CHANGED_ORDER, "refunded", CHANGED_AT)
        add_order(url, preset, NEW_ORDER)
        third = _sync(store, mapping, tmp_path)

        # the changed order has one line, the new order two
        read, new, changed, unchanged, rejected = _counts(third, "orders")
        assert (new, changed, rejected) == (2, 1, 0)
        assert unchanged == read - 3
        assert read < 15 if incremental else read == 15
        assert _orders(store) == expected_orders(
            preset, with_status((*ORDERS, NEW_ORDER), CHANGED_ORDER, "refunded", CHANGED_AT)
        )
        changed = store.con.execute(
            "SELECT DISTINCT status, kind, net_amount FROM orders WHERE ordered_at = ?",
            [ORDERS[CHANGED_ORDER - 1].at],
        ).fetchall()
        assert changed == [(status_word(preset, "refunded"), "refunded", 0.0)]


@pytest.mark.parametrize("server", SERVERS)
def test_b2b_seller_company_filters_orders(server: str, url: str, tmp_path: Path) -> None:
    create_preset_db(url, "b2b")
    for seller, rows, sellers in (("Aktina", 9, {"1"}), ("", 13, {"1", "2"})):
        mapping = load_preset("b2b", source=url, params={"seller_company": seller})
        with Store(None) as store:
            report = _sync(store, mapping, tmp_path)
            got = _orders(store)
            synced_sellers = store.con.execute("SELECT DISTINCT seller_id FROM orders")
            assert {r[0] for r in synced_sellers.fetchall()} == sellers  # 1 is Aktina
        expected = expected_orders("b2b", seller_company=seller)
        assert len(expected) == rows
        assert got == expected
        assert report.table("orders").inserted == rows


def _create_clients_and_purchases(url: str) -> None:
    md = sa.MetaData()
    clients = sa.Table(
        "clients",
        md,
        sa.Column("client_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("signup", sa.Date),
        sa.Column("city", sa.String(50)),
    )
    purchases = sa.Table(
        "purchases",
        md,
        sa.Column("purchase_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.client_id")),
        sa.Column("purchased_on", sa.DateTime),
        sa.Column("total", sa.Numeric(10, 2)),
    )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            md.create_all(conn)
            conn.execute(
                clients.insert(),
                [{"client_id": c.id, "signup": c.signup.date(), "city": c.city} for c in CUSTOMERS],
            )
            conn.execute(
                purchases.insert(),
                [
                    {
                        "purchase_id": o.id,
                        "client_id": o.customer,
                        "purchased_on": o.at,
                        "total": o.amount,
                    }
                    for o in ORDERS
                ],
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("server", SERVERS)
def test_propose_mapping_guesses_a_custom_schema(server: str, url: str, tmp_path: Path) -> None:
    _create_clients_and_purchases(url)
    proposal = propose_mapping(url)
    assert proposal.preset is None

    proposed = tomllib.loads(proposal.toml)
    assert proposed["tables"]["orders"] == {
        "table": "purchases",
        "columns": {
            "customer_id": "client_id",
            "ordered_at": "purchased_on",
            "amount": "total",
            "order_id": "purchase_id",
        },
    }
    assert proposed["tables"]["customers"] == {
        "table": "clients",
        "columns": {"customer_id": "client_id", "signup_at": "signup"},
    }
    assert set(proposed["tables"]) == {"orders", "customers"}

    path = tmp_path / "custintel.toml"
    path.write_text(proposal.toml, encoding="utf-8")
    with Store(None) as store:
        report = _sync(store, load_mapping(path), tmp_path)
        totals = store.con.execute(
            "SELECT customer_id, sum(amount) FROM orders GROUP BY 1 ORDER BY 1"
        ).fetchall()
        cities = store.con.execute("SELECT city FROM customers ORDER BY customer_id").fetchall()
    assert _counts(report, "orders") == (10, 10, 0, 0, 0)
    assert _counts(report, "customers") == (5, 5, 0, 0, 0)
    spend = {c.id: float(sum(o.amount for o in ORDERS if o.customer == c.id)) for c in CUSTOMERS}
    assert totals == [(str(c), pytest.approx(total)) for c, total in spend.items()]
    assert cities == [(c.city,) for c in CUSTOMERS]


# Laravel's tables as a migration with plain `unsignedBigInteger` columns makes them:
# primary keys, no index on the columns the preset joins on.
_LARAVEL_WITHOUT_INDEXES = (
    "CREATE TABLE users (id INTEGER PRIMARY KEY, created_at TIMESTAMP NULL, "
    "updated_at TIMESTAMP NULL)",
    "CREATE TABLE categories (id INTEGER PRIMARY KEY, name VARCHAR(50))",
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(50), category_id INTEGER, "
    "price DECIMAL(10, 2))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total_amount DECIMAL(10, 2), "
    "status VARCHAR(20), created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL)",
    "CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER, product_id INTEGER, "
    "quantity INTEGER, price DECIMAL(10, 2), updated_at TIMESTAMP NULL)",
)


@pytest.mark.parametrize("server", [*SERVERS, pytest.param("sqlite", id="sqlite")])
def test_init_names_the_join_index_a_row_by_row_server_needs(server: str, url: str) -> None:
    """MariaDB joins order_items without an index on order_id row by row, on every
    sync: init says so and gives the statement; with the index, or on a server that
    hash-joins (PostgreSQL) or indexes on the fly (SQLite), it says nothing."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in _LARAVEL_WITHOUT_INDEXES:
                conn.execute(sa.text(statement))
        proposal = propose_mapping(url)
        assert proposal.preset == "laravel"
        index_notes = [n for n in proposal.notes if "has no index" in n]
        if server == "mariadb":
            assert index_notes == [
                "order_items.order_id has no index: MySQL and MariaDB join order_items row by row "
                "without one, and every sync can take minutes; add it with "
                "CREATE INDEX order_items_order_id_index ON order_items (order_id)"
            ]
        else:
            assert index_notes == []
        with engine.begin() as conn:
            conn.execute(
                sa.text("CREATE INDEX order_items_order_id_index ON order_items (order_id)")
            )
        assert not [n for n in propose_mapping(url).notes if "has no index" in n]
    finally:
        engine.dispose()
