"""Commands that bring data in and out: init, sync, features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custintel.cli.common import (
    AsOfOpt,
    CustomersOpt,
    MappingOpt,
    OrdersOpt,
    OutOpt,
    ProductsOpt,
    ReviewsOpt,
    SourceOpt,
    app,
    console,
    handles_errors,
    parse_as_of,
    print_sync_report,
    settings,
    sync_progress,
)
from custintel.data.inspect import propose_mapping
from custintel.data.store import Store
from custintel.errors import ConfigError
from custintel.services import (
    check_output_path,
    default_as_of,
    export_features,
    mapping_from_options,
    open_data,
    sync_with_settings,
)


@app.command()
@handles_errors
def init(
    source: Annotated[str, typer.Option("--source", help="SQLAlchemy URL of the database.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the mapping.")] = Path(
        "custintel.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Inspect a database and write a first mapping (custintel.toml)."""
    if out.exists() and not force:
        raise ConfigError(
            "the mapping file exists already",
            where=str(out),
            hint="pass --force to overwrite it, or --out another path",
        )
    proposal = propose_mapping(source)
    out.write_text(proposal.toml, encoding="utf-8")
    console.print(f"wrote {out}", highlight=False)
    for line in proposal.notes:
        console.print(f"  {line}", highlight=False)


@app.command(name="sync")
@handles_errors
def sync_command(
    orders: OrdersOpt = None,
    customers: CustomersOpt = None,
    products: ProductsOpt = None,
    reviews: ReviewsOpt = None,
    source: SourceOpt = None,
    mapping: MappingOpt = None,
) -> None:
    """Bring the shop's data into the store (incremental, all or nothing)."""
    config = settings()
    if mapping is None and config.mapping_path.exists() and not (orders or source):
        mapping = config.mapping_path
    chosen = mapping_from_options(
        orders=orders,
        customers=customers,
        products=products,
        reviews=reviews,
        source=source,
        mapping=mapping,
    )
    if chosen is None:
        raise ConfigError(
            "no data named",
            hint="pass --orders FILE, or --mapping custintel.toml (write one "
            "with `custintel init --source URL`)",
        )
    with (
        Store(config.store_path, memory_limit=config.duckdb_memory_limit) as store,
        sync_progress() as step,
    ):
        report = sync_with_settings(store, chosen, config, progress=step)
    print_sync_report(report)
    console.print(f"store: {config.store_path}", highlight=False)


@app.command()
@handles_errors
def features(
    out: OutOpt,
    orders: OrdersOpt = None,
    customers: CustomersOpt = None,
    products: ProductsOpt = None,
    source: SourceOpt = None,
    mapping: MappingOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Write point-in-time features, one row per customer known before --as-of."""
    cutoff = parse_as_of(as_of)
    check_output_path(out)
    chosen = mapping_from_options(
        orders=orders, customers=customers, products=products, source=source, mapping=mapping
    )
    with sync_progress() as step:
        store, report = open_data(settings(), chosen, progress=step)
    with store:
        if report is not None:
            print_sync_report(report)
        cutoff = cutoff or default_as_of(store)
        with console.status(f"computing features as of {cutoff}"):
            rows = export_features(store, cutoff, out)
    console.print(f"wrote {rows:,} customers' features as of {cutoff} to {out}", highlight=False)
