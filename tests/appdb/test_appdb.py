"""The app database: migrations, API keys and the model registry, on SQLite and on a
real PostgreSQL server."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from custintel.appdb import AppDB
from custintel.appdb.keys import allows, create_key, list_keys, revoke_key, verify_key
from custintel.appdb.schema import CustomerPrediction
from custintel.errors import ConfigError, NotEnoughData, StoreError
from custintel.registry import ArtifactStore
from custintel.registry.versions import activate, active, add_version, list_versions

TABLES = {
    "api_keys",
    "jobs",
    "model_versions",
    "active_models",
    "segment_assignments",
    "customer_predictions",
    "forecast_points",
    "forecast_backtests",
    "alembic_version",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> AppDB:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    appdb = AppDB(url)
    appdb.migrate()
    yield appdb
    appdb.dispose()


def test_migrations_create_every_table_and_run_twice(db: AppDB) -> None:
    assert db.tables() >= TABLES
    db.migrate()  # already at head: nothing to do, no error
    assert db.tables() >= TABLES


def test_the_migrations_build_what_the_schema_declares(db: AppDB) -> None:
    # An index or column added to schema.py without a migration (or the other way
    # round) shows up here as a difference.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from custintel.appdb.schema import Base

    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("customer_predictions")}
    assert {"ix_customer_predictions_levels", "ix_customer_predictions_clv"} <= indexes


def test_a_key_verifies_until_revoked_and_only_its_hash_is_kept(db: AppDB) -> None:
    with db.session() as s:
        key, info = create_key(s, "predict", name="shop admin")
    assert key.startswith("ci_") and len(key) > 40 and info.scope == "predict"
    with db.session() as s:
        assert verify_key(s, key) is not None
        assert verify_key(s, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert verify_key(s, "not a key") is None
        stored = [k.prefix for k in list_keys(s)]
    assert stored == [key[:11]]
    with db.engine.connect() as c:
        rows = c.exec_driver_sql("SELECT key_hash FROM api_keys").fetchall()
    assert key not in str(rows)
    with db.session() as s:
        revoke_key(s, info.prefix)
    with db.session() as s:
        assert verify_key(s, key) is None
        assert list_keys(s)[0].revoked_at is not None


def test_unknown_scope_and_unknown_prefix_are_refused_with_a_hint(db: AppDB) -> None:
    with db.session() as s, pytest.raises(ConfigError, match="read, predict, admin"):
        create_key(s, "root")
    with db.session() as s, pytest.raises(ConfigError, match="keys list"):
        revoke_key(s, "ci_nothere0")


def test_scopes_are_ordered() -> None:
    assert allows("admin", "read") and allows("predict", "read") and allows("read", "read")
    assert not allows("read", "predict") and not allows("predict", "admin")


def _version(db: AppDB, tmp_path: Path, customers: dict[str, float]) -> int:
    ref = ArtifactStore(tmp_path / "models").save("value", {"customers": len(customers)})
    with db.session() as s:
        row = add_version(
            s,
            ref,
            summary={},
            metrics={"rmse": 1.0},
            as_of=date(2026, 1, 1),
            data_from=date(2024, 1, 1),
            data_to=date(2025, 12, 31),
        )
        s.add_all(
            CustomerPrediction(model_version_id=row.id, customer_id=c, expected_spend=v)
            for c, v in customers.items()
        )
    return ref.version


def test_activation_swaps_the_served_version_and_rolls_back(db: AppDB, tmp_path: Path) -> None:
    first = _version(db, tmp_path, {"a": 1.0, "b": 2.0})
    second = _version(db, tmp_path, {"a": 10.0, "b": 20.0})
    with db.session() as s:
        assert active(s, "value") is None
        activate(s, "value", second)
    with db.session() as s:
        served = active(s, "value")
        assert served is not None and served.version == second
        spend = s.scalar(
            select(CustomerPrediction.expected_spend).where(
                CustomerPrediction.model_version_id == served.id,
                CustomerPrediction.customer_id == "a",
            )
        )
        assert spend == 10.0
        activate(s, "value", first)
    with db.session() as s:
        versions = list_versions(s, "value")
    assert [(v.version, v.active) for v in versions] == [(second, False), (first, True)]
    assert versions[0].data_to == date(2025, 12, 31) and versions[0].metrics == {"rmse": 1.0}


def test_activating_a_missing_version_or_capability_says_what_exists(db: AppDB) -> None:
    with db.session() as s, pytest.raises(NotEnoughData, match="no version 7"):
        activate(s, "value", 7)
    with db.session() as s, pytest.raises(ConfigError, match="segmentation, forecasting"):
        activate(s, "churn", 1)


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    db = AppDB("postgresql+psycopg://u:secret@127.0.0.1:1/x?connect_timeout=2")
    with pytest.raises(StoreError) as caught:
        db.migrate()
    assert "secret" not in str(caught.value) and "DATABASE_URL" in str(caught.value)


def test_an_older_database_is_upgraded_in_place_keeping_its_rows(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from custintel.appdb.db import MIGRATIONS

    db = AppDB(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO model_versions (capability, version, artifact, sha256, summary, "
            "metrics, created_at) VALUES ('segmentation', 1, 'v1.json', 'x', '{}', '{}', "
            "'2026-01-01 00:00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO segment_assignments (model_version_id, customer_id, rfm_segment) "
            "VALUES (1, 'c1', 'Loyal')"
        )
    db.migrate()
    with db.engine.connect() as c:
        row = c.exec_driver_sql(
            "SELECT rfm_segment, monetary FROM segment_assignments WHERE customer_id = 'c1'"
        ).one()
    assert tuple(row) == ("Loyal", None)
    db.dispose()
