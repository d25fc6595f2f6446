"""The exception hierarchy: every error has its codes, and lower-level errors are
translated into ours where they are raised."""

from __future__ import annotations

from pathlib import Path

import pytest

import custintel.errors as errors
from custintel.data import Store, load_mapping, load_preset
from custintel.errors import ConfigError, CustintelError, MissingColumns, StoreError


def all_error_classes() -> list[type[CustintelError]]:
    found, todo = [], [CustintelError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_has_codes_a_title_and_is_exported(cls: type[CustintelError]) -> None:
    assert cls.__name__ in errors.__all__
    assert 1 <= cls.exit_code < 128
    assert 400 <= cls.http_status < 600
    assert cls.title
    if cls is not CustintelError:
        assert cls.__doc__


def test_message_carries_where_and_fix() -> None:
    error = errors.SourceNotFound("file not found", where="/x.csv", hint="check the path")
    assert str(error) == "/x.csv: file not found\nFix: check the path"


def test_missing_columns_suggests_close_names() -> None:
    error = MissingColumns(["customer_id", "amount"], ["CustomerID", "Total", "Date"])
    assert "'customer_id' (closest: 'CustomerID')" in error.message
    assert "'amount'" in error.message
    assert "'Total', 'Date'" in error.message


def test_locked_store_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    Store(path).close()
    path.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(StoreError, match="cannot open the store") as info:
        Store(path)
    assert info.value.where == str(path)


def test_missing_store_read_only_says_to_sync(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist") as info:
        Store(tmp_path / "none.duckdb", read_only=True)
    assert "custintel sync" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables = [", "not valid TOML"),
        ("[tables.order]\npath = 'x.csv'", "did you mean 'orders'"),
        ("[tables.orders.columns]\ncustomer = 'x'", "did you mean 'customer_id'"),
        ("[tables.orders]\npath = 'a.csv'\ntable = 'b'", "only one of path, table, query"),
        ("preset = 'larvel'", "did you mean 'laravel'"),
        ("bogus = 1", "bogus"),
    ],
    ids=["toml", "table-name", "column-name", "two-origins", "preset", "unknown-key"],
)
def test_bad_mapping_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "custintel.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_mapping(path)
    assert info.value.where == str(path) or "preset" in text


def test_mapping_file_not_found_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_mapping(tmp_path / "nope.toml")


@pytest.mark.parametrize("preset", ["laravel", "b2b", "store_chain", "spanish_shop"])
def test_every_preset_loads(preset: str) -> None:
    mapping = load_preset(preset, source="sqlite:///x.db")
    assert mapping.tables["orders"].query
    assert mapping.source == "sqlite:///x.db"
