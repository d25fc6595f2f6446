"""Shared test fixtures: real database servers, temp data directories, small shops.

Service fixtures skip with the reason when a server is absent, and fail instead when
CUSTINTEL_REQUIRE_SERVICES=1 (as in CI), so a missing server can never pass unseen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from custintel.config import Settings
from servers import MARIADB_ADMIN_URL, POSTGRES_ADMIN_URL, need_service


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"custintel_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    need_service("MariaDB", "127.0.0.1", 3306)
    name = f"custintel_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(MARIADB_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    url = sa.make_url(MARIADB_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture()
def redis_url() -> str:
    """Redis on 127.0.0.1:6379 (skips, or fails when services are required, without it)."""
    need_service("Redis", "127.0.0.1", 6379)
    return "redis://127.0.0.1:6379/0"


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory, set as CUSTINTEL_HOME for the test."""
    path = tmp_path / "home"
    monkeypatch.setenv("CUSTINTEL_HOME", str(path))
    return path


@dataclass(frozen=True)
class DemoBuild:
    """The demo shop as ``custintel demo`` built it, and what the command printed."""

    settings: Settings
    output: str


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """``custintel demo --customers 1000 --no-serve`` as a new user runs it, once per
    session (about 80 s): the CLI's own test reads its output, and the modules that read
    the shop or add versions to it (the dashboard's agreement check, the training tests)
    use its data directory."""
    from typer.testing import CliRunner

    from custintel.cli import app

    home = tmp_path_factory.mktemp("demo-home") / "home"
    result = CliRunner().invoke(
        app, ["demo", "--customers", "1000", "--no-serve"], env={"CUSTINTEL_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    return DemoBuild(settings=Settings(home=home), output=result.output)


@pytest.fixture(scope="session")
def built_demo(demo_build: DemoBuild) -> Settings:
    """Settings over the demo shop at 1,000 customers with every capability trained."""
    return demo_build.settings
