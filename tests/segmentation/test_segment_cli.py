"""`custintel segment` and `segment-migration` end to end, on real and demo data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from custintel.cli import app
from custintel.demo import generate_shop, write_shop
from servers import need_shared_data

runner = CliRunner()
CONTRACT = [
    "customer_id",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "cluster",
    "cluster_name",
]


def run(*args: str):
    result = runner.invoke(app, list(args))
    return result


@pytest.fixture(scope="module")
def demo_orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    write_shop(generate_shop(customers=1500, seed=5), out, formats=("parquet",))
    return out / "orders.parquet"


def test_segment_on_cdnow_follows_the_contract(home: Path, tmp_path: Path) -> None:
    cdnow = need_shared_data("cdnow/CDNOW_master.txt")
    out = tmp_path / "segments.csv"
    result = run("segment", "--orders", str(cdnow), "--as-of", "1997-10-01", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pacsv.read_csv(out)
    assert table.column_names[: len(CONTRACT)] == CONTRACT
    assert table.num_rows == 23_570  # every CDNOW customer bought in Q1 1997
    summary = json.loads(out.with_name("segments.summary.json").read_text())
    sizes = {s["segment"]: s["customers"] for s in summary["segments"]}
    assert sum(sizes.values()) == 23_570
    assert sizes["New Customers"] == 0  # nobody's first order is recent on 1997-10-01
    assert summary["clustering"]["comparison"], "method scores are reported"
    assert "Champions" in result.output


def test_retrain_keeps_cluster_names_and_records_migration(
    home: Path, demo_orders: Path, tmp_path: Path
) -> None:
    assert run("sync", "--orders", str(demo_orders)).exit_code == 0
    first = tmp_path / "a.parquet"
    second = tmp_path / "b.parquet"
    r1 = run("segment", "--as-of", "2025-06-01", "--out", str(first))
    assert r1.exit_code == 0, r1.output
    r2 = run("segment", "--as-of", "2025-07-01", "--out", str(second))
    assert r2.exit_code == 0, r2.output
    a = pq.read_table(first).to_pandas().set_index("customer_id")
    b = pq.read_table(second).to_pandas().set_index("customer_id")
    common = a.index.intersection(b.index)
    same = (a.loc[common, "cluster_name"] == b.loc[common, "cluster_name"]).mean()
    assert same > 0.8  # a month later most customers keep their cluster's name
    assert set(b["cluster_name"]) & set(a["cluster_name"])
    moved = run("segment-migration", "--from", "2025-06-01", "--to", "2025-07-01")
    assert moved.exit_code == 0, moved.output
    assert "Champions" in moved.output and "(new)" in moved.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheme", "standrd"], "did you mean 'standard'"),
        (["--method", "kmeens"], "kmeens"),
        (["--as-of", "1990-01-01"], "no customer has an order before 1990-01-01"),
    ],
    ids=["scheme", "method", "too-early"],
)
def test_segment_errors_are_clear(home: Path, demo_orders: Path, tmp_path: Path, args, message):
    result = run("segment", "--orders", str(demo_orders), "--out", str(tmp_path / "s.csv"), *args)
    assert result.exit_code in (65, 78), result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_migration_needs_recorded_runs(home: Path, demo_orders: Path) -> None:
    assert run("sync", "--orders", str(demo_orders)).exit_code == 0
    result = run("segment-migration", "--from", "2025-01-01", "--to", "2025-02-01")
    assert result.exit_code == 65
    assert "custintel segment" in result.output


def test_a_run_on_files_reports_rejected_rows_and_what_to_do(
    home: Path, demo_orders: Path, tmp_path: Path
) -> None:
    orders = pq.read_table(demo_orders).to_pandas()
    doubled = pd.concat([orders, orders.head(7)], ignore_index=True)
    path = tmp_path / "orders.csv"
    doubled.to_csv(path, index=False)
    result = run("segment", "--orders", str(path), "--out", str(tmp_path / "s.csv"))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "sync report" in said
    assert "7 rows rejected: duplicate (7)" in said
    assert 'set duplicates = "keep" under [tables.orders] in a --mapping file' in said
    # The advice works with the file still named on the command line.
    mapping = tmp_path / "custintel.toml"
    mapping.write_text('[tables.orders]\nduplicates = "keep"\n')
    kept = run(
        "segment",
        "--orders",
        str(path),
        "--mapping",
        str(mapping),
        "--out",
        str(tmp_path / "k.csv"),
    )
    assert kept.exit_code == 0, kept.output
    said = " ".join(kept.output.split())
    assert f"│ orders │ {len(doubled):,} │ {len(doubled):,} │ 0 │ 0 │ 0 │" in said
    assert "rejected:" not in said
