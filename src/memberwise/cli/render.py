"""How results are printed: tables and one-line summaries shared by several commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from memberwise.modeling.allocator import Allocation
    from memberwise.modeling.gap import GapResult
    from memberwise.pipelines.gate import GateDecision
    from memberwise.pipelines.planning import PlanSummary
    from memberwise.pipelines.retrain import RetrainSummary
    from memberwise.release import Release

console = Console()
err_console = Console(stderr=True)

_SHOWN_METRICS = (
    "val_auc",
    "baseline_rfm_auc",
    "baseline_bgnbd_auc",
    "val_ece",
    "val_brier",
    "lift_top_decile",
    "precision_at_threshold",
    "recall_at_threshold",
    "selected_share",
    "bgnbd_feature_auc_gain",
)


def show(frame: pd.DataFrame, title: str) -> None:
    """Print a frame as a table: numbers right-aligned, integers with thousands separators."""
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(
            str(column), justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left"
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    console.print(table)


def metric_table(metrics: dict[str, float]) -> pd.DataFrame:
    """The propensity metrics a reader checks first, in a fixed order."""
    shown = [n for n in _SHOWN_METRICS if n in metrics]
    return pd.DataFrame({"metric": shown, "value": [f"{metrics[n]:.4f}" for n in shown]})


def print_decision(decision: GateDecision) -> None:
    """A gate's verdict and every reason behind it."""
    verdict = "[green]approved[/]" if decision.approved else "[red]rejected[/]"
    console.print(f"challenger v{decision.challenger} {verdict} (champion was v{decision.champion}):")
    for reason in decision.reasons:
        console.print(f"  - {reason}")


def print_retrain(summary: RetrainSummary) -> None:
    """What a retrain changed: each model's verdict, the served snapshot, the plan."""
    if summary.skipped:
        console.print(f"up to date: retrain run {summary.run_id} already covers this data, cutoff and config")
        return
    gate, snapshot = summary.gate, summary.snapshot
    assert gate is not None and snapshot is not None  # a retrain that was not skipped has both
    verdict = "promoted to champion" if gate.approved else "rejected by the gate: " + "; ".join(gate.reasons)
    console.print(f"retrain {summary.run_id} as of {summary.as_of}: model v{summary.model_version} {verdict}")
    for kind, version, decision in (
        ("personas", summary.personas_version, summary.personas_gate),
        ("forecast", summary.forecast_version, summary.forecast_gate),
    ):
        if decision is not None:
            outcome = "promoted" if decision.approved else "rejected: " + "; ".join(decision.reasons)
            console.print(f"{kind} v{version} {outcome}")
    for message in summary.recovered:
        console.print(f"recovered: {message}")
    console.print(
        f"published release {summary.release}: {snapshot.members:,} members, {snapshot.selected:,} "
        f"selected, scored by v{snapshot.model_version}, personas v{snapshot.personas_version}"
    )
    if summary.uplift is not None:
        ranking = "uplift" if summary.uplift.get("uplift_wins") else "propensity"
        console.print(f"/select and contact lists rank by {ranking}: {summary.uplift.get('reason', '')}")
    if summary.plan is not None:
        print_plan(summary.plan)


def print_plan(planned: PlanSummary) -> None:
    """The retrain's planning step: gap, budget plan, and what could not be planned."""
    if planned.gap is not None:
        print_gap(planned.gap)
    if planned.budget is not None:
        print_allocation(planned.budget.allocation)
    for problem in planned.problems:
        console.print(f"[yellow]planning could not complete:[/] {problem}")


def print_gap(result: GapResult) -> None:
    """The KPI gap in one line: target, actual + forecast = projected, gap and P(meet)."""
    console.print(
        f"KPI {result.period_start.date()} to {(result.period_end - pd.Timedelta(days=1)).date()}: "
        f"target {result.target:,.0f}, actual {result.actual_to_date:,.0f} + forecast "
        f"{result.forecast_rest:,.0f} = projected {result.projected_total:,.0f} "
        f"({result.achievement_rate:.1%}); gap {result.gap:,.0f}; P(meet target) {result.p_meet_target:.0%}"
    )
    columns = [c for c in ("audience", "actual_to_date", "forecast_rest", "forecast_rest_q10",
                           "forecast_rest_q90", "model") if c in result.per_audience.columns]  # fmt: skip
    table = result.per_audience[columns]
    table = table.assign(**table.select_dtypes("number").round(0)).rename(
        columns={"actual_to_date": "actual", "forecast_rest": "forecast", "forecast_rest_q10": "q10",
                 "forecast_rest_q90": "q90"}
    )  # fmt: skip
    show(table, "per audience: actual to date + forecast for the rest (80% interval), and its model")
    if result.weekly is not None and not result.weekly.empty:
        ahead = result.weekly.groupby("week")[["q10", "q50", "q90"]].sum().head(8).round(0).reset_index()
        show(
            ahead.assign(week=pd.to_datetime(ahead["week"]).dt.date),
            "forecast: the next weeks, all audiences",
        )


def print_allocation(allocation: Allocation) -> None:
    """A budget plan's totals and the solver's messages."""
    totals = allocation.totals
    console.print(
        f"budget plan ({allocation.mode}, {allocation.status}): spend {totals['spend']:,.0f}, expected "
        f"incremental revenue {totals['incremental_revenue']:,.0f} (ROI {totals['roi']:.2f}), "
        f"{totals['contacts']:,.0f} contacts in {len(allocation.plan)} cells"
    )
    for message in allocation.messages:
        console.print(f"  - {message}")


def summarise_members(table: pd.DataFrame, sales: pd.DataFrame) -> None:
    """Members and revenue per lifecycle stage, and revenue per year and audience (the demo's summary)."""
    stages = ["active", "silent", "sleeping", "lost", "prospect"]
    summary = (
        table.groupby("lifecycle_stage")
        .agg(members=("member_id", "size"), revenue_365d=("revenue_365d", "sum"))
        .reindex(stages, fill_value=0)
    )
    show(summary.round(0).astype("int64").reset_index(), "members by lifecycle stage")
    year = sales["week"].dt.year.astype(str).rename("year")
    yearly = sales.groupby([year, "audience"])["revenue"].sum().unstack()
    show(yearly.round(0).astype("int64").reset_index(), "revenue per year and audience")


def print_published(published: Release | None) -> None:
    """Say which release a promotion published (or that the served release did not change)."""
    if published is None:
        console.print("the served release is unchanged")
        return
    versions = ", ".join(f"{kind} v{v}" for kind, v in published.manifest.models.items())
    console.print(f"published release {published.id}: {versions}")
