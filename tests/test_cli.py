"""The command line as a user meets it: exit codes, messages without tracebacks, outputs."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from custintel.cli import app

runner = CliRunner()
ORDERS = "customer_id,ordered_at,amount,order_id,category\n" + "\n".join(
    [
        "c1,2024-01-05,10,o1,toys",
        "c1,2024-02-05,20,o2,books",
        "c2,2024-01-07,5,o3,toys",
        "c3,2024-03-01,8,o4,books",
    ]
)


@pytest.fixture()
def orders_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS + "\n")
    return path


def run(*args: str):
    return runner.invoke(app, list(args))


def test_sync_then_resync_reports_counts(home: Path, orders_csv: Path) -> None:
    first = run("sync", "--orders", str(orders_csv))
    assert first.exit_code == 0, first.output
    assert "orders" in first.output and "4" in first.output
    assert (home / "store.duckdb").exists()
    second = run("sync", "--orders", str(orders_csv))
    assert second.exit_code == 0
    assert "unchanged" in second.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["sync", "--orders", "nope.csv"], 66, "file not found"),
        (["sync"], 78, "no data named"),
        (
            ["features", "--orders", "x.csv", "--out", "f.csv", "--as-of", "2024-13-01"],
            78,
            "is not a date",
        ),
        (["sync", "--mapping", "missing.toml"], 78, "mapping file not found"),
    ],
    ids=["missing-file", "nothing-named", "bad-as-of", "missing-mapping"],
)
def test_errors_exit_with_code_and_message_without_traceback(
    home: Path, args: list[str], code: int, message: str
) -> None:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert "fix:" in result.output


def test_wrong_columns_exit_65_naming_file_and_column(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("client,day,total\nc1,2024-01-01,3\n")
    result = run("sync", "--orders", str(path))
    assert result.exit_code == 65
    assert "sales.csv" in result.output
    assert "customer_id" in result.output


def test_debug_shows_the_traceback(home: Path) -> None:
    result = run("--debug", "sync", "--orders", "nope.csv")
    assert result.exit_code != 0
    assert result.exception is not None
    assert type(result.exception).__name__ == "SourceNotFound"


def test_features_from_a_file_follow_the_contract(home: Path, orders_csv: Path, tmp_path):
    out = tmp_path / "features.parquet"
    result = run(
        "features", "--orders", str(orders_csv), "--as-of", "2024-02-01", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names[:5] == [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "tenure_days",
    ]
    by_id = {r["customer_id"]: r for r in table.to_pylist()}
    assert set(by_id) == {"c1", "c2"}  # c3 first ordered on 2024-03-01
    assert by_id["c1"]["recency_days"] == 27  # 2024-01-05 -> 2024-02-01
    assert by_id["c1"]["monetary"] == 10.0  # the February order is after as_of


def test_features_refuses_an_unknown_output_type(home: Path, orders_csv: Path, tmp_path):
    result = run("features", "--orders", str(orders_csv), "--out", str(tmp_path / "f.json"))
    assert result.exit_code == 78
    assert ".csv or .parquet" in result.output
    assert not (tmp_path / "f.json").exists()


@pytest.mark.parametrize(
    "command",
    [["score"], ["forecast"], ["segment"], ["segment-retailers"]],
    ids=["score", "forecast", "segment", "segment-retailers"],
)
def test_every_run_on_files_shows_the_rows_it_rejected(
    home: Path, tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS + "\nc3,2024-03-01,8,o4,books\n")  # o4 twice
    result = run(*command, "--orders", str(path), "--out", str(tmp_path / "out.csv"))
    said = " ".join(result.output.split())
    assert "Traceback" not in said
    assert "1 row rejected: duplicate (1)" in said, said


def test_sync_reads_a_folder_of_parts_and_says_which_files(home: Path, tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    header, *lines = ORDERS.splitlines()
    (export / "orders_1.csv").write_text("\n".join([header, *lines[:2]]) + "\n")
    (export / "orders_2.csv").write_text("\n".join([header, *lines[2:]]) + "\n")
    result = run("sync", "--orders", str(export))
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert (
        f"orders: 2 files read as one, rows in this order: orders_1.csv (2), "
        f"orders_2.csv ({len(lines) - 2})"
    ) in said
    # a pattern the shell did not expand reads the files it matches
    glob = run("sync", "--orders", str(export / "orders_*.csv"))
    assert glob.exit_code == 0 and "2 files read as one" in glob.output


def test_sync_says_which_rows_share_an_order_and_which_keys_conflict(
    home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS + "\nc1,2024-02-20,-20,o2,books\n")  # a return under o2
    shared = " ".join(run("sync", "--orders", str(path)).output.split())
    assert "1 row shares its order_id with an earlier row that has other values" in shared
    mapping = tmp_path / "custintel.toml"
    mapping.write_text('[tables.orders]\npath = "orders.csv"\nkey = ["order_id"]\n')
    result = run("sync", "--mapping", str(mapping))
    conflict = " ".join(result.output.split())
    assert "1 row rejected: same key (1)" in conflict, conflict
    assert "map the column that does (line_id for order lines)" in conflict
