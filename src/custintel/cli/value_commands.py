"""Commands of the customer-value capability: score."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
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
from custintel.services import mapping_from_options, run_scoring

if TYPE_CHECKING:
    import pandas as pd


@app.command()
@handles_errors
def score(
    out: OutOpt,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=7, help="Days ahead to predict.")
    ] = 90,
    orders: OrdersOpt = None,
    source: SourceOpt = None,
    mapping: MappingOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Per customer: expected orders and spend, P(active), churn probability and risk,
    CLV and value tier, from models chosen on the shop's own most recent horizon."""
    chosen = mapping_from_options(orders=orders, source=source, mapping=mapping)
    with sync_progress() as step:
        run, info, written = run_scoring(
            settings(),
            chosen,
            out=out,
            horizon_days=horizon_days,
            as_of=parse_as_of(as_of),
            progress=step,
            on_sync=print_sync_report,
        )
    cut = info["cutoffs"]
    for target in ("spend", "orders", "churn"):
        if target not in run.comparison:
            continue
        candidates = run.comparison[target]
        marks = {name: _mark(name, m, run.chosen[target]) for name, m in candidates.items()}
        captions = {
            " ≈": "≈ as good as the chosen one (*) within the noise of this window",
            " +": "+ tied within the noise of this window, averaged into the chosen one (*)",
        }
        table = Table(
            title=f"{target}: candidates on {cut['validation']} to {cut['validation_ends']} "
            f"(chosen: {run.chosen[target]})",
            title_justify="left",
            caption="; ".join(c for mark, c in captions.items() if mark in marks.values()) or None,
            caption_justify="left",
        )
        columns = (
            ("rmse", "mae", "spearman", "top_decile_capture", "aggregate_error")
            if target != "churn"
            else ("brier", "roc_auc", "pr_auc")
        )
        table.add_column("candidate", no_wrap=True)
        for column in columns:
            table.add_column(_HEADERS[column], justify="right")
        for name, metrics in candidates.items():
            table.add_row(
                name + marks[name],
                *(_cell(c, metrics[c]) for c in columns),
            )
        out_console.print(table)
    for name, cv in (info.get("churn_crossval") or {}).get("summary", {}).items():
        if cv.get("roc_auc_mean") is not None:
            folds = int(cv["folds"])
            console.print(
                f"churn {name}: ROC-AUC {cv['roc_auc_mean']:.3f} ± {cv['roc_auc_std'] or 0:.3f}, "
                f"PR-AUC {cv['pr_auc_mean']:.3f} over {folds} time-split fold"
                + ("s" if folds != 1 else ""),
                highlight=False,
            )
        elif name == "blend":
            console.print(
                "churn blend: not cross-validated: no fold had an earlier cutoff to "
                "calibrate its candidates on",
                highlight=False,
            )
    churn = run.chosen.get("churn")
    bins = (info.get("churn_reliability") or {}).get(churn) if churn else None
    if bins:
        reliability = Table(
            title=f"churn reliability ({churn}, {cut['validation']} to "
            f"{cut['validation_ends']}): predicted against observed",
            title_justify="left",
        )
        for column in ("predicted", "customers", "mean predicted", "churned"):
            reliability.add_column(column, justify="right")
        for row in bins:
            reliability.add_row(
                f"{row['low']:.1f}–{row['high']:.1f}",
                f"{row['customers']:,.0f}",
                f"{row['predicted']:.1%}",
                f"{row['observed']:.1%}",
            )
        out_console.print(reliability)
    statements = Table(title="what each column rests on", title_justify="left")
    statements.add_column("column", overflow="fold")  # a long category's name in full
    for column in ("status", "note"):
        statements.add_column(column)
    # The category split is the same for every category: said once, before their rows.
    split, said = cut.get("category_split"), False
    for statement in run.eligibility:
        note = statement.note
        if split and statement.output.startswith("expected_spend__"):
            if not said:
                statements.add_row("expected_spend__<category>", "", split + ":")
                said = True
            note = note.removeprefix(split).removeprefix("; ")
        statements.add_row(statement.output, statement.status, note)
    out_console.print(statements)
    counted = f"{len(run.scores):,} customer" + ("" if len(run.scores) == 1 else "s")
    tiers = _levels(run.scores["value_tier"], ("top", "high", "medium", "low"))
    risks = _levels(run.scores["churn_risk"], ("high", "medium", "low"))
    console.print(f"{counted}; value tiers: {tiers}; churn risk: {risks}", highlight=False)
    from custintel.value.service import crowded_risk_note

    churn = next((s for s in run.eligibility if s.output == "churn_probability"), None)
    crowded = crowded_risk_note(
        run.scores["churn_risk"],
        run.horizon_days,
        churn_status=churn.status if churn is not None else "measured",
    )
    if crowded:
        console.print(f"[yellow]note:[/yellow] {escape(crowded)}", highlight=False)
    version = info["model_version"]
    console.print(
        f"wrote {', '.join(str(p) for p in written)}"
        + (f" (model version {version})" if version else ""),
        highlight=False,
    )


def _levels(column: pd.Series, order: tuple[str, ...]) -> str:
    """``"high 5, medium 12, low 40"``: customers per level, in ``order``; "not given"
    when no customer has one (churn of a shop too young to check it)."""
    counts = column.value_counts()
    shown = [f"{level} {int(counts[level]):,}" for level in order if level in counts]
    return ", ".join(shown) or "not given"


def _cell(column: str, value: float) -> str:
    """A measure as the candidate tables show it: shares in percent, NaN (no ranking to
    measure: one class of churn, one amount for everyone) as a dash."""
    if value != value:
        return "–"
    if column in _PERCENT:
        return f"{value:+.1%}" if column == "aggregate_error" else f"{value:.1%}"
    return f"{value:.3f}"


_PERCENT = ("top_decile_capture", "aggregate_error")
# Short headers, so that the tables fit 80 columns; the summary JSON keeps the keys.
_HEADERS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "spearman": "Spearman",
    "top_decile_capture": "top 10 %",
    "aggregate_error": "aggregate",
    "brier": "Brier",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
}


def _mark(name: str, measured: dict[str, float], chosen: str) -> str:
    """A candidate's mark in its table: * chosen, + averaged into the chosen mean of
    ties, ≈ within the noise of the chosen one."""
    if name == chosen:
        return " *"
    if measured.get("averaged"):
        return " +"
    return " ≈" if measured.get("within_noise") else ""
