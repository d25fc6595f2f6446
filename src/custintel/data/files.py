"""Read a CSV, Parquet or Excel file into a DuckDB temp table, as the file has it.

Columns keep the file's names. CSV cells are read as text (``all_varchar``) so that
validation, not the CSV sniffer, decides what a date or a number is and can reject a
bad cell with its value; Parquet and Excel keep their own types. Malformed CSV lines
(too many or too few fields) are returned as rejects with their line number.

CSV files in another encoding than UTF-8, or separated by runs of spaces (like the
CDNOW log), are first rewritten as UTF-8 comma-separated text in a temp file, in
streaming chunks: DuckDB reads only UTF-8, UTF-16 and Latin-1 by itself.

A folder or a glob pattern reads every export file it holds as one table (an export
split into parts, a folder of Parquet part files): each file is read as above, every
one must have the first one's columns, and the rows are numbered across the files in
the order of their names (``orders_2`` before ``orders_10``).
"""

from __future__ import annotations

import csv
import glob
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
from charset_normalizer import from_bytes

from custintel.errors import EmptySource, SourceNotFound, SourceUnreadable

__all__ = ["CSV_SUFFIXES", "FILE_SUFFIXES", "FileRead", "read_file", "source_files"]

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
    # Of a folder or a glob: each file's name and rows, in the order of ``_row``.
    parts: list[tuple[str, int]] = field(default_factory=list)


def read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    target: str,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> FileRead:
    """Load ``path`` (a file, a folder or a glob pattern) into temp table ``target`` with
    a ``_row`` column (1 = first data row; of several files, counted across them).

    Raises SourceNotFound, SourceUnreadable or EmptySource with the file named.
    """
    files = source_files(Path(path))
    if len(files) == 1 and files[0] == Path(path):
        return _read_one(con, files[0], target, delimiter, encoding, sheet)
    return _read_parts(con, files, target, str(path), delimiter, encoding, sheet)


def source_files(path: Path) -> list[Path]:
    """The files ``path`` names: itself; the export files of a folder (not of its
    subfolders; hidden files and markers such as Spark's ``_SUCCESS`` left out); or the
    files a glob pattern (``exports/orders_*.csv``; ``**`` for any depth of folders)
    matches. Sorted by path with numbers compared as numbers. Raises SourceNotFound
    when there are none."""
    if _GLOB.search(str(path)) and not path.exists():
        matched = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
        if not matched:
            raise SourceNotFound(
                f"no file matches {str(path)!r}",
                hint="check the pattern (** matches any depth of folders)",
            )
        return sorted(matched, key=_natural)
    if path.is_dir():
        found = [
            p
            for p in path.iterdir()
            if p.is_file()
            and not p.name.startswith((".", "_"))
            and p.suffix.lower() in FILE_SUFFIXES
        ]
        if not found:
            raise SourceNotFound(
                "the folder holds no CSV, Parquet or XLSX file (its subfolders are not read)",
                where=str(path),
                hint=f"give a file, a folder of export files ({', '.join(FILE_SUFFIXES)}), "
                f"or a quoted glob such as '{path / '**' / '*.parquet'}'",
            )
        return sorted(found, key=_natural)
    return [path]


_GLOB = re.compile(r"[*?\[]")


def _natural(path: Path) -> list[tuple[int, int | str]]:
    """A sort key on the path that puts ``part_2`` before ``part_10``."""
    return [
        (0, int(piece)) if piece.isdigit() else (1, piece.lower())
        for piece in re.split(r"(\d+)", str(path))
        if piece
    ]


def _read_parts(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    target: str,
    where: str,
    delimiter: str | None,
    encoding: str | None,
    sheet: str | None,
) -> FileRead:
    """The files as one table: the same columns, rows numbered across them in order;
    malformed lines name their file."""
    names = _names(files)
    if all(f.suffix.lower() in PARQUET_SUFFIXES for f in files):
        result = _read_parquet_parts(con, files, names, target)
    else:
        result = _append_parts(con, files, names, target, delimiter, encoding, sheet)
    if result.rows == 0:
        con.execute(f'DROP TABLE IF EXISTS "{target}"')
        raise EmptySource(
            ("the file has" if len(files) == 1 else f"the {len(files)} files have")
            + " a header but no data rows",
            where=where,
            hint="check that the export finished and that the right files were given",
        )
    return result


def _read_parquet_parts(
    con: duckdb.DuckDBPyConnection, files: list[Path], names: list[str], target: str
) -> FileRead:
    """Parquet parts in one scan, which DuckDB spreads over the cores, in file order:
    their columns and row counts come from each file's metadata first."""
    columns: list[str] = []
    counts: list[tuple[str, int]] = []
    for file, name in zip(files, names, strict=True):
        try:
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(file)])
            own = [row[0] for row in described.fetchall()]
            metadata = con.execute(
                "SELECT sum(num_rows) FROM parquet_file_metadata(?)", [str(file)]
            ).fetchone()
        except duckdb.Error as exc:
            raise SourceUnreadable(
                f"not a readable Parquet file: {_first_line(exc)}", where=str(file)
            ) from None
        if columns:
            _check_columns(file, own, names[0], columns)
        columns = columns or own
        counts.append((name, int(metadata[0] or 0) if metadata else 0))
    try:
        result = _finish(
            con,
            target,
            "SELECT * FROM read_parquet(?, union_by_name = true)",
            [[str(f) for f in files]],
        )
    except duckdb.Error as exc:  # e.g. a column whose types in two parts cannot be joined
        raise SourceUnreadable(
            f"the parts cannot be read as one table: {_first_line(exc)}", where=str(files[0].parent)
        ) from None
    result.parts = counts
    return result


def _append_parts(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    names: list[str],
    target: str,
    delimiter: str | None,
    encoding: str | None,
    sheet: str | None,
) -> FileRead:
    """Files read one at a time, each as a single file is, and appended to one table, so
    that memory holds the table and one file."""
    result = FileRead(target, [], 0)
    staging = f"{target}__part"
    for file, name in zip(files, names, strict=True):
        part = _read_one(con, file, staging, delimiter, encoding, sheet, part=True)
        try:
            if not result.parts:
                con.execute(f'CREATE OR REPLACE TEMP TABLE "{target}" AS FROM "{staging}"')
                result.columns = part.columns
            else:
                _check_columns(file, part.columns, names[0], result.columns)
                con.execute(
                    f'INSERT INTO "{target}" BY NAME '
                    f'SELECT * REPLACE (_row + {result.rows} AS _row) FROM "{staging}"'
                )
        except duckdb.Error as exc:  # e.g. Parquet columns whose types cannot be joined
            raise SourceUnreadable(
                f"cannot be read as more rows of {names[0]}: {_first_line(exc)}",
                where=str(file),
            ) from None
        finally:
            con.execute(f'DROP TABLE IF EXISTS "{staging}"')
        result.rows += part.rows
        result.parts.append((name, part.rows))
        result.malformed += [(n, text, f"{why} (in {name})") for n, text, why in part.malformed]
        if part.encoding and part.encoding not in (result.encoding or "").split(", "):
            result.encoding = ", ".join(filter(None, [result.encoding, part.encoding]))
    return result


def _names(files: list[Path]) -> list[str]:
    """How the files are named to the user: by name, or where two share a name (parts
    in several folders), by their path below the folder they have in common."""
    if len({f.name for f in files}) == len(files):
        return [f.name for f in files]
    common = Path(os.path.commonpath([f.parent for f in files]))
    return [f.relative_to(common).as_posix() for f in files]


def _check_columns(file: Path, columns: list[str], first: str, expected: list[str]) -> None:
    """Refuse a part whose columns are not the first part's (in any order), naming both."""
    if set(columns) == set(expected):
        return
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    differences = [f"it lacks {', '.join(map(repr, missing))}"] if missing else []
    differences += [f"it has {', '.join(map(repr, extra))} besides"] if extra else []
    raise SourceUnreadable(
        f"its columns differ from those of {first}: {'; '.join(differences)}",
        where=str(file),
        hint="give the files of one export, or sync each with its own mapping",
    )


def _read_one(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    target: str,
    delimiter: str | None,
    encoding: str | None,
    sheet: str | None,
    *,
    part: bool = False,
) -> FileRead:
    """Read one file; ``part`` (one of several) lets it have a header and no rows."""
    if not path.exists():
        raise SourceNotFound(
            "file not found",
            where=str(path),
            hint="check the path (relative paths start from the current directory, "
            "or from the mapping file's folder inside custintel.toml)",
        )
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
    if result.rows == 0 and not part:
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
                # one row a line: a line short of columns has an error per missing one
                "SELECT line, min(csv_line), min(error_type) FROM reject_errors "
                "GROUP BY line ORDER BY line"
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
