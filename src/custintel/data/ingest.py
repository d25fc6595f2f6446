"""Sync: bring a shop's data from its sources into the store, all or nothing.

For each mapped table (customers, products, orders, reviews, in that order so that
orders can be checked against customers) the rows are read as the source has them and
validated and typed in SQL into temp tables; then all tables are upserted by key in one
store transaction. A corrupt file, a dropped connection or too many rejects leave the
store exactly as it was. Rejected rows are written to a CSV file per table with the
reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from custintel.data.files import read_file
from custintel.data.mapping import Mapping, TableMapping, guess_columns
from custintel.data.model import TABLES
from custintel.data.sql import Database, SelectSpec
from custintel.data.store import Store
from custintel.data.validate import Staged, stage_table
from custintel.errors import ConfigError, EmptySource, RowsRejected, StoreError

__all__ = ["SYNC_ORDER", "SyncReport", "TableReport", "sync"]

SYNC_ORDER = ("customers", "products", "orders", "reviews")
Progress = Callable[[str, str], None]  # (table, step) -> None


@dataclass
class TableReport:
    """What one table's sync did."""

    table: str
    origin: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects_file: Path | None = None
    guessed: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    decimal_commas: list[str] = field(default_factory=list)
    reasons: list[tuple[str, int]] = field(default_factory=list)
    encoding: str | None = None
    key_columns: list[str] = field(default_factory=list)  # what identifies a row
    derived: dict[str, str] = field(default_factory=dict)  # column computed -> formula
    numbered_rows: int = 0  # order rows told apart by a number (validate.Staged)
    parts: list[tuple[str, int]] = field(default_factory=list)  # files read, with rows

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated


@dataclass
class SyncReport:
    """The report of a whole sync, one entry per table."""

    tables: list[TableReport] = field(default_factory=list)

    def table(self, name: str) -> TableReport:
        return next(t for t in self.tables if t.table == name)


def sync(
    store: Store,
    mapping: Mapping,
    *,
    rejects_dir: Path | None = None,
    max_reject_share: float = 0.5,
    progress: Progress | None = None,
) -> SyncReport:
    """Bring every table of ``mapping`` into ``store`` in one transaction.

    Raises RowsRejected (after writing the rejects file) when more than
    ``max_reject_share`` of a table's rows are rejected; nothing is loaded then.
    """
    if "orders" not in mapping.tables:
        raise ConfigError(
            "the mapping has no [tables.orders]: orders are mandatory",
            hint="map your orders table or give --orders FILE",
        )
    database = Database(mapping.source) if mapping.source else None
    step = progress or (lambda table, what: None)
    report = SyncReport()
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    con = store.con
    staged_tables: list[tuple[str, Staged, TableReport]] = []
    try:
        # 1. Read and validate every table into temp tables, outside the transaction:
        # the store is untouched, and the store's tables written in step 2 from temp
        # tables made outside a transaction write twice as fast as from ones made inside.
        for name in SYNC_ORDER:
            table_mapping = mapping.tables.get(name)
            if table_mapping is None:
                continue
            step(name, "read")
            table_report = TableReport(name, _origin(table_mapping, database))
            raw, columns = _read_raw(
                con, store, name, table_mapping, database, mapping, table_report
            )
            step(name, "validate")
            staged = stage_table(
                con,
                raw,
                TABLES[name],
                columns,
                where=table_report.origin,
                target=f"_stage_{name}",
                key=table_mapping.key,
                date_format=table_mapping.date_format,
                decimal=table_mapping.decimal,
                statuses=mapping.statuses,
                known_customers=_known_customers(store) if name == "orders" else None,
                updated_at=table_mapping.updated_at if database else None,
                attributes=table_mapping.attributes,
                keep_duplicates=table_mapping.duplicates == "keep",
            )
            table_report.rejected += staged.rejected
            table_report.date_formats = staged.date_formats
            table_report.decimal_commas = staged.decimal_commas
            table_report.key_columns = staged.key_columns
            table_report.derived = staged.derived
            table_report.numbered_rows = staged.numbered_rows
            table_report.reasons = staged.reasons + table_report.reasons
            if table_report.rejected and rejects_dir is not None:
                table_report.rejects_file = _write_rejects(
                    con, raw, staged, rejects_dir / f"{name}-{stamp}.csv", table_report
                )
            con.execute(f"DROP TABLE IF EXISTS {raw}")
            _check_reject_share(table_report, max_reject_share)
            staged_tables.append((name, staged, table_report))
        # 2. Load them all, or nothing.
        with store.transaction():
            for name, staged, table_report in staged_tables:
                step(name, "load")
                counts = store.upsert(name, staged.table, staged.extra_columns)
                table_report.inserted, table_report.updated = counts.inserted, counts.updated
                table_report.unchanged = counts.unchanged
                store.record_sync(name, table_report.origin, _watermark(store, staged))
                report.tables.append(table_report)
            store.fill_categories_from_products()
    finally:
        for _, staged, _ in staged_tables:
            con.execute(f"DROP TABLE IF EXISTS {staged.table}")
        con.execute("DROP VIEW IF EXISTS _known_customers")
    return report


def _known_customers(store: Store) -> str | None:
    """A view of the customers orders may belong to: those in the store and those
    accepted in this sync; None when neither has any (orders are then not checked)."""
    sources = []
    if store.count("customers"):
        sources.append("SELECT customer_id FROM customers")
    staged = store.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '_stage_customers'"
    ).fetchone()
    if staged and staged[0]:
        sources.append("SELECT customer_id FROM _stage_customers WHERE _reason IS NULL")
    if not sources:
        return None
    store.con.execute(f"CREATE OR REPLACE TEMP VIEW _known_customers AS {' UNION '.join(sources)}")
    return "_known_customers"


def _watermark(store: Store, staged: Staged) -> datetime | None:
    """The latest ``updated_at`` among the accepted rows, for the next incremental sync."""
    if "_updated_at" not in store.columns(staged.table):
        return None
    row = store.con.execute(
        f"SELECT max(_updated_at) FROM {staged.table} WHERE _reason IS NULL"
    ).fetchone()
    return row[0] if row else None


def _origin(table_mapping: TableMapping, database: Database | None) -> str:
    if table_mapping.path is not None or database is None:
        return table_mapping.origin
    return f"{database.where} {table_mapping.origin}"


def _read_raw(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    name: str,
    table_mapping: TableMapping,
    database: Database | None,
    mapping: Mapping,
    report: TableReport,
) -> tuple[str, dict[str, str]]:
    """Load the source rows into temp table ``_raw_<name>``; return it and the columns."""
    raw = f"_raw_{name}"
    if table_mapping.path is not None:
        result = read_file(
            con,
            table_mapping.path,
            raw,
            delimiter=table_mapping.delimiter,
            encoding=table_mapping.encoding,
            sheet=table_mapping.sheet,
        )
        report.read = result.rows + len(result.malformed)
        report.encoding = result.encoding
        report.parts = result.parts
        if result.malformed:
            report.rejected += len(result.malformed)
            report.reasons.append(("malformed line", len(result.malformed)))
            _store_malformed(con, name, result.malformed)
        source_columns = result.columns
    else:
        if database is None:
            raise ConfigError(
                f"[tables.{name}] names a table or query but the mapping has no `source` URL",
                hint='add source = "<SQLAlchemy URL>" or pass --source URL',
            )
        spec = SelectSpec(
            table=table_mapping.table,
            query=table_mapping.query,
            updated_at=table_mapping.updated_at,
            since=store.watermark(name) if table_mapping.updated_at else None,
            params=mapping.params,
        )
        reader, failures = _remember_failure(database.read_batches(spec))
        con.register("_arrow_source", reader)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {raw} AS "
                "SELECT *, row_number() OVER () AS _row FROM _arrow_source"
            )
        except duckdb.Error as exc:
            if failures:  # the source failed mid-stream: DuckDB only has its text
                raise failures[0] from None
            raise StoreError(
                f"loading rows failed: {str(exc).splitlines()[0]}", where=report.origin
            ) from None
        finally:
            con.unregister("_arrow_source")
        source_columns = [c for c in store.columns(raw) if c != "_row"]
        row = con.execute(f"SELECT count(*) FROM {raw}").fetchone()
        report.read = int(row[0]) if row else 0
        if report.read == 0 and store.count(name) == 0:  # nothing now and nothing before
            raise EmptySource(
                f"{spec.describe()} returned no rows",
                where=report.origin,
                hint="check that the table holds data and that the query's filters "
                "(e.g. [params]) select some",
            )
    guessed = guess_columns(name, source_columns)
    columns = {
        **{k: v for k, v in guessed.items() if k not in table_mapping.columns},
        **table_mapping.columns,
    }
    report.guessed = {k: v for k, v in guessed.items() if k not in table_mapping.columns}
    return raw, columns


def _remember_failure(
    reader: pa.RecordBatchReader,
) -> tuple[pa.RecordBatchReader, list[BaseException]]:
    """Wrap ``reader`` so that an error raised while DuckDB pulls batches is kept and can
    be re-raised as itself (DuckDB turns it into a generic error with only its text)."""
    failures: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except BaseException as exc:
            failures.append(exc)
            raise

    return pa.RecordBatchReader.from_batches(reader.schema, batches()), failures


def _store_malformed(
    con: duckdb.DuckDBPyConnection, name: str, malformed: list[tuple[int, str, str]]
) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _malformed_{name} "
        "(_line BIGINT, _text VARCHAR, _reason VARCHAR)"
    )
    con.executemany(
        f"INSERT INTO _malformed_{name} VALUES (?, ?, ?)",
        [(line, text, f"malformed line: {why}") for line, text, why in malformed],
    )


def _write_rejects(
    con: duckdb.DuckDBPyConnection, raw: str, staged: Staged, path: Path, report: TableReport
) -> Path:
    """Write every rejected row with its reason and raw values to ``path`` (CSV); rows
    read from several files also get their file and their row in it (``_file``,
    ``_file_row``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw_cols = [c for c in (r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()) if c != "_row"]
    values = ", ".join(f'CAST(r."{c}" AS VARCHAR) AS "{c}"' for c in raw_cols)
    located = _in_file(report.parts)
    parts = [
        f"SELECT s._row, NULL::BIGINT AS _line, s._reason, {located}{values} "
        f"FROM {staged.table} s JOIN {raw} r ON r._row = s._row WHERE s._reason IS NOT NULL"
    ]
    malformed = f"_malformed_{report.table}"
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [malformed]
    ).fetchone() != (0,):
        nulls = ", ".join(f'NULL AS "{c}"' for c in raw_cols[1:])
        first = f'_text AS "{raw_cols[0]}"' if raw_cols else "_text"
        parts.append(
            f"SELECT NULL::BIGINT, _line, _reason, {'NULL, NULL, ' if located else ''}{first}"
            + (f", {nulls}" if nulls else "")
            + f" FROM {malformed}"
        )
    con.execute(
        f"COPY ({' UNION ALL '.join(parts)} ORDER BY 1 NULLS FIRST, 2) "
        f"TO '{path.as_posix()}' (HEADER, DELIMITER ',')"
    )
    return path


def _in_file(parts: list[tuple[str, int]]) -> str:
    """SQL columns ``_file, _file_row`` of row ``s._row`` among ``parts`` (file names and
    their rows, in ``_row`` order), followed by a comma; '' for one file."""
    if not parts:
        return ""
    files, rows, start = [], [], 0
    for name, count in parts:
        literal = "'" + name.replace("'", "''") + "'"
        files.append(f"WHEN s._row <= {start + count} THEN {literal}")
        rows.append(f"WHEN s._row <= {start + count} THEN s._row - {start}")
        start += count
    return f"CASE {' '.join(files)} END AS _file, CASE {' '.join(rows)} END AS _file_row, "


def _check_reject_share(report: TableReport, max_share: float) -> None:
    if report.read and report.rejected / report.read > max_share:
        top = "; ".join(
            f"{reason} ({n} row{'' if n == 1 else 's'})" for reason, n in report.reasons[:3]
        )
        raise RowsRejected(
            f"{report.rejected} of {report.read} rows rejected ({top}); nothing was loaded",
            where=report.origin,
            hint=(
                f"see {report.rejects_file} for every rejected row and its reason; "
                if report.rejects_file
                else ""
            )
            + "fix the mapping (columns, date_format, delimiter) or the data",
        )
