"""`custintel forecast` on a small demo shop: the files, the store's record, the errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from custintel.cli import app
from custintel.data import Store
from custintel.demo import generate_shop, write_shop
from custintel.forecasting.service import series_frame

runner = CliRunner()
CONTRACT = [
    "series",
    "date",
    "forecast",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "model",
    "note",
]


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def demo_orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo shop (400 customers, 2022-2025), its orders as Parquet."""
    out = tmp_path_factory.mktemp("shop")
    write_shop(generate_shop(customers=400, seed=7), out, formats=("parquet",))
    return out / "orders.parquet"


@pytest.fixture()
def synced(home: Path, demo_orders: Path) -> Path:
    """The demo's orders synced into a fresh data directory; the store's path."""
    result = run("sync", "--orders", str(demo_orders))
    assert result.exit_code == 0, result.output
    return home / "store.duckdb"


def read_csv(path: Path) -> pd.DataFrame:
    return pacsv.read_csv(path).to_pandas()


def months_after(last: pd.Timestamp, count: int) -> list[pd.Timestamp]:
    return list(pd.date_range(last, periods=count + 1, freq="MS")[1:])


def test_monthly_forecast_writes_the_contract_and_records_it(synced: Path, tmp_path: Path) -> None:
    out = tmp_path / "forecast.csv"
    result = run("forecast", "--freq", "M", "--horizon", "6", "--out", str(out))
    assert result.exit_code == 0, result.output

    assert pacsv.read_csv(out).column_names == CONTRACT
    forecast = read_csv(out)
    history = read_csv(tmp_path / "forecast.history.csv")
    backtest = read_csv(tmp_path / "forecast.backtest.csv")
    summary = json.loads((tmp_path / "forecast.summary.json").read_text())

    # one series (the total), one row per future month after the last whole month
    assert set(forecast["series"]) == {"total"}
    last = pd.Timestamp(history["date"].max())
    assert list(pd.to_datetime(forecast["date"])) == months_after(last, 6)
    assert np.isfinite(forecast[CONTRACT[2:7]].to_numpy()).all()
    assert (forecast[CONTRACT[2:7]].to_numpy() >= 0).all()  # revenue of a whole shop
    assert set(history.columns) == {"series", "date", "actual"}
    assert history["date"].nunique() == len(history)  # one row per month of history
    assert "total" in set(backtest["series"]) and backtest["chosen"].sum() == 1

    version = summary["model_version"]
    assert isinstance(version, int) and version >= 1
    assert summary["settings"]["timeframe"] == "monthly"
    assert summary["settings"]["history_ends"] == last.date().isoformat()
    assert summary["accuracy"]["series_backtested"] == 1

    with Store(synced, read_only=True) as store:
        stored = store.con.execute(
            "SELECT series, date, predicted_amount, lower_bound, upper_bound, lower_80, "
            "upper_80, model, timeframe, metric FROM forecasts WHERE model_version = ? "
            "ORDER BY date",
            [version],
        ).df()
        backtests = store.con.execute(
            "SELECT count(*) FROM forecast_backtests WHERE model_version = ?", [version]
        ).fetchone()
    assert len(stored) == 6
    assert set(stored["timeframe"]) == {"monthly"} and set(stored["metric"]) == {"revenue"}
    assert list(pd.to_datetime(stored["date"])) == months_after(last, 6)
    for ours, theirs in (
        ("predicted_amount", "forecast"),
        ("lower_bound", "lower_95"),
        ("upper_bound", "upper_95"),
        ("lower_80", "lower_80"),
        ("upper_80", "upper_80"),
    ):
        np.testing.assert_allclose(stored[ours], forecast[theirs], rtol=1e-9, err_msg=ours)
    assert list(stored["model"]) == list(forecast["model"])
    assert backtests is not None and backtests[0] == len(backtest)


def test_forecast_by_category_adds_up_to_the_total(
    synced: Path, demo_orders: Path, tmp_path: Path
) -> None:
    out = tmp_path / "by-category.parquet"
    result = run("forecast", "--freq", "M", "--horizon", "6", "--by", "category", "--out", str(out))
    assert result.exit_code == 0, result.output
    forecast = pq.read_table(out).to_pandas()
    assert list(forecast.columns) == CONTRACT
    categories = set(pq.read_table(demo_orders, columns=["category"]).column(0).to_pylist())
    assert set(forecast["series"]) == categories | {"total"}
    assert forecast.groupby("series").size().eq(6).all()
    wide = forecast.pivot(index="date", columns="series", values="forecast")
    parts = wide.drop(columns="total").sum(axis=1)
    np.testing.assert_allclose(parts, wide["total"], rtol=1e-9, atol=1e-6)
    values = forecast[CONTRACT[2:7]].to_numpy()
    assert (values >= 0).all()
    assert (forecast["lower_95"] <= forecast["forecast"]).all()
    assert (forecast["forecast"] <= forecast["upper_95"]).all()
    summary = json.loads((tmp_path / "by-category.summary.json").read_text())
    assert summary["settings"]["reconciled"] and summary["settings"]["by"] == "category"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--freq", "X"], "freq"),
        (["--by", "nosuchcolumn"], "nosuchcolumn"),
        (["--metric", "foo"], "metric"),
    ],
    ids=["freq", "by", "metric"],
)
def test_bad_options_give_a_clear_error(
    synced: Path, tmp_path: Path, args: list[str], names: str
) -> None:
    out = tmp_path / "f.csv"
    result = run("forecast", "--out", str(out), *args)
    assert result.exit_code != 0
    assert "error:" in result.output and names in result.output, result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("freq", "horizon", "window"), [("M", "3", "3 months"), ("W", "8", "8 weeks")], ids=["M", "W"]
)
def test_an_as_of_past_the_end_of_the_orders_is_refused(
    synced: Path, tmp_path: Path, freq: str, horizon: str, window: str
) -> None:
    """Years of empty periods before as_of would make a backtest on zeros choose a model
    that forecasts nothing: the message names the window, the last order and the as_of
    that works. An as_of whose last horizon still holds orders is forecast as before."""
    with Store(synced, read_only=True) as store:
        last = store.last_order_date()
    assert last is not None
    out = tmp_path / "f.csv"
    args = ["forecast", "--freq", freq, "--horizon", horizon, "--out", str(out)]
    result = run(*args, "--as-of", "2040-01-01")
    assert result.exit_code == 65, result.output
    said = " ".join(result.output.split())
    assert f"no order in the {window} before as_of 2040-01-01" in said
    assert f"the orders stop at {last}" in said
    assert f"use as_of {date.fromordinal(last.toordinal() + 1)}" in said
    assert "Traceback" not in said and not out.exists()
    soon = date.fromordinal(last.toordinal() + 20).isoformat()
    assert run(*args, "--as-of", soon).exit_code == 0


def test_by_segment_before_any_segmentation_says_to_segment_first(
    synced: Path, tmp_path: Path
) -> None:
    result = run("forecast", "--by", "segment", "--out", str(tmp_path / "f.csv"))
    assert result.exit_code != 0
    assert "custintel segment" in result.output, result.output
    assert "Traceback" not in result.output


def test_series_frame_leaves_out_the_period_holding_as_of(synced: Path) -> None:
    with Store(synced, read_only=True) as store:
        monthly = series_frame(store, freq="M", as_of=date(2025, 6, 15))
        may = store.con.execute(
            "SELECT sum(net_amount) FROM orders "
            "WHERE ordered_at >= DATE '2025-05-01' AND ordered_at < DATE '2025-06-01'"
        ).fetchone()
        on_the_first = series_frame(store, freq="M", as_of=date(2025, 6, 1))
        weekly = series_frame(store, freq="W", as_of=date(2025, 6, 18))  # a Wednesday
        split = series_frame(store, freq="M", as_of=date(2025, 6, 15), by="category")
    assert list(monthly.columns) == ["series", "period", "value"]
    assert monthly["period"].max() == pd.Timestamp("2025-05-01")  # June is not over
    assert monthly["period"].is_unique and set(monthly["series"]) == {"total"}
    assert may is not None
    assert monthly.set_index("period").loc["2025-05-01", "value"] == pytest.approx(may[0])
    # as_of on the 1st: the month before is whole and kept
    assert on_the_first["period"].max() == pd.Timestamp("2025-05-01")
    assert weekly["period"].max() == pd.Timestamp("2025-06-09")  # not the week of 06-16
    assert (weekly["period"].dt.day_of_week == 0).all()
    # every split series shares the calendar, and they add up to the total
    periods = split.groupby("series")["period"].agg(["min", "max", "size"])
    assert periods.nunique().eq(1).all()
    by_period = split.pivot(index="period", columns="series", values="value")
    np.testing.assert_allclose(by_period.drop(columns="total").sum(axis=1), by_period["total"])
