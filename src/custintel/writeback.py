"""Write-back tables: custintel's results in the shop's own database.

A shop's web app (Laravel on MySQL/MariaDB, Django or Rails on PostgreSQL...) reads
customer segments and sales forecasts straight from tables that custintel keeps in the
shop's database, configured by the ``[writeback]`` table of custintel.toml::

    [writeback]
    url_env = "SHOP_DB_URL"        # or url = "mysql://custintel@db/shop"
    schema = "analytics"           # optional
    segments_table = "custintel_customer_segments"
    forecasts_table = "custintel_sales_forecasts"
    notes_table = "custintel_value_notes"
    enabled = true

The notes table says what each value column of the segments table rests on (the value
version's statements: measured, rough, no better than chance...), so that a shop page
can tell whether ranking customers by ``churn_probability`` means anything; it is
replaced in the same transaction as the segments.

Each refresh replaces a table's content (for forecasts: the rows of one timeframe) in
one transaction: a ``DELETE`` then chunked bulk inserts inside one ``engine.begin()``,
so the shop's app reads either the old rows or the new ones, never a half-written table,
and a failure midway leaves the old rows in place. ``DELETE``, not ``TRUNCATE``: MySQL
commits implicitly on ``TRUNCATE`` and PostgreSQL's blocks readers until commit.

Tables are created when missing (portable SQLAlchemy Core types); a table that exists
with other columns is never altered, it is refused with a ConfigError.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from custintel.errors import ConfigError, InputError, SourceConnectionError

__all__ = [
    "DEFAULT_FORECASTS_TABLE",
    "DEFAULT_NOTES_TABLE",
    "DEFAULT_SEGMENTS_TABLE",
    "TIMEFRAMES",
    "ValueNotes",
    "WritebackSettings",
    "forecasts_table",
    "load_writeback_settings",
    "notes_table",
    "segments_table",
    "write_forecasts",
    "write_segments",
]

DEFAULT_SEGMENTS_TABLE = "custintel_customer_segments"
DEFAULT_FORECASTS_TABLE = "custintel_sales_forecasts"
DEFAULT_NOTES_TABLE = "custintel_value_notes"
TIMEFRAMES = ("daily", "weekly", "monthly")
_TIMEFRAME_ALIASES = {"d": "daily", "w": "weekly", "m": "monthly"}
# Rows per INSERT executemany: large enough for the drivers' multi-row VALUES batching
# (psycopg through SQLAlchemy's insertmanyvalues, PyMySQL's own rewrite), small enough
# to keep the Python parameter lists of one chunk modest in memory.
CHUNK_ROWS = 10_000
ID_LENGTH = 255  # customer ids, series and names: VARCHAR(255), indexable on utf8mb4
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")  # room for index name prefixes
_KEYS = ("url", "url_env", "schema", "segments_table", "forecasts_table", "notes_table", "enabled")
# The [writeback] keys naming a table, with their defaults.
_TABLE_KEYS = (
    ("segments_table", DEFAULT_SEGMENTS_TABLE),
    ("forecasts_table", DEFAULT_FORECASTS_TABLE),
    ("notes_table", DEFAULT_NOTES_TABLE),
)
_WHERE = "custintel.toml [writeback]"
_DRIVERS = (
    ("postgresql://", "postgresql+psycopg://"),
    ("postgres://", "postgresql+psycopg://"),
    ("mysql://", "mysql+pymysql://"),
    ("mariadb://", "mysql+pymysql://"),
)


@dataclass(frozen=True)
class WritebackSettings:
    """Where the write-back tables live. ``url`` may hold a password: it is kept out of
    ``repr`` and every message (see :attr:`where`)."""

    url: str = field(repr=False)
    schema: str | None = None
    segments_table: str = DEFAULT_SEGMENTS_TABLE
    forecasts_table: str = DEFAULT_FORECASTS_TABLE
    notes_table: str = DEFAULT_NOTES_TABLE
    url_env: str | None = None  # the environment variable the URL came from, if any

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> WritebackSettings | None:
        """Settings from the ``[writeback]`` table, or None when write-back is off (no
        table, an empty one, or ``enabled = false``)."""
        if not options:
            return None
        if not isinstance(options, dict):
            raise ConfigError(
                f"[writeback] should be a table, not {options!r}",
                where=_WHERE,
                hint='write it as [writeback] with url_env = "SHOP_DB_URL" below',
            )
        unknown = sorted(set(options) - set(_KEYS))
        if unknown:
            raise ConfigError(
                f"[writeback] has unknown key(s) {', '.join(map(repr, unknown))}",
                where=_WHERE,
                hint=f"use only {', '.join(_KEYS)}",
            )
        enabled = options.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(
                f"[writeback] enabled={enabled!r} should be true or false",
                where=_WHERE,
                hint="write enabled = true (or false to turn write-back off)",
            )
        schema = options.get("schema")
        if schema is not None:
            _check_name("schema", schema)
        tables = {key: options.get(key, default) for key, default in _TABLE_KEYS}
        for key, value in tables.items():
            _check_name(key, value)
        named: dict[str, str] = {}  # lower-cased name -> the first key giving it
        for key, name in tables.items():
            first = named.setdefault(name.lower(), key)
            if first != key:
                raise ConfigError(
                    f"[writeback] {first} and {key} are both {tables[first]!r}",
                    where=_WHERE,
                    hint="give each table its own name",
                )
        if not enabled:
            return None
        url, url_env = _url_from(options)
        return cls(
            url=url,
            schema=schema,
            segments_table=tables["segments_table"],
            forecasts_table=tables["forecasts_table"],
            notes_table=tables["notes_table"],
            url_env=url_env,
        )

    @property
    def where(self) -> str:
        """The URL with its password masked, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def qualified(self, table: str) -> str:
        return f"{self.schema}.{table}" if self.schema else table


def load_writeback_settings(path: Path) -> WritebackSettings | None:
    """The ``[writeback]`` settings of a custintel.toml, or None when it has none."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", where=str(path)) from None
    return WritebackSettings.from_options(document.get("writeback"))


def segments_table(name: str = DEFAULT_SEGMENTS_TABLE, schema: str | None = None) -> sa.Table:
    """The customer segments table: one row per customer."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("customer_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("segment", sa.String(ID_LENGTH), nullable=False),
        sa.Column("cluster", sa.Integer, nullable=False),
        sa.Column("cluster_name", sa.String(ID_LENGTH), nullable=False),
        sa.Column("r_score", sa.Integer, nullable=False),
        sa.Column("f_score", sa.Integer, nullable=False),
        sa.Column("m_score", sa.Integer, nullable=False),
        sa.Column("expected_spend", sa.Double, nullable=True),
        sa.Column("churn_probability", sa.Double, nullable=True),
        sa.Column("clv", sa.Double, nullable=True),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("written_at", sa.DateTime, nullable=False),  # UTC
        sa.Index(f"ux_{name}_customer_id", "customer_id", unique=True),
        schema=schema,
    )


def forecasts_table(name: str = DEFAULT_FORECASTS_TABLE, schema: str | None = None) -> sa.Table:
    """The sales forecasts table: one row per timeframe, series and date."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("predicted_amount", sa.Double, nullable=False),
        sa.Column("lower_bound", sa.Double, nullable=False),  # 95 % interval
        sa.Column("upper_bound", sa.Double, nullable=False),
        sa.Column("lower_80", sa.Double, nullable=True),
        sa.Column("upper_80", sa.Double, nullable=True),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("series", sa.String(ID_LENGTH), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("written_at", sa.DateTime, nullable=False),  # UTC
        sa.Index(f"ux_{name}_key", "timeframe", "series", "date", unique=True),
        sa.Index(f"ix_{name}_date", "date"),
        schema=schema,
    )


def notes_table(name: str = DEFAULT_NOTES_TABLE, schema: str | None = None) -> sa.Table:
    """The value notes table: one row per value column of the segments table, saying
    what it rests on (``custintel score``'s "what each column rests on")."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("column_name", sa.String(ID_LENGTH), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("model", sa.String(ID_LENGTH), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("value_version", sa.Integer, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("written_at", sa.DateTime, nullable=False),  # UTC
        sa.Index(f"ux_{name}_column_name", "column_name", unique=True),
        schema=schema,
    )


@dataclass(frozen=True)
class ValueNotes:
    """The value version behind a segments table's spend, churn and CLV columns, and
    its statements (``eligibility`` of its summary: output, status, model, note)."""

    version: int
    as_of: date
    statements: Sequence[dict[str, Any]]


# Frame column -> (table column, kind, required). Kinds: str (at most ID_LENGTH
# characters), text, int, float, date.
_SEGMENT_COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("customer_id", "customer_id", "str", True),
    ("segment", "segment", "str", True),
    ("cluster", "cluster", "int", True),
    ("cluster_name", "cluster_name", "str", True),
    ("r_score", "r_score", "int", True),
    ("f_score", "f_score", "int", True),
    ("m_score", "m_score", "int", True),
    ("expected_spend", "expected_spend", "float", False),
    ("churn_probability", "churn_probability", "float", False),
    ("clv", "clv", "float", False),
)
_NOTE_COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("output", "column_name", "str", True),
    ("status", "status", "str", True),
    ("model", "model", "str", False),
    ("note", "note", "text", True),
)
_FORECAST_COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("date", "date", "date", True),
    ("forecast", "predicted_amount", "float", True),
    ("lower_95", "lower_bound", "float", True),
    ("upper_95", "upper_bound", "float", True),
    ("lower_80", "lower_80", "float", False),
    ("upper_80", "upper_80", "float", False),
    ("series", "series", "str", False),
)
# Other names a frame may use: the CLI's vocabulary, or the table's own.
_ALIASES = {
    "segment": ("rfm_segment",),
    "forecast": ("predicted_amount",),
    "lower_95": ("lower_bound",),
    "upper_95": ("upper_bound",),
}


def write_segments(
    settings: WritebackSettings,
    frame: pd.DataFrame,
    *,
    model_version: int,
    as_of: date,
    notes: ValueNotes | None = None,
) -> int:
    """Replace the segments table's content with ``frame`` (one row per customer:
    customer_id, segment or rfm_segment, cluster, cluster_name, r_score, f_score,
    m_score, and expected_spend, churn_probability, clv when present). With ``notes``
    (the value version those three columns come from), the notes table is replaced in
    the same transaction. Returns the segment rows written."""
    table = segments_table(settings.segments_table, settings.schema)
    rows = _rows(
        frame, _SEGMENT_COLUMNS, key=("customer_id",), where=settings.qualified(table.name)
    )
    written_at = _now()
    stamp = {"model_version": model_version, "as_of": as_of, "written_at": written_at}
    for row in rows:
        row.update(stamp)
    contents = [_Content(table, rows, "segments_table")]
    if notes is not None:
        noted = notes_table(settings.notes_table, settings.schema)
        note_rows = _rows(
            pd.DataFrame(list(notes.statements), columns=["output", "status", "model", "note"]),
            _NOTE_COLUMNS,
            key=("output",),
            where=settings.qualified(noted.name),
        )
        about = {"value_version": notes.version, "as_of": notes.as_of, "written_at": written_at}
        for row in note_rows:
            row.update(about)
        contents.append(_Content(noted, note_rows, "notes_table"))
    _replace(settings, *contents)
    return len(rows)


def write_forecasts(
    settings: WritebackSettings, frame: pd.DataFrame, *, model_version: int, timeframe: str
) -> int:
    """Replace the forecasts of ``timeframe`` (daily, weekly or monthly; D/W/M too) with
    ``frame`` (series, date, forecast, lower_95, upper_95, lower_80, upper_80 as
    ``custintel forecast`` writes them; series "total" when absent). Forecasts of other
    timeframes are kept, so one table holds daily, weekly and monthly side by side.
    Returns the rows written."""
    name = _TIMEFRAME_ALIASES.get(timeframe.lower(), timeframe.lower())
    if name not in TIMEFRAMES:
        raise ConfigError(
            f"timeframe={timeframe!r} is not one of {', '.join(TIMEFRAMES)}",
            hint="pass daily, weekly or monthly (or D, W, M)",
        )
    table = forecasts_table(settings.forecasts_table, settings.schema)
    if "series" not in frame.columns:
        frame = frame.assign(series="total")
    rows = _rows(
        frame, _FORECAST_COLUMNS, key=("series", "date"), where=settings.qualified(table.name)
    )
    stamp = {"model_version": model_version, "timeframe": name, "written_at": _now()}
    for row in rows:
        row.update(stamp)
    _replace(settings, _Content(table, rows, "forecasts_table", table.c.timeframe == name))
    return len(rows)


# --- writing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Content:
    """New rows for ``table`` (named by the [writeback] key ``key``), replacing all its
    rows or, with ``only``, those that match it."""

    table: sa.Table
    rows: list[dict[str, Any]]
    key: str
    only: sa.ColumnElement[bool] | None = None


def _replace(settings: WritebackSettings, *contents: _Content) -> None:
    """Create each table if missing, then delete and insert every table's rows in one
    transaction: the shop's app reads all the old contents or all the new ones."""
    names = ", ".join(settings.qualified(c.table.name) for c in contents)
    where = f"{settings.where} table {names}"
    with _engine(settings) as engine, _connect(engine, settings) as conn:
        with _translated(settings, where, "prepare"), conn.begin():
            for content in contents:
                _ensure_table(conn, settings, content.table, content.key)
        with _translated(settings, where, "write"), conn.begin():
            for content in contents:
                table, rows = content.table, content.rows
                delete = (
                    table.delete() if content.only is None else table.delete().where(content.only)
                )
                conn.execute(delete)
                for start in range(0, len(rows), CHUNK_ROWS):
                    conn.execute(table.insert(), rows[start : start + CHUNK_ROWS])


def _ensure_table(conn: Connection, settings: WritebackSettings, table: sa.Table, key: str) -> None:
    inspector = sa.inspect(conn)
    if settings.schema is not None and settings.schema not in inspector.get_schema_names():
        raise ConfigError(
            f"schema {settings.schema!r} does not exist",
            where=settings.where,
            hint=f"create it (CREATE SCHEMA {settings.schema}) or remove schema from [writeback]",
        )
    if not inspector.has_table(table.name, schema=settings.schema):
        table.create(conn)
        return
    present = {
        c["name"].lower(): c["name"] for c in inspector.get_columns(table.name, settings.schema)
    }
    expected = [c.name for c in table.columns]
    missing = [c for c in expected if c.lower() not in present]
    extra = sorted(
        name for low, name in present.items() if low not in {c.lower() for c in expected}
    )
    if missing or extra:
        differences = []
        if missing:
            differences.append(f"it lacks {', '.join(missing)}")
        if extra:
            differences.append(f"it has {', '.join(extra)} that custintel does not write")
        raise ConfigError(
            f"table {settings.qualified(table.name)} exists with other columns than "
            f"custintel's: {'; '.join(differences)}",
            where=settings.where,
            hint=f'set {key} = "{table.name}_custintel" (or another free name) in '
            "[writeback]; custintel never alters or drops a table it does not recognise",
        )


@contextmanager
def _engine(settings: WritebackSettings) -> Iterator[Engine]:
    try:
        # No pool: a refresh uses one connection, and nothing should outlive the call.
        engine = sa.create_engine(settings.url, poolclass=sa.pool.NullPool)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"no driver for this URL: {exc}",
            where=settings.where,
            hint="use postgresql://... or mysql://... (drivers custintel ships)",
        ) from None
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _connect(engine: Engine, settings: WritebackSettings) -> Iterator[Connection]:
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        url = make_url(settings.url)
        source = f"the environment variable {settings.url_env}" if settings.url_env else "url"
        raise SourceConnectionError(
            f"cannot connect to the write-back database on {url.host}:{url.port or 'default'}"
            f": {_driver_message(exc, settings)}",
            where=settings.where,
            hint="check that the database server is running and that host, port, user, "
            f"password and database name in [writeback] {source} are right",
        ) from None
    with conn:
        yield conn


@contextmanager
def _translated(settings: WritebackSettings, where: str, step: str) -> Iterator[None]:
    """Driver errors as custintel's; the transaction is rolled back, the old rows kept."""
    kept = " nothing was changed, the previous content is kept" if step == "write" else ""
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise SourceConnectionError(
            f"the write-back database failed during the {step}: "
            f"{_driver_message(exc, settings)};{kept}",
            where=where,
            hint="check the database server and the user's privileges (CREATE, SELECT, "
            "INSERT, DELETE on the table), then run the refresh again",
        ) from None
    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
        raise InputError(
            f"the database rejected a row: {_driver_message(exc, settings)};{kept}",
            where=where,
            hint="check the results for missing or out-of-range values",
        ) from None
    except sa.exc.DBAPIError as exc:
        raise ConfigError(
            f"the write-back database refused the {step}: {_driver_message(exc, settings)};{kept}",
            where=where,
            hint="grant the user CREATE, SELECT, INSERT and DELETE on the table, or create "
            "the table yourself from docs/writeback.md",
        ) from None


# --- frames to rows --------------------------------------------------------------------


def _rows(
    frame: pd.DataFrame,
    spec: Sequence[tuple[str, str, str, bool]],
    *,
    key: tuple[str, ...],
    where: str,
) -> list[dict[str, Any]]:
    """Check and convert ``frame`` into parameter dicts keyed by table column."""
    present = set(frame.columns)
    chosen: dict[str, str] = {}  # canonical frame name -> name used in this frame
    missing = []
    for name, _column, _kind, required in spec:
        found = next((n for n in (name, *_ALIASES.get(name, ())) if n in present), None)
        if found is not None:
            chosen[name] = found
        elif required:
            missing.append(name)
    if missing:
        raise InputError(
            f"the results lack column(s) {', '.join(missing)}; the columns present are "
            f"{', '.join(map(str, frame.columns)) or 'none'}",
            where=f"write-back {where}",
            hint="pass the frame that custintel produced (segment/score, forecast output)",
        )
    values: dict[str, list[Any]] = {}
    for name, column, kind, required in spec:
        if name in chosen:
            values[column] = _convert(frame[chosen[name]], name, kind, required, where)
    key_columns = [c for n, c, _k, _r in spec if n in key]
    duplicated = frame.assign(**{c: values[c] for c in key_columns}).duplicated(
        key_columns, keep=False
    )
    if duplicated.any():
        raise InputError(
            f"{int(duplicated.sum())} rows share a key ({', '.join(key)}), e.g. rows "
            f"{_positions(duplicated)}",
            where=f"write-back {where}",
            hint=f"keep one row per {', '.join(key)}",
        )
    columns = list(values)
    return [dict(zip(columns, row, strict=True)) for row in zip(*values.values(), strict=True)]


def _convert(series: pd.Series, name: str, kind: str, required: bool, where: str) -> list[Any]:
    place = f"write-back {where}, column {name}"
    if kind == "date":
        try:
            parsed = pd.to_datetime(series)
        except (ValueError, TypeError) as exc:
            raise InputError(f"values that are no dates: {exc}", where=place) from None
        series = parsed.dt.date.where(parsed.notna(), None)
    elif kind in ("int", "float"):
        numbers = pd.to_numeric(series, errors="coerce")
        bad = numbers.isna() & series.notna()
        if bad.any():
            raise InputError(
                f"{int(bad.sum())} value(s) are not numbers, e.g. "
                f"{series[bad].head(3).tolist()!r} (rows {_positions(bad)})",
                where=place,
            )
        if kind == "int":
            fraction = numbers.notna() & (numbers != numbers.round())
            if fraction.any():
                raise InputError(
                    f"{int(fraction.sum())} value(s) are not whole numbers, e.g. "
                    f"{numbers[fraction].head(3).tolist()!r} (rows {_positions(fraction)})",
                    where=place,
                )
        series = numbers
    nulls = series.isna()
    if required and nulls.any():
        raise InputError(
            f"{int(nulls.sum())} missing value(s) (rows {_positions(nulls)})",
            where=place,
            hint=f"every row needs a {name}",
        )
    if kind in ("str", "text"):
        text = series.astype(str)
        too_long = (text.str.len() > ID_LENGTH) & ~nulls
        if kind == "str" and too_long.any():
            raise InputError(
                f"{int(too_long.sum())} value(s) longer than {ID_LENGTH} characters "
                f"(rows {_positions(too_long)})",
                where=place,
            )
        # None, not NaN, where a value is missing: a driver would write NaN as 'NaN'.
        return [None if null else value for value, null in zip(text, nulls, strict=True)]
    if kind == "int":
        return series.astype("int64").tolist() if not nulls.any() else _nullable(series, int)
    if kind == "float":
        return series.astype(float).tolist() if not nulls.any() else _nullable(series, float)
    return list(series)


def _nullable(series: pd.Series, cast: type) -> list[Any]:
    return [None if pd.isna(v) else cast(v) for v in series.tolist()]


def _positions(mask: pd.Series, n: int = 5) -> str:
    """The first ``n`` 0-based row positions where ``mask`` holds."""
    positions = [int(i) for i in mask.to_numpy().nonzero()[0][:n]]
    more = ", ..." if int(mask.sum()) > n else ""
    return ", ".join(map(str, positions)) + more


# --- settings helpers ------------------------------------------------------------------


def _url_from(options: dict[str, Any]) -> tuple[str, str | None]:
    url, env = options.get("url"), options.get("url_env")
    if url is not None and env is not None:
        raise ConfigError(
            "[writeback] has both url and url_env",
            where=_WHERE,
            hint="keep url_env (the password stays out of the file) and remove url",
        )
    if url is None and env is None:
        raise ConfigError(
            "[writeback] needs the shop database's URL",
            where=_WHERE,
            hint='add url_env = "SHOP_DB_URL" and set that environment variable to a '
            "SQLAlchemy URL such as mysql://user:password@host/shop",
        )
    if env is not None:
        if not isinstance(env, str) or not env:
            raise ConfigError(
                f"[writeback] url_env={env!r} should name an environment variable",
                where=_WHERE,
                hint='for example url_env = "SHOP_DB_URL"',
            )
        url = os.environ.get(env)
        if not url:
            raise ConfigError(
                f"[writeback] url_env names {env}, which is not set",
                where=_WHERE,
                hint=f"set {env} to the shop database's URL, e.g. "
                f"{env}=mysql://user:password@host/shop",
            )
    if not isinstance(url, str) or not url:
        raise ConfigError(
            f"[writeback] url should be a SQLAlchemy URL string, not {url!r}",
            where=_WHERE,
            hint='for example url = "postgresql://custintel@db/shop"',
        )
    for prefix, full in _DRIVERS:
        if url.startswith(prefix):
            url = full + url[len(prefix) :]
            break
    try:
        parsed: URL = make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is no number
        shown = re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", url)
        raise ConfigError(
            f"[writeback] {'url_env ' + str(env) if env else 'url'} is not a database URL: "
            f"{shown!r}",
            where=_WHERE,
            hint="use a SQLAlchemy URL such as postgresql://user@host/shop or "
            "mysql://user:password@host/shop",
        ) from None
    return parsed.render_as_string(hide_password=False), env


def _check_name(key: str, value: Any) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(
            f"[writeback] {key}={value!r} is not a plain table/schema name",
            where=_WHERE,
            hint=f"use letters, digits and underscores (at most 50, not starting with a "
            f'digit), e.g. {key} = "{DEFAULT_SEGMENTS_TABLE if key != "schema" else "analytics"}"',
        )


def _driver_message(exc: BaseException, settings: WritebackSettings) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    text = lines[0] if lines else type(original).__name__
    password = make_url(settings.url).password
    return text.replace(str(password), "***") if password else text


def _now() -> datetime:
    """UTC without tzinfo, to the second: MySQL's DATETIME keeps neither zone nor
    fractions, so the same value reads back on every server."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
