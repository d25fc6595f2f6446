"""Bulk files: parsing uploads (CSV, XLSX, one column or customer_id) with limits and
errors that name the row and column; results files under generated names."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from custintel.config import Settings
from custintel.errors import ConfigError, EmptySource, InputError, MissingColumns, SourceUnreadable
from custintel.jobs.bulk import TEMPLATE, bulk_dir, parse_ids, result_file, write_results


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "ids", "column"),
    [
        (b"customer_id,name\nc1,Ann\nc2,Bob\n", ["c1", "c2"], "'customer_id'"),
        (b"\xef\xbb\xbfName;Customer ID\nAnn;c1\nBob;c2\n", ["c1", "c2"], "'Customer ID'"),
        (b"id\nc1\n\nc2\nc1\n", ["c1", "c2"], "'id'"),
        (b"c1\nc2\n", ["c1", "c2"], "the first column"),
        (TEMPLATE.encode() + b"42\n", ["42"], "'customer_id'"),
        ("customer_id\nmüller\n".encode("latin-1"), ["müller"], "'customer_id'"),
    ],
    ids=[
        "csv-customer_id",
        "semicolon-bom-spaced",
        "one-column-header",
        "no-header",
        "template",
        "latin-1",
    ],
)
def test_csv_ids(settings: Settings, data: bytes, ids: list[str], column: str) -> None:
    parsed = parse_ids(data, filename="ids.csv", settings=settings)
    assert parsed.ids == ids and parsed.column == column and parsed.format == "csv"


def test_xlsx_ids_numbers_become_plain_ids(settings: Settings) -> None:
    data = xlsx([["Customer_ID", "note"], [1001, "x"], [1002.0, None], ["c3", "y"]])
    parsed = parse_ids(data, filename="whatever.csv", settings=settings)  # told by bytes
    assert parsed.format == "xlsx" and parsed.ids == ["1001", "1002", "c3"]


def test_duplicates_are_counted_and_scored_once(settings: Settings) -> None:
    parsed = parse_ids(b"customer_id\nc1\nc2\nc1\n", filename="a.csv", settings=settings)
    assert (parsed.ids, parsed.rows, parsed.duplicates) == (["c1", "c2"], 3, 1)


def test_no_customer_id_column_suggests_the_closest(settings: Settings) -> None:
    with pytest.raises(MissingColumns, match="closest: 'customerid'") as error:
        parse_ids(b"customerid,name\nc1,Ann\n", filename="a.csv", settings=settings)
    # "customerid" normalises to itself, not customer_id: the user is told what to rename
    assert error.value.where == "a.csv"


def test_empty_ids_are_named_by_row(settings: Settings) -> None:
    data = b"customer_id,name\nc1,Ann\n,Bob\nc3,Cid\n ,Dan\n"
    with pytest.raises(InputError, match=r"row 3: 'customer_id' is empty; row 5: 'customer_id'"):
        parse_ids(data, filename="a.csv", settings=settings)


def test_limits_on_rows_and_bytes(settings: Settings) -> None:
    small = settings.model_copy(update={"bulk_max_rows": 2, "bulk_max_bytes": 40})
    with pytest.raises(InputError, match="more than 2 customer ids"):
        parse_ids(b"c1\nc2\nc3\n", filename="a.csv", settings=small)
    with pytest.raises(InputError, match="the most accepted is 40"):
        parse_ids(b"customer_id\n" + b"c1234567\n" * 5, filename="a.csv", settings=small)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (b"", EmptySource, "no rows"),
        (b"customer_id\n\n", EmptySource, "holds no customer ids"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", SourceUnreadable, r"\.xls"),
        (b"PK\x03\x04not really a zip", SourceUnreadable, "not a readable XLSX"),
        (b"customer_id\x00\x01\x02", SourceUnreadable, "binary"),
    ],
    ids=["empty", "header-only", "old-xls", "broken-xlsx", "binary"],
)
def test_unusable_files(
    settings: Settings, data: bytes, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        parse_ids(data, filename="a.csv", settings=settings)


def test_job_ids_are_the_only_path_part(settings: Settings) -> None:
    assert bulk_dir(settings, "a" * 32) == settings.home / "bulk" / ("a" * 32)
    for bad in ("../../etc", "A" * 32, "a" * 31, "a" * 31 + "/"):
        with pytest.raises(ConfigError):
            bulk_dir(settings, bad)


def test_results_as_csv_and_xlsx_keep_text_as_text(settings: Settings) -> None:
    job_id = "b" * 32
    frame = pd.DataFrame({"customer_id": ["=1+1", "c2"], "expected_spend": [1.5, None]})
    write_results(settings, job_id, frame)
    csv_path = result_file(settings, job_id, "csv")
    assert csv_path.name == "results.csv"
    assert pd.read_csv(csv_path, dtype=str, keep_default_na=False)["customer_id"].tolist() == [
        "=1+1",
        "c2",
    ]
    xlsx_path = result_file(settings, job_id, "xlsx")
    sheet = load_workbook(xlsx_path).active
    assert sheet is not None
    assert sheet["A2"].value == "=1+1" and sheet["A2"].data_type == "s"
    assert [c.value for c in sheet[1]] == ["customer_id", "expected_spend"]


def test_missing_results_file_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(EmptySource, match="results file is gone"):
        result_file(settings, "c" * 32, "csv")
