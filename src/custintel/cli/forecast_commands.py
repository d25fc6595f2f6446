"""Commands of the forecasting capability: forecast."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custintel.cli.common import (
    AsOfOpt,
    MappingOpt,
    OrdersOpt,
    OutOpt,
    SourceOpt,
    app,
    console,
    handles_errors,
    out_console,
    parse_as_of,
    print_sync_report,
    settings,
    sync_progress,
)
from custintel.services import mapping_from_options, run_forecast


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@app.command()
@handles_errors
def forecast(
    out: OutOpt,
    freq: Annotated[
        str, typer.Option("--freq", help="D (daily), W (weekly, Monday start) or M (monthly).")
    ] = "M",
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Periods ahead.")] = 12,
    by: Annotated[
        str | None,
        typer.Option("--by", help="category, store_id, seller_id or segment (plus the total)."),
    ] = None,
    metric: Annotated[str, typer.Option("--metric", help="revenue or orders.")] = "revenue",
    where: Annotated[
        str | None,
        typer.Option("--where", help="SQL condition on orders, e.g. \"seller_id = 'S1'\"."),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Candidates, comma-separated: default, Prophet, AutoETS, AutoARIMA, AutoTheta, "
            "MSTL, SeasonalNaive, CrostonOptimized, ADIDA, IMAPA, ...",
        ),
    ] = None,
    windows: Annotated[
        int | None, typer.Option("--windows", min=1, help="Backtest origins (default 3).")
    ] = None,
    reconcile: Annotated[
        bool,
        typer.Option("--reconcile/--no-reconcile", help="Make the groups add up to the total."),
    ] = True,
    orders: OrdersOpt = None,
    source: SourceOpt = None,
    mapping: MappingOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Sales forecast with 80/95 % bands per series, the model each series' backtest chose
    and how accurate it was; one row per series and future period."""
    chosen = mapping_from_options(orders=orders, source=source, mapping=mapping)
    with sync_progress() as step:
        result, info, written = run_forecast(
            settings(),
            chosen,
            out=out,
            freq=freq.upper(),
            horizon=horizon,
            as_of=parse_as_of(as_of),
            by=by,
            metric=metric,
            where=where,
            models=[m.strip() for m in models.split(",") if m.strip()] if models else None,
            windows=windows,
            reconcile=reconcile,
            progress=step,
            on_sync=print_sync_report,
        )
    s = info["settings"]
    table = Table(
        title=f"{s['timeframe']} {s['metric']} forecast, "
        f"{horizon} periods after {s['history_ends']}",
        title_justify="left",
    )
    for column in ("series", "model", "MASE", "floor MASE", "sMAPE", "80% covered", "95% covered"):
        table.add_column(column, justify="left" if column in ("series", "model") else "right")
    bt = result.backtest
    floor = dict(zip(bt.loc[bt["floor"], "series"], bt.loc[bt["floor"], "mase"], strict=True))
    label = result.forecasts.groupby("series")["model"].first().to_dict()
    for row in bt[bt["chosen"]].to_dict("records"):
        table.add_row(
            str(row["series"]),
            str(label.get(row["series"], row["model"])),
            f"{row['mase']:.2f}",
            f"{floor.get(row['series'], float('nan')):.2f}",
            f"{row['smape']:.1f}%",
            _percent(row["coverage_80"]),
            _percent(row["coverage_95"]),
        )
    out_console.print(table)
    accuracy = info["accuracy"]
    if accuracy.get("series_backtested"):
        console.print(
            f"backtest (up to {s['windows']} origins x {horizon} periods): "
            f"MASE {accuracy['mase']:.2f} "
            f"vs seasonal naive {accuracy['floor_mase']:.2f}; intervals held the actual value "
            f"{_percent(accuracy['coverage_80'])} (80 %) and {_percent(accuracy['coverage_95'])} "
            "(95 %) of the time",
            highlight=False,
        )
    for series, notes in info["warnings"].items():
        for note in notes:
            console.print(f"[yellow]{series}[/]: {note}")
    version = info["model_version"]
    console.print(
        f"wrote {', '.join(str(p) for p in written)}"
        + (f" (model version {version})" if version else ""),
        highlight=False,
    )
