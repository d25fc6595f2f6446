"""Reading files as they come: encodings, delimiters, formats, and files that are wrong."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custintel.data.files import read_file
from custintel.errors import EmptySource, SourceNotFound, SourceUnreadable


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT * EXCLUDE (_row) FROM {table} ORDER BY _row").fetchall()


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8-sig", b""), ("latin-1", b""), ("cp1252", b"")],
    ids=["utf8", "utf8-bom", "latin1", "cp1252"],
)
def test_csv_encodings_are_detected(con, tmp_path: Path, encoding: str, prefix: bytes) -> None:
    text = "customer_id,city,amount\n1,München,10.5\n2,Zürich,3\n3,Crème brûlée,1\n"
    path = tmp_path / "orders.csv"
    path.write_bytes(prefix + text.encode(encoding))
    result = read_file(con, path, "raw")
    assert result.columns == ["customer_id", "city", "amount"]
    assert [r[1] for r in rows(con, "raw")] == ["München", "Zürich", "Crème brûlée"]


def test_given_encoding_wins_over_detection(con, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes("customer_id,city\n1,Málaga\n".encode("latin-1"))
    read_file(con, path, "raw", encoding="latin-1")
    assert rows(con, "raw") == [("1", "Málaga")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semi", "tab", "pipe"])
def test_csv_delimiters_are_sniffed(con, tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        delimiter.join(["customer_id", "ordered_at", "amount"])
        + "\n"
        + delimiter.join(["7", "2024-01-02", "12.50"])
        + "\n"
        + delimiter.join(["8", "2024-01-03", "1"])
        + "\n"
    )
    result = read_file(con, path, "raw")
    assert result.columns == ["customer_id", "ordered_at", "amount"]
    assert rows(con, "raw")[0] == ("7", "2024-01-02", "12.50")


def test_whitespace_separated_log_like_cdnow(con, tmp_path: Path) -> None:
    path = tmp_path / "cdnow.txt"
    path.write_text(
        " customer_id  date number_of_cds  dollar_value\r\n"
        " 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n"
    )
    result = read_file(con, path, "raw")
    assert result.columns == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert rows(con, "raw") == [
        ("00001", "19970101", "1", "11.77"),
        ("00002", "19970112", "1", "12.00"),
    ]


def test_malformed_lines_are_returned_with_their_line_number(con, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,amount\n1,2\n2,3,extra\n3,4\n")
    result = read_file(con, path, "raw")
    assert result.rows == 2
    assert len(result.malformed) == 1
    line, text, why = result.malformed[0]
    assert (line, text) == (3, "2,3,extra")
    assert "too many columns" in why


def test_parquet_keeps_types(con, tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    table = pa.table({"customer_id": [1, 2], "amount": [1.5, 2.0]})
    pq.write_table(table, path)
    result = read_file(con, path, "raw")
    assert result.rows == 2
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE raw)").fetchall())
    assert types["customer_id"] == "BIGINT"
    assert types["amount"] == "DOUBLE"


def test_excel_sheet_is_read(con, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    frame = pd.DataFrame(
        {"customer_id": ["A", "B"], "ordered_at": pd.to_datetime(["2024-01-01", "2024-02-01"])}
    )
    with pd.ExcelWriter(path) as writer:
        frame.to_excel(writer, sheet_name="Orders", index=False)
    read_file(con, path, "raw", sheet="Orders")
    assert [r[0] for r in rows(con, "raw")] == ["A", "B"]
    with pytest.raises(SourceNotFound, match="Nope"):
        read_file(con, path, "raw", sheet="Nope")


def test_missing_file_names_the_path(con, tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound) as info:
        read_file(con, tmp_path / "nope.csv", "raw")
    assert info.value.where == str(tmp_path / "nope.csv")
    assert "check the path" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"customer_id,amount\n", "no data rows")],
    ids=["zero-bytes", "header-only"],
)
def test_empty_files_are_refused(con, tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    with pytest.raises(EmptySource, match=message):
        read_file(con, path, "raw")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("orders.csv", b"\x00\x01\x02PK\x03\x04binary", "binary"),
        ("orders.parquet", b"not parquet at all", "Parquet"),
        ("orders.xlsx", b"not a zip", "Excel"),
        ("orders.xls", b"old", ".xls"),
        ("orders.json", b"{}", "unsupported file type"),
    ],
    ids=["binary-csv", "bad-parquet", "bad-xlsx", "xls", "json"],
)
def test_unreadable_files_say_why(con, tmp_path: Path, name: str, content: bytes, message: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceUnreadable, match=message) as info:
        read_file(con, path, "raw")
    assert info.value.where == str(path)
