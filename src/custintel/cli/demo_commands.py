"""Commands around the demo shop: demo-data (files) and demo (the whole tour)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from custintel.cli.common import app, console, handles_errors, out_console, settings
from custintel.services import build_demo, write_demo_data

CustomersCount = Annotated[
    int,
    typer.Option(
        "--customers", min=1_000, max=1_000_000, help="How many customers (1,000 to 1,000,000)."
    ),
]


@app.command(name="demo-data")
@handles_errors
def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the shop into.")],
    customers: CustomersCount = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same shop).")] = 42,
) -> None:
    """Write a realistic demo shop: CSV, Parquet and SQLite (canonical and Laravel)."""
    with console.status(f"generating {customers:,} customers"):
        paths = write_demo_data(out, customers=customers, seed=seed)
    for path in paths:
        out_console.print(str(path), highlight=False)


@app.command()
@handles_errors
def demo(
    customers: CustomersCount = 10_000,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API and dashboard afterwards.")
    ] = True,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Build the demo shop into the data directory, train every capability, summarise,
    then serve the API (unless --no-serve)."""
    config = settings()
    with console.status("building the demo shop") as status:
        summary = build_demo(config, customers=customers, progress=lambda what: status.update(what))
    table = Table(title=f"demo shop in {config.home}", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in summary.rows():
        table.add_row(label, value)
    out_console.print(table)
    if summary.categories:
        cats = Table(title="revenue by category", title_justify="left")
        cats.add_column("category")
        cats.add_column("revenue", justify="right")
        cats.add_column("share", justify="right")
        for name, revenue, share in summary.categories:
            cats.add_row(name, f"{revenue:,.0f}", f"{share:.1%}")
        out_console.print(cats)
    segments = Table(title="RFM segments", title_justify="left")
    for column in ("segment", "customers", "% revenue", "what to do"):
        segments.add_column(column)
    for seg in summary.segments:
        segments.add_row(
            seg["segment"], f"{seg['customers']:,}", f"{seg['share_revenue']:.1%}", seg["action"]
        )
    out_console.print(segments)
    clusters = Table(title="customer clusters", title_justify="left")
    for column in ("cluster", "customers", "% revenue"):
        clusters.add_column(column)
    for c in summary.clusters:
        clusters.add_row(c["name"], f"{c['size']:,}", f"{c['share_revenue']:.1%}")
    out_console.print(clusters)
    accuracy = summary.forecast["accuracy"]
    chosen = summary.forecast["chosen"]
    out_console.print(
        "sales forecast: 24 months per category (weeks and days too), total by "
        f"{chosen.get('total', '-')}; "
        f"backtest MASE {accuracy.get('mase', float('nan')):.2f} against seasonal naive "
        f"{accuracy.get('floor_mase', float('nan')):.2f}",
        highlight=False,
    )
    scores = summary.scores
    for statement in scores["eligibility"]:
        if statement["output"] in ("expected_spend", "churn_probability"):
            out_console.print(
                f"{statement['output']} (30 days): {statement['note']}", highlight=False
            )
    out_console.print(f"features: {summary.features_path}", highlight=False)
    out_console.print(f"segments: {summary.segments_path}", highlight=False)
    out_console.print(f"forecast: {summary.forecast_path}", highlight=False)
    out_console.print(f"customer scores: {summary.scores_path}", highlight=False)
    if serve:
        from custintel.appdb.keys import create_key
        from custintel.cli.serve_commands import run_server
        from custintel.services import app_database

        with app_database(config).session() as session:
            key, _ = create_key(session, "admin", name="demo")
        console.print(
            "an admin API key for this demo (send it as `Authorization: Bearer <key>`; "
            "`custintel keys revoke` ends it):",
            highlight=False,
        )
        out_console.print(key, highlight=False)
        run_server(config, "127.0.0.1", port, token=key)
