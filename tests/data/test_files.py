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


def test_a_line_short_of_several_columns_is_one_malformed_line(con, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,ordered_at,amount,city,region\n1,2024-01-02,5,a,b\n2\n")
    result = read_file(con, path, "raw")
    assert result.rows == 1
    assert [(line, text) for line, text, _ in result.malformed] == [(3, "2")]


def write_parts(folder: Path, parts: dict[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    for name, text in parts.items():
        (folder / name).write_text(text)


def test_a_folder_of_parts_is_one_table_in_the_order_of_their_numbers(con, tmp_path: Path) -> None:
    """orders_2 comes before orders_10; hidden files and Spark's _SUCCESS are not read;
    a part with a header and no rows adds nothing; a malformed line names its file."""
    write_parts(
        tmp_path / "export",
        {
            "orders_10.csv": "customer_id,amount\n3,30\n",
            "orders_2.csv": "amount,customer_id\n20,2\n21,2,extra\n",  # columns swapped
            "orders_1.csv": "customer_id,amount\n1,10\n",
            "orders_3.csv": "customer_id,amount\n",
            "_SUCCESS": "",
            ".orders_4.csv.crc": "x",
        },
    )
    result = read_file(con, tmp_path / "export", "raw")
    assert result.columns == ["customer_id", "amount"]
    assert rows(con, "raw") == [("1", "10"), ("2", "20"), ("3", "30")]
    assert result.parts == [
        ("orders_1.csv", 1),
        ("orders_2.csv", 1),
        ("orders_3.csv", 0),
        ("orders_10.csv", 1),
    ]
    [(line, text, why)] = result.malformed
    assert (line, text) == (3, "21,2,extra") and why.endswith("(in orders_2.csv)")
    # a glob reads the files it matches, in the same order
    glob = read_file(con, tmp_path / "export" / "orders_1*.csv", "raw_glob")
    assert rows(con, "raw_glob") == [("1", "10"), ("3", "30")]
    assert [name for name, _ in glob.parts] == ["orders_1.csv", "orders_10.csv"]


def test_parts_of_one_export_must_have_its_columns(con, tmp_path: Path) -> None:
    write_parts(
        tmp_path / "export",
        {"a.csv": "customer_id,amount\n1,10\n", "b.csv": "customer_id,total,city\n2,5,x\n"},
    )
    with pytest.raises(SourceUnreadable) as info:
        read_file(con, tmp_path / "export", "raw")
    assert info.value.where.endswith("b.csv")
    assert "lacks 'amount'; it has 'total', 'city' besides" in str(info.value)
    assert "a.csv" in str(info.value)


def test_folders_and_globs_that_name_no_file_say_so(con, tmp_path: Path) -> None:
    write_parts(tmp_path / "empty", {"notes.md": "x", "_SUCCESS": ""})
    with pytest.raises(SourceNotFound, match="holds no CSV, Parquet or XLSX file"):
        read_file(con, tmp_path / "empty", "raw")
    with pytest.raises(SourceNotFound, match=r"no file matches '.*orders_\*\.csv'"):
        read_file(con, tmp_path / "empty" / "orders_*.csv", "raw")
    write_parts(
        tmp_path / "headers", {"a.csv": "customer_id,amount\n", "b.csv": "customer_id,amount\n"}
    )
    with pytest.raises(EmptySource, match="the 2 files have a header but no data rows"):
        read_file(con, tmp_path / "headers", "raw")


def test_parquet_parts_are_read_as_one_table(con, tmp_path: Path) -> None:
    """A folder of part files, and partition folders by a ``**`` glob (a
    folder of subfolders alone says how); parts of other column types are refused."""
    for folder, i in (("2023", 1), ("2024", 2), ("2024", 10)):
        (tmp_path / "orders" / folder).mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.table({"customer_id": [i], "amount": [i * 1.5]}),
            tmp_path / "orders" / folder / f"part-{i}.parquet",
        )
    read_file(con, tmp_path / "orders" / "2024", "raw")
    assert rows(con, "raw") == [(2, 3.0), (10, 15.0)]
    nested = read_file(con, tmp_path / "orders" / "**" / "*.parquet", "raw")
    assert nested.rows == 3
    assert [n for n, _ in nested.parts] == ["part-1.parquet", "part-2.parquet", "part-10.parquet"]
    # parts that share a name are named by their folder too
    pq.write_table(
        pa.table({"customer_id": [4], "amount": [6.0]}),
        tmp_path / "orders" / "2023" / "part-2.parquet",
    )
    shared = read_file(con, tmp_path / "orders" / "**" / "*.parquet", "raw")
    assert [n for n, _ in shared.parts] == [
        "2023/part-1.parquet",
        "2023/part-2.parquet",
        "2024/part-2.parquet",
        "2024/part-10.parquet",
    ]
    with pytest.raises(SourceNotFound, match="its subfolders are not read") as info:
        read_file(con, tmp_path / "orders", "raw")
    assert "*.parquet" in (info.value.hint or "")
    pq.write_table(
        pa.table({"customer_id": [3], "amount": [pa.scalar([1], pa.list_(pa.int64())).as_py()]}),
        tmp_path / "orders" / "2024" / "part-11.parquet",
    )
    with pytest.raises(SourceUnreadable, match="the parts cannot be read as one table") as info:
        read_file(con, tmp_path / "orders" / "2024", "raw")
    assert 'column "amount"' in str(info.value)


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
