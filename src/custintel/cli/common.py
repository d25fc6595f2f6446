"""What every ``custintel`` command shares: the Typer app, options, error handling,
progress and report printing.

Errors of custintel's own hierarchy are printed as a short message (what, where, the
fix) and exit with the error's code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from custintel import __version__
from custintel.config import Settings, get_settings
from custintel.data.ingest import SYNC_ORDER, SyncReport
from custintel.errors import ConfigError, CustintelError

app = typer.Typer(
    name="custintel",
    help="Customer intelligence for shops: segments, forecasts, spend, churn and CLV.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
out_console = Console()
P = ParamSpec("P")
R = TypeVar("R")
_state: dict[str, Any] = {"debug": False}


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print custintel errors as a message and exit with their code (traceback: --debug)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CustintelError as exc:
            if _state["debug"]:
                raise
            where = f"{exc.where}: " if exc.where else ""
            console.print(
                f"[bold red]error:[/] {escape(where + exc.message)}",
                highlight=False,
                soft_wrap=True,
            )
            if exc.hint:
                console.print(f"[bold]fix:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        out_console.print(f"custintel {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """custintel: point it at your orders data."""
    _state["debug"] = debug


# Options shared by the commands that read data (DESIGN.md's CLI contract).
OrdersOpt = Annotated[
    Path | None,
    typer.Option(
        "--orders",
        help="Orders or order lines file (CSV, Parquet, XLSX), or a folder or a quoted "
        "glob ('exports/orders_*.csv') of the parts of one export.",
    ),
]
CustomersOpt = Annotated[
    Path | None,
    typer.Option("--customers", help="Customers file (id, signup date, demographic columns)."),
]
ProductsOpt = Annotated[Path | None, typer.Option("--products", help="Products file.")]
ReviewsOpt = Annotated[Path | None, typer.Option("--reviews", help="Reviews file.")]
SourceOpt = Annotated[
    str | None, typer.Option("--source", help="SQLAlchemy URL of the shop's database.")
]
MappingOpt = Annotated[
    Path | None, typer.Option("--mapping", help="custintel.toml mapping your tables and columns.")
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="YYYY-MM-DD: use only data strictly before this day "
        "(default: the day after the last order).",
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Output file, .csv or .parquet.")]


def parse_as_of(value: str | None) -> date | None:
    """Parse ``--as-of``; a wrong date is a ConfigError naming the option."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ConfigError(
            f"--as-of {value!r} is not a date",
            hint="write it as YYYY-MM-DD, e.g. --as-of 2024-01-31",
        ) from None


@contextmanager
def sync_progress() -> Iterator[Callable[[str, str], None]]:
    """A rich progress bar fed by sync's (table, step) callbacks."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("syncing", total=len(SYNC_ORDER) * 3)

        def step(table: str, what: str) -> None:
            progress.update(task, description=f"{what} {table}".strip(), advance=1)

        yield step


def print_sync_report(report: SyncReport) -> None:
    """What a sync read and wrote per table, each reason rows were rejected, where the
    rejects file is, and what to do about rows rejected as duplicates."""
    table = Table(title="sync report", title_justify="left")
    for column in ("table", "read", "new", "changed", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for t in report.tables:
        table.add_row(
            t.table,
            f"{t.read:,}",
            f"{t.inserted:,}",
            f"{t.updated:,}",
            f"{t.unchanged:,}",
            f"[red]{t.rejected:,}[/]" if t.rejected else "0",
        )
    console.print(table)
    for t in report.tables:
        if t.parts:
            shown = ", ".join(f"{name} ({rows:,})" for name, rows in t.parts[:5])
            more = f" and {len(t.parts) - 5} more" if len(t.parts) > 5 else ""
            console.print(
                f"  {t.table}: {len(t.parts)} files read as one, rows in this order: {shown}{more}",
                highlight=False,
                markup=False,
            )
        renamed = {k: v for k, v in t.guessed.items() if k != v}
        if renamed:
            pairs = ", ".join(f"{k} <- {v!r}" for k, v in renamed.items())
            console.print(f"  {t.table}: columns guessed: {pairs}", highlight=False)
        for column, fmt in t.date_formats.items():
            console.print(f"  {t.table}: {column} read with date format {fmt}", highlight=False)
        for column, formula in t.derived.items():
            console.print(
                f"  {t.table}: no {column} column, so {column} = {formula}",
                highlight=False,
                markup=False,
            )
        if t.decimal_commas:
            console.print(
                f"  {t.table}: {', '.join(t.decimal_commas)} read with a decimal comma",
                highlight=False,
            )
        if t.rejected:
            reasons = "; ".join(f"{r} ({n})" for r, n in t.reasons)
            console.print(
                f"  [yellow]{t.table}: {t.rejected:,} row{'' if t.rejected == 1 else 's'} "
                f"rejected: {reasons}"
                + (f"; see {t.rejects_file}" if t.rejects_file else "")
                + "[/]",
                highlight=False,
            )
        key = ", ".join(t.key_columns)
        if t.numbered_rows:
            console.print(
                f"  {t.table}: {t.numbered_rows:,} "
                + ("row shares its" if t.numbered_rows == 1 else "rows share their")
                + f" {key} with an earlier row that has other values (order lines or "
                "returns without a line id): each is kept as another row of that order; map "
                "a line id column to line_id so that a later sync can tell which line changed",
                highlight=False,
                markup=False,
            )
        if any(reason == "same key" for reason, _ in t.reasons):
            fix = (
                "map the column that does (line_id for order lines), or set key = [...] "
                f"under [tables.{t.table}] in a --mapping file (docs/mapping.md)"
                if t.table == "orders"
                else f"keep one row per {key} in the source, the one that is right"
            )
            console.print(
                f"  {t.table}: rows with the key ({key}) of an earlier row but other values "
                f"were rejected, since the key is meant to identify one row: {fix}",
                highlight=False,
                markup=False,
            )
        if any(reason == "duplicate" for reason, _ in t.reasons):
            console.print(
                f"  {t.table}: a row that repeats an earlier one (its key, or the whole row "
                "when there is no key) is taken for a double export; if such rows are real "
                f'purchases, set duplicates = "keep" under [tables.{t.table}] in a '
                "--mapping file (docs/mapping.md)",
                highlight=False,
                markup=False,
            )


def settings() -> Settings:
    """The process's settings (env vars), built when a command first needs them."""
    return get_settings()
