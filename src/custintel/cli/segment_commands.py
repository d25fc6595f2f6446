"""Commands of the segmentation capability: segment, segment-migration."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custintel.cli.common import (
    AsOfOpt,
    CustomersOpt,
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
from custintel.data.store import Store
from custintel.errors import ConfigError
from custintel.services import mapping_from_options, run_segmentation


@app.command()
@handles_errors
def segment(
    out: OutOpt,
    orders: OrdersOpt = None,
    source: SourceOpt = None,
    mapping: MappingOpt = None,
    as_of: AsOfOpt = None,
    scheme: Annotated[
        str | None,
        typer.Option("--scheme", help="standard, eleven, value_tiers or one of custintel.toml's."),
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="auto, kmeans, hdbscan or agglomerative.")
    ] = None,
    min_clusters: Annotated[int | None, typer.Option("--min-clusters", min=2)] = None,
    max_clusters: Annotated[int | None, typer.Option("--max-clusters", min=2)] = None,
    tsne: Annotated[
        int | None,
        typer.Option(
            "--tsne", min=100, help="Add t-SNE coordinates for a sample of this many customers."
        ),
    ] = None,
) -> None:
    """RFM scores, named segments and clusters, one row per customer, plus a summary."""
    cutoff = parse_as_of(as_of)
    chosen = mapping_from_options(orders=orders, source=source, mapping=mapping)
    with sync_progress() as step:
        run, summary_path, version = run_segmentation(
            settings(),
            chosen,
            as_of=cutoff,
            out=out,
            scheme=scheme,
            method=method,
            min_clusters=min_clusters,
            max_clusters=max_clusters,
            tsne_sample=tsne,
            progress=step,
            on_sync=print_sync_report,
        )
    summary = run.summary
    segments = Table(
        title=f"segments as of {run.as_of} ({summary['scheme']} scheme)", title_justify="left"
    )
    for column in ("segment", "customers", "% customers", "% revenue"):
        segments.add_column(column, justify="left" if column == "segment" else "right")
    for s in summary["segments"]:
        segments.add_row(
            s["segment"],
            f"{s['customers']:,}",
            f"{s['share_customers']:.1%}",
            f"{s['share_revenue']:.1%}",
        )
    out_console.print(segments)
    clustering = summary["clustering"]
    clusters = Table(
        title=f"clusters: {clustering['method']}, k={clustering['k']}", title_justify="left"
    )
    for column in ("id", "name", "customers", "% revenue", "what sets it apart"):
        clusters.add_column(column)
    for c in clustering["clusters"]:
        apart = ", ".join(f"{t['direction']} {t['feature']}" for t in c["top_features"][:3])
        clusters.add_row(
            str(c["cluster"]), c["name"], f"{c['size']:,}", f"{c['share_revenue']:.1%}", apart
        )
    out_console.print(clusters)
    console.print(f"why: {clustering['why']}", highlight=False)
    console.print(
        f"wrote {out} and {summary_path}" + (f" (model version {version})" if version else ""),
        highlight=False,
    )


@app.command(name="segment-migration")
@handles_errors
def segment_migration(
    start: Annotated[str, typer.Option("--from", help="YYYY-MM-DD of a recorded run.")],
    end: Annotated[str, typer.Option("--to", help="YYYY-MM-DD of a later recorded run.")],
    by: Annotated[str, typer.Option("--by", help="rfm_segment or cluster_name.")] = ("rfm_segment"),
) -> None:
    """How many customers moved between segments from one recorded run to another."""
    from custintel.segmentation.service import migration

    first, last = parse_as_of(start), parse_as_of(end)
    if first is None or last is None or not first < last:
        raise ConfigError("--from must be an earlier date than --to")
    with Store(settings().store_path) as store:
        table = migration(store, first, last, by)
    view = Table(title=f"{by} migration {first} -> {last}", title_justify="left")
    for column in ("from", "to", "customers"):
        view.add_column(column)
    for row in table.itertuples(index=False):
        view.add_row(str(row.from_segment), str(row.to_segment), f"{row.customers:,}")
    out_console.print(view)


@app.command(name="segment-retailers")
@handles_errors
def segment_retailers(
    out: OutOpt,
    orders: OrdersOpt = None,
    customers: CustomersOpt = None,
    source: SourceOpt = None,
    mapping: MappingOpt = None,
    as_of: AsOfOpt = None,
    attributes: Annotated[
        str | None,
        typer.Option("--attributes", help="Comma-separated demographic columns (default: all)."),
    ] = None,
    max_clusters: Annotated[int, typer.Option("--max-clusters", min=2)] = 8,
) -> None:
    """Cluster retailers on demographics only; relate clusters to sales volume."""
    from custintel.services import run_demographic_segmentation

    chosen = mapping_from_options(
        orders=orders, customers=customers, source=source, mapping=mapping
    )
    with sync_progress() as step:
        result = run_demographic_segmentation(
            settings(),
            chosen,
            as_of=parse_as_of(as_of),
            out=out,
            attributes=attributes.split(",") if attributes else None,
            max_clusters=max_clusters,
            progress=step,
            on_sync=print_sync_report,
        )
    table = Table(
        title=f"demographic clusters (k={result.k}) by sales volume", title_justify="left"
    )
    table.add_column("cluster")
    for level in result.crosstab.columns:
        table.add_column(str(level), justify="right")
    table.add_column("mean sales", justify="right")
    mean_sales = result.profiles["mean_sales"].to_dict()
    for name, row in result.crosstab.iterrows():
        table.add_row(str(name), *(f"{v:,}" for v in row), f"{mean_sales[name]:,.0f}")
    out_console.print(table)
    console.print(f"wrote {out}", highlight=False)
