"""Read a CSV, Parquet or Excel file into a DuckDB temp table, as the file has it.

Columns keep the file's names. CSV cells are read as text (``all_varchar``) so that
validation, not the CSV sniffer, decides what a date or a number is and can reject a
bad cell with its value; Parquet and Excel keep their own types. Malformed CSV lines
(too many or too few fields) are returned as rejects with their line number.

CSV files in another encoding than UTF-8, or separated by runs of spaces (like the
CDNOW log), are first rewritten as UTF-8 comma-separated text in a temp file, in
streaming chunks: DuckDB reads only UTF-8, UTF-16 and Latin-1 by itself.
"""

from __future__ import annotations

import csv
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
from charset_normalizer import from_bytes

from custintel.errors import EmptySource, SourceNotFound, SourceUnreadable

__all__ = ["CSV_SUFFIXES", "FILE_SUFFIXES", "FileRead", "read_file"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
FILE_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES + EXCEL_SUFFIXES
WHITESPACE = "whitespace"
_SNIFF_BYTES = 256 * 1024


@dataclass
class FileRead:
    """What :func:`read_file` loaded: the temp table's name, its columns and bad lines."""

    table: str
    columns: list[str]
    rows: int
    malformed: list[tuple[int, str, str]] = field(default_factory=list)  # line, text, why
    encoding: str | None = None


def read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    target: str,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> FileRead:
    """Load ``path`` into temp table ``target`` with a ``_row`` column (1 = first data row).

    Raises SourceNotFound, SourceUnreadable or EmptySource with the file named.
    """
    path = Path(path)
    if not path.exists():
        raise SourceNotFound(
            "file not found",
            where=str(path),
            hint="check the path (relative paths start from the current directory, "
            "or from the mapping file's folder inside custintel.toml)",
        )
    if path.is_dir():
        raise SourceUnreadable("is a folder, not a file", where=str(path))
    if path.stat().st_size == 0:
        raise EmptySource(
            "the file is empty (0 bytes)",
            where=str(path),
            hint="export the data again; the file has no header and no rows",
        )
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        result = _read_parquet(con, path, target)
    elif suffix in EXCEL_SUFFIXES:
        result = _read_excel(con, path, target, sheet)
    elif suffix in CSV_SUFFIXES:
        result = _read_csv(con, path, target, delimiter, encoding)
    elif suffix == ".xls":
        raise SourceUnreadable(
            "old binary Excel (.xls) is not supported",
            where=str(path),
            hint="open it in Excel or LibreOffice and save it as .xlsx or .csv",
        )
    else:
        raise SourceUnreadable(
            f"unsupported file type {suffix or '(no extension)'!r}",
            where=str(path),
            hint=f"use one of {', '.join(FILE_SUFFIXES)}",
        )
    if result.rows == 0:
        raise EmptySource(
            "the file has a header but no data rows"
            + (f" ({len(result.malformed)} malformed lines)" if result.malformed else ""),
            where=str(path),
            hint="check that the export finished and that the right file was given",
        )
    return result


def _finish(con: duckdb.DuckDBPyConnection, target: str, select: str, params: list) -> FileRead:
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{target}" AS '
        f"SELECT *, row_number() OVER () AS _row FROM ({select})",
        params,
    )
    columns = [c for c in _columns(con, target) if c != "_row"]
    (rows,) = con.execute(f'SELECT count(*) FROM "{target}"').fetchone() or (0,)
    return FileRead(target, columns, rows)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, target: str) -> FileRead:
    try:
        return _finish(con, target, "SELECT * FROM read_parquet(?)", [str(path)])
    except duckdb.Error as exc:
        raise SourceUnreadable(
            f"not a readable Parquet file: {_first_line(exc)}", where=str(path)
        ) from None


def _read_excel(
    con: duckdb.DuckDBPyConnection, path: Path, target: str, sheet: str | None
) -> FileRead:
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=sheet or 0, dtype=object)
    except ValueError as exc:  # pandas: unknown sheet
        if "Worksheet" in str(exc) or "sheet" in str(exc).lower():
            raise SourceNotFound(
                str(exc),
                where=str(path),
                hint="name an existing sheet with `sheet =` in the mapping",
            ) from None
        raise SourceUnreadable(f"not a readable Excel file: {exc}", where=str(path)) from None
    except Exception as exc:  # zipfile.BadZipFile, openpyxl errors, KeyError...
        raise SourceUnreadable(f"not a readable Excel file: {exc}", where=str(path)) from None
    frame.columns = [str(c) for c in frame.columns]
    # Cells of mixed types become text; dates and numbers keep their types.
    for name in frame.columns:
        kinds = {type(v) for v in frame[name].dropna()}
        if len(kinds) > 1:
            frame[name] = frame[name].map(lambda v: None if pd.isna(v) else str(v))
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    con.register("_excel_frame", arrow)
    try:
        return _finish(con, target, "SELECT * FROM _excel_frame", [])
    finally:
        con.unregister("_excel_frame")


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    target: str,
    delimiter: str | None,
    encoding: str | None,
) -> FileRead:
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceUnreadable(
            "this is a binary file, not CSV text",
            where=str(path),
            hint="give a CSV, Parquet or XLSX export",
        )
    encoding = (encoding or _detect_encoding(head, path)).lower().replace("_", "-")
    if delimiter is None and _looks_whitespace_separated(head, encoding):
        delimiter = WHITESPACE
    readable = path
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if encoding not in ("utf-8", "utf-8-sig", "ascii") or delimiter == WHITESPACE:
        tmp = tempfile.TemporaryDirectory(prefix="custintel-csv-")
        readable = Path(tmp.name) / "utf8.csv"
        _rewrite_as_utf8_csv(path, readable, encoding, delimiter == WHITESPACE)
        if delimiter == WHITESPACE:
            delimiter = ","
    options = "header=true, all_varchar=true, store_rejects=true"
    params: list[str] = [str(readable)]
    if delimiter:
        options += ", delim=?"
        params.append("\t" if delimiter in ("\\t", "tab") else delimiter)
    try:
        con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
        result = _finish(con, target, f"SELECT * FROM read_csv(?, {options})", params)
        malformed = [
            (int(line), str(text), str(kind).lower().replace("_", " "))
            for line, text, kind in con.execute(
                "SELECT line, csv_line, error_type FROM reject_errors ORDER BY line"
            ).fetchall()
        ]
    except duckdb.Error as exc:
        raise SourceUnreadable(
            f"cannot parse as CSV: {_first_line(exc)}",
            where=str(path),
            hint="check the delimiter and encoding (`delimiter =`, `encoding =` in the mapping)",
        ) from None
    finally:
        if tmp is not None:
            tmp.cleanup()
    result.malformed = malformed
    result.encoding = encoding
    return result


def _detect_encoding(head: bytes, path: Path) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut at the sniff boundary
            return "utf-8"
    best = from_bytes(head).best()
    if best is None:
        raise SourceUnreadable(
            "cannot detect the text encoding",
            where=str(path),
            hint="give it with `encoding =` in the mapping, e.g. latin-1",
        )
    # Detection cannot tell apart the 8-bit Latin code pages on a short sample; shop
    # exports in them are overwhelmingly Windows-1252 (Excel's default in Western
    # Europe and the Americas), so that is the choice, and `encoding =` overrides it.
    if re.match(r"(cp125\d|latin|iso8859|mac_)", best.encoding):
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    return best.encoding


def _looks_whitespace_separated(head: bytes, encoding: str) -> bool:
    first = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[:1]
    if not first:
        return False
    line = first[0]
    return not re.search(r"[,;\t|]", line) and bool(re.search(r"\S\s{2,}\S|\S \S", line.strip()))


def _rewrite_as_utf8_csv(source: Path, dest: Path, encoding: str, split_whitespace: bool) -> None:
    """Stream ``source`` into ``dest`` as UTF-8, splitting on whitespace runs if asked."""
    try:
        with (
            source.open("r", encoding=encoding, newline="") as src,
            dest.open("w", encoding="utf-8", newline="") as out,
        ):
            if not split_whitespace:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                return
            writer = csv.writer(out)
            for line in src:
                writer.writerow(line.split())
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceUnreadable(
            f"cannot decode as {encoding}: {exc}",
            where=str(source),
            hint="give the right `encoding =` in the mapping",
        ) from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
