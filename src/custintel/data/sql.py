"""Read tables and queries of a SQL database (any SQLAlchemy URL) as Arrow batches.

PostgreSQL goes through ADBC (binary COPY straight into Arrow, no Python objects per
row); every other database goes through SQLAlchemy with a server-side cursor, in
batches, so memory stays flat whatever the table's size. Driver errors are translated
into custintel's: a refused connection, a missing table, a failing query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from custintel.errors import (
    ConfigError,
    SourceConnectionError,
    SourceNotFound,
    SourceUnreadable,
    closest_names,
)

__all__ = ["Database", "SelectSpec"]

BATCH_ROWS = 100_000
_PASSWORD = re.compile(r"(://[^:/@]*:)[^/]*@")  # the password of a URL, to hide it
# "JOIN order_items oi ON oi.order_id = o.id", as the presets write their joins.
_JOIN = re.compile(
    r"\bJOIN\s+(\w+)\s+(?:AS\s+)?(\w+)\s+ON\s+(\w+)\.(\w+)\s*=\s*(\w+)\.(\w+)", re.IGNORECASE
)
# Dialects that join a table without an index on the join column row by row (block
# nested loop): MariaDB by default, MySQL before 8.0.18. PostgreSQL hash-joins and
# SQLite builds a temporary index, so neither needs one for a whole-table read.
ROW_BY_ROW_JOINS = frozenset({"mysql", "mariadb"})


class SelectSpec:
    """What to read from the database: a table or a query, optionally rows since a time."""

    def __init__(
        self,
        *,
        table: str | None = None,
        query: str | None = None,
        updated_at: str | None = None,
        since: datetime | None = None,
        params: dict[str, Any] | None = None,
    ):
        if (table is None) == (query is None):
            raise ConfigError("give exactly one of table or query")
        self.table = table
        self.query = query
        self.updated_at = updated_at
        self.since = since
        self.params = params or {}

    def describe(self) -> str:
        return f"table {self.table}" if self.table else "query"


class Database:
    """A source database reached by a SQLAlchemy URL."""

    def __init__(self, url: str):
        try:
            self.url: URL = make_url(_with_default_driver(url))
        except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is no number
            raise ConfigError(
                f"not a database URL: {_hide_password(url)!r}",
                hint="use a SQLAlchemy URL such as postgresql://user@host/db, "
                "mysql://user:pass@host/db or sqlite:///path/shop.db",
            ) from None
        self.where = self.url.render_as_string(hide_password=True)
        try:
            # No pool: a sync opens few connections, and a pooled one would outlive the
            # Database object, unclosed (ResourceWarning), since nothing disposes the engine.
            self.engine: Engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
            raise ConfigError(f"no driver for this URL: {exc}", where=self.where) from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection, with connection failures translated into SourceConnectionError."""
        if self.dialect == "sqlite":
            database = self.url.database or ""
            if database and database != ":memory:" and not _sqlite_exists(database):
                raise SourceNotFound(
                    "SQLite database file not found",
                    where=self.where,
                    hint="check the path after sqlite:///",
                )
        try:
            conn = self.engine.connect()
        except sa.exc.OperationalError as exc:
            raise SourceConnectionError(
                f"cannot connect: {_driver_message(exc)}",
                where=self.where,
                hint="check that the server is running and that host, port, user, password "
                "and database name in the URL are right",
            ) from None
        try:
            yield conn
        except sa.exc.OperationalError as exc:
            raise SourceConnectionError(
                f"connection lost: {_driver_message(exc)}", where=self.where
            ) from None
        finally:
            conn.close()

    def tables(self) -> dict[str, list[str]]:
        """Every table (and view) name with its column names."""
        with self.connect() as conn:
            inspector = sa.inspect(conn)
            names = inspector.get_table_names() + inspector.get_view_names()
            return {n: [c["name"] for c in inspector.get_columns(n)] for n in sorted(names)}

    def unindexed_joins(self, query: str) -> list[tuple[str, str]]:
        """``(table, column)`` for each ``JOIN table alias ON alias.column = ...`` of
        ``query`` whose column starts no index (nor the primary key) of its table: the
        joins a MySQL or MariaDB server runs row by row. Tables it cannot see are left
        out (the sync names them)."""
        wanted: list[tuple[str, str]] = []
        for table, alias, left, left_column, right, right_column in _JOIN.findall(query):
            if left == alias:
                wanted.append((table, left_column))
            elif right == alias:
                wanted.append((table, right_column))
        missing: list[tuple[str, str]] = []
        with self.connect() as conn:
            inspector = sa.inspect(conn)
            known = set(inspector.get_table_names())
            for table, column in dict.fromkeys(wanted):
                if table not in known:
                    continue
                leading = [i["column_names"][0] for i in inspector.get_indexes(table)]
                primary = inspector.get_pk_constraint(table).get("constrained_columns") or []
                if column not in leading and primary[:1] != [column]:
                    missing.append((table, column))
        return missing

    def check_table(self, table: str) -> None:
        """Raise SourceNotFound, with the closest names, if ``table`` does not exist."""
        with self.connect() as conn:
            inspector = sa.inspect(conn)
            names = inspector.get_table_names() + inspector.get_view_names()
        if table not in names:
            close = closest_names(table, names)
            raise SourceNotFound(
                f"table {table!r} does not exist"
                + (f" (closest: {', '.join(close)})" if close else "")
                + f"; the database has {len(names)} tables",
                where=self.where,
                hint="fix the table name in custintel.toml, or run `custintel init` to "
                "inspect the database",
            )

    def sql_for(self, spec: SelectSpec) -> sa.TextClause:
        """The SELECT statement for ``spec``, with the incremental filter if any."""
        preparer = self.engine.dialect.identifier_preparer
        inner = spec.query or f"SELECT * FROM {preparer.quote(spec.table or '')}"
        params = dict(spec.params)
        if spec.since is not None and spec.updated_at:
            inner = (
                f"SELECT * FROM ({inner}) AS custintel_q "
                f"WHERE {preparer.quote(spec.updated_at)} >= :custintel_since"
            )
            params["custintel_since"] = spec.since
        statement = sa.text(inner)
        # The mapping's [params] are shared by all its queries: bind only those this one uses.
        used = statement.compile().params
        params = {k: v for k, v in params.items() if k in used}
        return statement.bindparams(**params) if params else statement

    def read_batches(self, spec: SelectSpec) -> pa.RecordBatchReader:
        """Stream the rows of ``spec`` as Arrow record batches."""
        if spec.table:
            self.check_table(spec.table)
        statement = self.sql_for(spec)
        if self.dialect == "postgresql":
            return self._read_postgres_adbc(statement)
        return self._read_sqlalchemy(statement)

    def _read_postgres_adbc(self, statement: sa.TextClause) -> pa.RecordBatchReader:
        import adbc_driver_postgresql.dbapi as adbc

        sql = str(
            statement.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True})
        )
        uri = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            conn = adbc.connect(uri)
        except Exception as exc:  # adbc raises its own OperationalError types
            raise SourceConnectionError(
                f"cannot connect: {_driver_message(exc)}",
                where=self.where,
                hint="check that the server is running and that the URL is right",
            ) from None
        cursor = conn.cursor()
        try:
            cursor.execute(sql)
            reader = cursor.fetch_record_batch()
        except Exception as exc:
            cursor.close()
            conn.close()
            raise SourceUnreadable(
                f"query failed: {_driver_message(exc)}", where=self.where
            ) from None

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            except Exception as exc:
                raise SourceConnectionError(
                    f"reading failed: {_driver_message(exc)}", where=self.where
                ) from None
            finally:
                cursor.close()
                conn.close()

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _read_sqlalchemy(self, statement: sa.TextClause) -> pa.RecordBatchReader:
        """Batches whose columns are all text: the driver's Python values are turned into
        strings by Arrow, so types never clash between batches; validation parses them."""
        stack = self.connect()
        conn = stack.__enter__()
        try:
            result = conn.execution_options(stream_results=True).execute(statement)
        except sa.exc.DBAPIError as exc:
            stack.__exit__(None, None, None)
            if exc.connection_invalidated:  # the connection dropped: the query is not at fault
                raise SourceConnectionError(
                    f"connection lost: {_driver_message(exc)}", where=self.where
                ) from None
            # Not only ProgrammingError: PyMySQL reports an unknown column as OperationalError.
            raise SourceUnreadable(
                f"query failed: {_driver_message(exc)}", where=self.where
            ) from None
        names = list(result.keys())
        schema = pa.schema([(n, pa.string()) for n in names])

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for rows in result.partitions(BATCH_ROWS):
                    columns = list(zip(*rows, strict=True))
                    yield pa.record_batch([_as_text(c) for c in columns], schema=schema)
            except sa.exc.DBAPIError as exc:
                raise SourceConnectionError(
                    f"reading failed: {_driver_message(exc)}", where=self.where
                ) from None
            finally:
                result.close()
                stack.__exit__(None, None, None)

        return pa.RecordBatchReader.from_batches(schema, batches())


def _as_text(values: tuple[Any, ...]) -> pa.Array:
    try:
        return pa.array(values).cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _with_default_driver(url: str) -> str:
    """Pick the drivers custintel ships: psycopg 3 for PostgreSQL, PyMySQL for MySQL."""
    for prefix, full in (
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
        ("mysql://", "mysql+pymysql://"),
        ("mariadb://", "mysql+pymysql://"),
    ):
        if url.startswith(prefix):
            return full + url[len(prefix) :]
    return url


def _hide_password(url: str) -> str:
    return _PASSWORD.sub(r"\1***@", url)


def _sqlite_exists(database: str) -> bool:
    from pathlib import Path

    return Path(database).exists()


def _driver_message(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__
