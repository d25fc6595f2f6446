"""Write-back tables in the shop's own database, against real PostgreSQL and MariaDB:
written rows read back equal, a refresh replaces, a failure midway keeps the old rows,
and every misconfiguration is a clear error that never shows the password."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from custintel import writeback
from custintel.errors import ConfigError, InputError, SourceConnectionError
from custintel.writeback import (
    DEFAULT_FORECASTS_TABLE,
    DEFAULT_NOTES_TABLE,
    DEFAULT_SEGMENTS_TABLE,
    ValueNotes,
    WritebackSettings,
    load_writeback_settings,
    write_forecasts,
    write_segments,
)

SECRET = "s3cret-Pw"
AS_OF = date(2024, 6, 1)
SERVERS = [pytest.param(s, marks=pytest.mark.services) for s in ("postgres", "mariadb")]


@pytest.fixture(params=SERVERS)
def url(request: pytest.FixtureRequest) -> str:
    """A fresh empty database on each real server."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def _segments(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array(["Champions", "Loyal", "At Risk", "Hibernating"])
    clusters = rng.integers(0, 4, n)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:06d}" for i in range(n)],
            "rfm_segment": names[rng.integers(0, 4, n)],
            "cluster": clusters,
            "cluster_name": [f"cluster {c}" for c in clusters],
            "r_score": rng.integers(1, 6, n),
            "f_score": rng.integers(1, 6, n),
            "m_score": rng.integers(1, 6, n),
            "expected_spend": rng.gamma(2.0, 50.0, n).round(2),
            "churn_probability": rng.random(n).round(4),
        }
    )


def _forecasts(days: int, series: tuple[str, ...] = ("total", "shoes")) -> pd.DataFrame:
    dates = pd.date_range("2024-06-01", periods=days, freq="D")
    parts = []
    for k, name in enumerate(series):
        base = 100.0 * (k + 1) + np.arange(days)
        parts.append(
            pd.DataFrame(
                {
                    "series": name,
                    "date": dates,
                    "forecast": base,
                    "lower_80": base - 10,
                    "upper_80": base + 10,
                    "lower_95": base - 20,
                    "upper_95": base + 20,
                    "model": "AutoETS",
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _settings(url: str, **options: Any) -> WritebackSettings:
    settings = WritebackSettings.from_options({"url": url, **options})
    assert settings is not None
    return settings


def _read(url: str, table: str, schema: str | None = None) -> list[dict[str, Any]]:
    """Every row as the driver returns it (no SQLAlchemy type processing)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    name = f"{schema}.{table}" if schema else table
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {name}"))]
    finally:
        engine.dispose()


@pytest.fixture()
def count_inserts() -> Iterator[list[str]]:
    """The INSERT statements every engine sends while the test runs."""
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", listen)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", listen)


# --- writing to real servers -----------------------------------------------------------


def test_segments_read_back_equal(url: str) -> None:
    frame = _segments(500)
    assert write_segments(_settings(url), frame, model_version=3, as_of=AS_OF) == 500

    rows = sorted(_read(url, DEFAULT_SEGMENTS_TABLE), key=lambda r: r["customer_id"])
    assert len(rows) == 500
    first = rows[0]
    assert first["customer_id"] == "c000000"
    assert first["segment"] == frame.loc[0, "rfm_segment"]
    assert first["cluster"] == frame.loc[0, "cluster"]
    assert first["model_version"] == 3 and first["as_of"] == AS_OF
    assert first["clv"] is None  # absent from the frame: NULL
    back = pd.DataFrame(rows)
    for column in ("r_score", "f_score", "m_score", "cluster"):
        assert back[column].tolist() == frame[column].tolist()
    assert np.allclose(back["expected_spend"], frame["expected_spend"])
    assert np.allclose(back["churn_probability"], frame["churn_probability"])
    assert back["written_at"].nunique() == 1


def test_forecasts_read_back_equal(url: str) -> None:
    frame = _forecasts(30)
    settings = _settings(url)
    assert write_forecasts(settings, frame, model_version=1, timeframe="daily") == 60

    back = pd.DataFrame(_read(url, DEFAULT_FORECASTS_TABLE)).sort_values(["series", "date"])
    expected = frame.sort_values(["series", "date"])
    assert back["series"].tolist() == expected["series"].tolist()
    assert back["date"].tolist() == expected["date"].dt.date.tolist()
    assert back["predicted_amount"].tolist() == expected["forecast"].tolist()
    assert back["lower_bound"].tolist() == expected["lower_95"].tolist()
    assert back["upper_bound"].tolist() == expected["upper_95"].tolist()
    assert back["upper_80"].tolist() == expected["upper_80"].tolist()
    assert set(back["timeframe"]) == {"daily"}


def _notes(version: int, churn_status: str = "measured") -> ValueNotes:
    """A value version's statements, one with a note longer than an id column holds."""
    return ValueNotes(
        version=version,
        as_of=AS_OF,
        statements=[
            {
                "output": "expected_spend",
                "status": "measured",
                "model": "blend",
                "note": "RMSE 110",
            },
            {
                "output": "churn_probability",
                "status": churn_status,
                "model": "btyd",
                "note": "ROC-AUC 0.51; " + "that ranking could not be told from chance " * 10,
            },
            {"output": "clv", "status": "not measured", "model": None, "note": "over 365 days"},
        ],
    )


def test_value_notes_are_written_with_the_segments(url: str) -> None:
    """The notes table says what the value columns rest on, for the value version they
    came from, and a refresh replaces it with the segments."""
    settings = _settings(url)
    write_segments(settings, _segments(20), model_version=4, as_of=AS_OF, notes=_notes(7))
    notes = sorted(_read(url, DEFAULT_NOTES_TABLE), key=lambda r: r["column_name"])
    expected = sorted(_notes(7).statements, key=lambda s: s["output"])
    assert [(n["column_name"], n["status"], n["model"], n["note"]) for n in notes] == [
        (s["output"], s["status"], s["model"], s["note"]) for s in expected
    ]
    assert {(n["value_version"], n["as_of"]) for n in notes} == {(7, AS_OF)}
    segments = _read(url, DEFAULT_SEGMENTS_TABLE)
    assert {n["written_at"] for n in notes} == {r["written_at"] for r in segments}

    write_segments(
        settings,
        _segments(20),
        model_version=5,
        as_of=AS_OF,
        notes=_notes(8, churn_status="no better than chance"),
    )
    notes = _read(url, DEFAULT_NOTES_TABLE)
    assert len(notes) == 3 and {n["value_version"] for n in notes} == {8}
    flagged = [n["column_name"] for n in notes if n["status"] == "no better than chance"]
    assert flagged == ["churn_probability"]


def test_a_refused_note_keeps_the_previous_segments_and_notes(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segments and notes change in one transaction: a note the database refuses,
    written after every segment row, leaves both tables as they were."""
    settings = _settings(url)
    write_segments(settings, _segments(30, seed=1), model_version=1, as_of=AS_OF, notes=_notes(1))
    before = (_read(url, DEFAULT_SEGMENTS_TABLE), _read(url, DEFAULT_NOTES_TABLE))
    checked = writeback._rows

    def with_bad_note(frame: pd.DataFrame, spec: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = checked(frame, spec, **kwargs)
        if spec is writeback._NOTE_COLUMNS:
            rows[-1]["status"] = None  # NOT NULL in the table
        return rows

    monkeypatch.setattr(writeback, "_rows", with_bad_note)
    with pytest.raises(InputError, match="previous content is kept"):
        write_segments(
            settings, _segments(40, seed=2), model_version=2, as_of=AS_OF, notes=_notes(2)
        )
    assert (_read(url, DEFAULT_SEGMENTS_TABLE), _read(url, DEFAULT_NOTES_TABLE)) == before


def test_a_second_refresh_replaces_the_content(url: str) -> None:
    settings = _settings(url)
    write_segments(settings, _segments(300, seed=1), model_version=1, as_of=AS_OF)
    write_segments(settings, _segments(200, seed=2), model_version=2, as_of=date(2024, 7, 1))

    rows = _read(url, DEFAULT_SEGMENTS_TABLE)
    assert len(rows) == 200
    assert len({r["customer_id"] for r in rows}) == 200
    assert {(r["model_version"], r["as_of"]) for r in rows} == {(2, date(2024, 7, 1))}


def test_forecast_refresh_replaces_only_its_timeframe(url: str) -> None:
    settings = _settings(url)
    write_forecasts(settings, _forecasts(10), model_version=1, timeframe="daily")
    weekly = _forecasts(4, series=("total",)).drop(columns="series")  # no series: total
    write_forecasts(settings, weekly, model_version=1, timeframe="W")
    write_forecasts(settings, _forecasts(5), model_version=2, timeframe="daily")

    back = pd.DataFrame(_read(url, DEFAULT_FORECASTS_TABLE))
    counts = back.groupby(["timeframe", "series", "model_version"]).size().to_dict()
    assert counts == {
        ("daily", "shoes", 2): 5,
        ("daily", "total", 2): 5,
        ("weekly", "total", 1): 4,
    }


def test_a_failure_midway_keeps_the_previous_content(
    url: str, monkeypatch: pytest.MonkeyPatch, count_inserts: list[str]
) -> None:
    settings = _settings(url)
    write_segments(settings, _segments(250, seed=1), model_version=1, as_of=AS_OF)
    before = sorted(_read(url, DEFAULT_SEGMENTS_TABLE), key=lambda r: r["customer_id"])

    # A row that passes custintel's checks but breaks NOT NULL in the database, in the
    # third chunk: the first two chunks are inserted before the database refuses it.
    monkeypatch.setattr(writeback, "CHUNK_ROWS", 100)
    checked = writeback._rows

    def with_bad_row(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = checked(*args, **kwargs)
        rows[230]["segment"] = None
        return rows

    monkeypatch.setattr(writeback, "_rows", with_bad_row)
    count_inserts.clear()
    with pytest.raises(InputError) as caught:
        write_segments(settings, _segments(250, seed=2), model_version=2, as_of=AS_OF)
    assert len(count_inserts) >= 3  # the refusal came midway, after earlier chunks
    assert "previous content is kept" in str(caught.value)
    assert DEFAULT_SEGMENTS_TABLE in str(caught.value)

    after = sorted(_read(url, DEFAULT_SEGMENTS_TABLE), key=lambda r: r["customer_id"])
    assert after == before


def test_an_incompatible_table_is_refused_not_altered(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {DEFAULT_SEGMENTS_TABLE} "
                "(customer_id VARCHAR(50), segment VARCHAR(50), score INTEGER)"
            )
        )
        conn.execute(sa.text(f"INSERT INTO {DEFAULT_SEGMENTS_TABLE} VALUES ('a', 'b', 1)"))
    engine.dispose()

    with pytest.raises(ConfigError) as caught:
        write_segments(_settings(url), _segments(10), model_version=1, as_of=AS_OF)
    message = str(caught.value)
    assert "lacks cluster, cluster_name, r_score" in message
    assert "has score" in message
    assert 'segments_table = "custintel_customer_segments_custintel"' in message
    assert _read(url, DEFAULT_SEGMENTS_TABLE) == [{"customer_id": "a", "segment": "b", "score": 1}]


def test_custom_table_names(url: str) -> None:
    settings = _settings(url, segments_table="ci_segments", forecasts_table="ci_forecasts")
    write_segments(settings, _segments(5), model_version=1, as_of=AS_OF)
    write_forecasts(settings, _forecasts(3), model_version=1, timeframe="monthly")
    assert len(_read(url, "ci_segments")) == 5
    assert len(_read(url, "ci_forecasts")) == 6


@pytest.mark.services
def test_schema_option_on_postgresql(postgres_url: str) -> None:
    settings = _settings(postgres_url, schema="analytics")
    with pytest.raises(ConfigError, match="schema 'analytics' does not exist") as caught:
        write_segments(settings, _segments(5), model_version=1, as_of=AS_OF)
    assert "CREATE SCHEMA analytics" in str(caught.value)

    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA analytics"))
    engine.dispose()
    write_segments(settings, _segments(5), model_version=1, as_of=AS_OF)
    write_forecasts(settings, _forecasts(3), model_version=1, timeframe="daily")

    assert len(_read(postgres_url, DEFAULT_SEGMENTS_TABLE, schema="analytics")) == 5
    assert len(_read(postgres_url, DEFAULT_FORECASTS_TABLE, schema="analytics")) == 6
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    assert DEFAULT_SEGMENTS_TABLE not in sa.inspect(engine).get_table_names()
    engine.dispose()


# --- frames that cannot be written ------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        pytest.param(["cluster", "m_score"], "cluster, m_score", id="two"),
        pytest.param(["rfm_segment"], "segment", id="segment"),
    ],
)
def test_missing_frame_columns_are_named(drop: list[str], named: str) -> None:
    # Checked before any connection: the URL points nowhere.
    settings = _settings(f"postgresql://u:{SECRET}@127.0.0.1:1/x")
    with pytest.raises(InputError, match=f"lack column\\(s\\) {named};"):
        write_segments(settings, _segments(3).drop(columns=drop), model_version=1, as_of=AS_OF)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"rfm_segment": None}, "column segment: 1 missing value", id="null"),
        pytest.param({"r_score": "high"}, "column r_score: 1 value(s) are not numbers", id="text"),
        pytest.param({"r_score": 2.5}, "not whole numbers", id="fraction"),
        pytest.param({"customer_id": "c000000"}, "2 rows share a key", id="duplicate"),
        pytest.param({"customer_id": "x" * 300}, "longer than 255", id="long"),
    ],
)
def test_bad_values_are_refused_before_writing(change: dict[str, Any], message: str) -> None:
    frame = _segments(3).astype(object)
    for column, value in change.items():
        frame.loc[2, column] = value
    settings = _settings(f"mysql://u:{SECRET}@127.0.0.1:1/x")
    with pytest.raises(InputError) as caught:
        write_segments(settings, frame, model_version=1, as_of=AS_OF)
    assert message in str(caught.value)
    assert "rows 2" in str(caught.value) or "rows 0, 2" in str(caught.value)


def test_unknown_timeframe() -> None:
    settings = _settings("postgresql://u@127.0.0.1:1/x")
    with pytest.raises(ConfigError, match="timeframe='hourly' is not one of daily, weekly"):
        write_forecasts(settings, _forecasts(2), model_version=1, timeframe="hourly")


# --- a server that is down ---------------------------------------------------------------


@pytest.mark.parametrize(
    "down",
    [f"postgresql://postgres:{SECRET}@127.0.0.1:1/shop", f"mysql://root:{SECRET}@127.0.0.1:1/shop"],
    ids=["postgres", "mysql"],
)
def test_a_down_server_names_the_host_not_the_password(down: str) -> None:
    with pytest.raises(SourceConnectionError) as caught:
        write_segments(_settings(down), _segments(3), model_version=1, as_of=AS_OF)
    error = caught.value
    assert "127.0.0.1:1" in error.message
    assert error.where is not None and "***" in error.where
    assert SECRET not in str(error) and SECRET not in repr(error.args)
    assert error.hint is not None and "server is running" in error.hint
    assert error.exit_code == 69


def test_a_down_server_hint_names_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOP_DB_URL", f"postgresql://postgres:{SECRET}@127.0.0.1:1/shop")
    settings = WritebackSettings.from_options({"url_env": "SHOP_DB_URL"})
    assert settings is not None
    with pytest.raises(SourceConnectionError) as caught:
        write_forecasts(settings, _forecasts(2), model_version=1, timeframe="daily")
    assert "environment variable SHOP_DB_URL" in str(caught.value)
    assert SECRET not in str(caught.value)


# --- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [None, {}, {"enabled": False}, {"enabled": False, "url_env": "UNSET_VARIABLE_X"}],
    ids=["none", "empty", "disabled", "disabled-unset-env"],
)
def test_writeback_off(options: dict[str, Any] | None) -> None:
    assert WritebackSettings.from_options(options) is None


def test_settings_defaults_and_driver() -> None:
    settings = _settings(f"postgresql://shop:{SECRET}@db.example:5433/shop")
    assert settings.url.startswith("postgresql+psycopg://shop:")
    assert settings.segments_table == DEFAULT_SEGMENTS_TABLE
    assert settings.forecasts_table == DEFAULT_FORECASTS_TABLE
    assert settings.schema is None
    assert SECRET not in repr(settings)
    assert settings.where == "postgresql+psycopg://shop:***@db.example:5433/shop"
    assert _settings("mariadb://root@db/shop").url.startswith("mysql+pymysql://")


def test_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_DB_URL", f"mysql://app:{SECRET}@db/shop")
    settings = WritebackSettings.from_options({"url_env": "SHOP_DB_URL", "schema": "shop"})
    assert settings is not None
    assert settings.url == f"mysql+pymysql://app:{SECRET}@db/shop"
    assert settings.url_env == "SHOP_DB_URL"
    assert settings.schema == "shop"


@pytest.mark.parametrize(
    ("options", "message", "hint"),
    [
        pytest.param(
            {"url": "postgresql://db/x", "table": "t"},
            "unknown key(s) 'table'",
            "segments_table",
            id="unknown-key",
        ),
        pytest.param({"schema": "x"}, "needs the shop database's URL", "url_env", id="no-url"),
        pytest.param(
            {"url": "postgresql://db/x", "url_env": "X"},
            "both url and url_env",
            "remove url",
            id="both",
        ),
        pytest.param(
            {"url_env": "CUSTINTEL_TEST_UNSET_URL"},
            "url_env names CUSTINTEL_TEST_UNSET_URL, which is not set",
            "set CUSTINTEL_TEST_UNSET_URL",
            id="env-unset",
        ),
        pytest.param({"url_env": 3}, "url_env=3", "SHOP_DB_URL", id="env-not-text"),
        pytest.param({"url": 5}, "url should be a SQLAlchemy URL", "postgresql://", id="url-5"),
        pytest.param(
            {"url": f"postgresql://u:{SECRET}@db:port/x"},
            "url is not a database URL: 'postgresql+psycopg://u:***@db:port/x'",
            "SQLAlchemy URL",
            id="bad-url",
        ),
        pytest.param(
            {"url": "postgresql://db/x", "enabled": "yes"},
            "enabled='yes' should be true or false",
            "enabled = true",
            id="enabled",
        ),
        pytest.param(
            {"url": "postgresql://db/x", "segments_table": "drop table; x"},
            "segments_table='drop table; x' is not a plain table/schema name",
            "letters, digits and underscores",
            id="table-name",
        ),
        pytest.param(
            {"url": "postgresql://db/x", "schema": ""},
            "schema='' is not a plain",
            'schema = "analytics"',
            id="schema",
        ),
        pytest.param(
            {"url": "postgresql://db/x", "segments_table": "t", "forecasts_table": "T"},
            "segments_table and forecasts_table are both 't'",
            "its own name",
            id="same-table",
        ),
        pytest.param(
            {"url": "postgresql://db/x", "forecasts_table": "f", "notes_table": "F"},
            "forecasts_table and notes_table are both 'f'",
            "its own name",
            id="same-notes-table",
        ),
    ],
)
def test_settings_errors_name_the_key_and_the_fix(
    options: dict[str, Any], message: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUSTINTEL_TEST_UNSET_URL", raising=False)
    with pytest.raises(ConfigError) as caught:
        WritebackSettings.from_options(options)
    error = caught.value
    assert message in error.message
    assert error.hint is not None and hint in error.hint
    assert error.where == "custintel.toml [writeback]"
    assert SECRET not in str(error)


def test_settings_from_custintel_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "custintel.toml"
    assert load_writeback_settings(path) is None
    path.write_text('[tables.orders]\npath = "orders.csv"\n')
    assert load_writeback_settings(path) is None
    path.write_text('[writeback]\nurl_env = "SHOP_DB_URL"\nforecasts_table = "forecasts"\n')
    monkeypatch.setenv("SHOP_DB_URL", "postgresql://app@db/shop")
    settings = load_writeback_settings(path)
    assert settings is not None and settings.forecasts_table == "forecasts"
    path.write_text("[writeback\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_writeback_settings(path)
