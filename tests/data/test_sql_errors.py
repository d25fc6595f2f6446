"""Database sources that fail: each failure is one of custintel's errors, with the URL
(password hidden), what went wrong and what to check, through the API and the CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from custintel.cli import app
from custintel.data import Mapping, Store, TableMapping, load_preset, sync
from custintel.data.inspect import propose_mapping
from custintel.data.sql import Database
from custintel.errors import (
    ConfigError,
    SourceConnectionError,
    SourceNotFound,
    SourceUnreadable,
)
from fixtures.preset_schemas import create_preset_db

SECRET = "s3cret-Pw"
# Port 1 on the loopback refuses every connection; a password that must never be shown.
DOWN = {
    "postgres": f"postgresql://postgres:{SECRET}@127.0.0.1:1/x",
    "mysql": f"mysql://root:{SECRET}@127.0.0.1:1/x",
}


def _sync(url: str, tables: dict[str, TableMapping]) -> None:
    with Store(None) as store:
        sync(store, Mapping(source=url, tables=tables))


@pytest.mark.parametrize("url", DOWN.values(), ids=DOWN.keys())
@pytest.mark.parametrize("how", ["inspect", "sync-query", "sync-table"])
def test_refused_connection_names_the_url_and_what_to_check(url: str, how: str) -> None:
    with pytest.raises(SourceConnectionError) as caught:
        if how == "inspect":
            propose_mapping(url)
        elif how == "sync-query":  # PostgreSQL queries go through ADBC, not SQLAlchemy
            with Store(None) as store:
                sync(store, load_preset("laravel", source=url))
        else:
            _sync(url, {"orders": TableMapping(table="orders")})
    error = caught.value
    assert error.where is not None and "127.0.0.1:1/x" in error.where
    assert "***" in error.where
    assert SECRET not in str(error)
    assert error.hint is not None and "server is running" in error.hint
    assert error.exit_code == 69


@pytest.mark.services
@pytest.mark.parametrize("server", ["postgres", "mariadb"])
def test_missing_table_names_the_closest_tables(
    server: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(f"{server}_url")
    create_preset_db(url, "laravel")
    with pytest.raises(SourceNotFound) as caught:
        _sync(url, {"orders": TableMapping(table="order_item")})
    error = caught.value
    assert "'order_item' does not exist" in error.message
    assert "closest: order_items, orders" in error.message
    assert error.hint is not None and "custintel init" in error.hint


@pytest.mark.services
@pytest.mark.parametrize("server", ["postgres", "mariadb"])
def test_failing_query_is_unreadable(server: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{server}_url")
    create_preset_db(url, "laravel")
    for query, named in (
        ("SELEC user_id, created_at, total_amount FROM orders", "SELEC"),  # a syntax error
        ("SELECT user_id, created_at, no_such_column FROM orders", "no_such_column"),
        ("SELECT user_id, created_at, total_amount FROM no_such_table", "no_such_table"),
    ):
        with pytest.raises(SourceUnreadable) as caught:
            _sync(url, {"orders": TableMapping(query=query)})
        assert caught.value.message.startswith("query failed: "), query
        assert named in caught.value.message, query  # the server's own words
        assert caught.value.where == Database(url).where, query


def test_missing_sqlite_file_is_not_found_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "no" / "shop.sqlite"
    url = f"sqlite:///{path.as_posix()}"
    for attempt in (
        lambda: propose_mapping(url),
        lambda: _sync(url, {"orders": TableMapping(table="orders")}),
    ):
        with pytest.raises(SourceNotFound) as caught:
            attempt()
        assert str(path) in str(caught.value)
    assert not path.exists()
    assert not path.parent.exists()


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "",
        "nosuchdb://host/db",
        "postgresql+nodriver://u@127.0.0.1/db",
        f"postgresql://u:{SECRET}@127.0.0.1:notaport/db",
    ],
    ids=["words", "empty", "unknown-dialect", "unknown-driver", "bad-port"],
)
def test_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Database(url)
    assert SECRET not in str(caught.value)
    assert caught.value.exit_code == 78


@pytest.mark.parametrize("url", DOWN.values(), ids=DOWN.keys())
def test_cli_sync_with_a_down_server_exits_69_without_traceback(
    url: str, home: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "custintel.toml"
    mapping.write_text(f'source = "{url}"\npreset = "laravel"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["sync", "--mapping", str(mapping)])
    assert result.exit_code == 69, result.output
    assert "error:" in result.output
    assert "127.0.0.1:1/x" in result.output
    assert "server is running" in result.output
    assert SECRET not in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
