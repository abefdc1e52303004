"""Planning commands: the KPI gap and the budget allocation, from data or the last retrain's inputs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from memberwise.cli.app import app
from memberwise.cli.options import (
    ConfigOption,
    OptionalAsOf,
    SavedDataOption,
    SnapshotOption,
    prepare_at,
    settings_for,
    write_frame,
)
from memberwise.cli.render import console, print_allocation, print_gap, show
from memberwise.errors import MemberwiseError

if TYPE_CHECKING:
    from memberwise.modeling.gap import GapResult


@app.command()
def gap(
    period: Annotated[
        str, typer.Option(help="KPI period: a year (2026), quarter (2026-Q3) or half (2026-H2)")
    ],
    target: Annotated[
        float | None, typer.Option(min=0, help="Revenue target (default: the kpi_targets row)")
    ] = None,
    data: SavedDataOption = None,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Actual to date + champion forecast for the rest of the period vs the target: gap and P(meet)."""
    result = _gap(period, target, data, as_of, config, snapshot_date)
    show(result.per_audience.round(0), f"KPI gap {period} by audience")
    print_gap(result)


def _gap(
    period: str,
    target: float | None,
    data: Path | None,
    as_of: datetime | date | None,
    config: Path | None,
    snapshot_date: datetime | None,
) -> GapResult:
    """The gap from `data` when given, else from the last retrain's saved inputs (both logged as runs)."""
    from memberwise.config import load_forecast_config
    from memberwise.pipelines.gap import kpi_gap
    from memberwise.pipelines.planning import saved_gap, serving_forecaster

    if data is None:
        return saved_gap(settings_for(snapshot_date), period, target)
    settings, prepared, _ = prepare_at(data, None, snapshot_date)
    cutoff = as_of.date() if isinstance(as_of, datetime) else as_of
    forecaster = serving_forecaster(settings)
    return kpi_gap(
        prepared.duckdb("gap"), period, target, settings, forecaster, cutoff, load_forecast_config(config)
    )


@app.command("forecast-series")
def forecast_series(
    series: Annotated[Path, typer.Option(help="CSV or Parquet with columns week, series, value")],
    horizon: Annotated[
        int, typer.Option(min=1, max=104, help="Weeks to forecast after each series' last week")
    ],
    out: Annotated[Path, typer.Option(help="Directory for forecast.csv, backtest.csv (and rejects.csv)")],
    events: Annotated[
        Path | None, typer.Option(help="Events calendar: columns event, date (default: the config's)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Forecast any weekly series (sales per store, region, category) with the forecast tournament.

    Every candidate is backtested per series; each series gets the best one, with 80% intervals from its
    backtest errors. Weeks keep their weekday; gaps are interpolated; bad rows are rejected with reasons.
    """
    from memberwise.config import load_forecast_config
    from memberwise.data.series_file import read_series
    from memberwise.pipelines.series_forecast import forecast_series as run
    from memberwise.pipelines.series_forecast import read_events

    cfg = load_forecast_config(config)
    if events is not None:
        cfg = cfg.model_copy(update={"events": read_events(events, cfg.events)})
    data = read_series(series)
    result = run(data, series, horizon, out, cfg, settings_for())
    chosen = result.backtest[result.backtest["chosen"]].drop(columns="chosen")
    show(chosen.round(3), f"chosen model per series ({len(chosen)} series), backtest")
    if len(result.rejects):
        console.print(f"{len(result.rejects)} row(s) or series rejected: reasons in {out / 'rejects.csv'}")
    console.print(f"forecast.csv and backtest.csv written to {out} (MLflow run {result.run_id})")


@app.command()
def allocate(
    budget: Annotated[
        float | None,
        typer.Option(min=0, help="Budget (yuan) for the planning period; close-gap: a cap (default: none)"),
    ] = None,
    mode: Annotated[
        Literal["max-revenue", "close-gap"],
        typer.Option(help="max-revenue within the budget, or the cheapest plan closing the KPI gap"),
    ] = "max-revenue",
    period: Annotated[str | None, typer.Option(help="close-gap: the KPI period (default: this year)")] = None,
    gap_target: Annotated[
        float | None, typer.Option(min=0, help="close-gap: revenue to add (default: the KPI gap)")
    ] = None,
    data: SavedDataOption = None,
    out: Annotated[
        Path | None, typer.Option(help="With --data: write the plan and member lists here (directory)")
    ] = None,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Plan contacts per audience x propensity tier x strategy with a linear program (HiGHS).

    Without --data it re-solves on the response estimates the last retrain saved (fast what-if); with
    --data it estimates responses from the campaign history again and picks the members to contact.
    """
    from memberwise.config import load_budget_config
    from memberwise.pipelines.budget import allocate as run_allocate
    from memberwise.pipelines.planning import saved_allocation

    if mode == "max-revenue" and budget is None:
        raise MemberwiseError("max-revenue needs --budget (close-gap finds the budget itself)")
    if out is not None and data is None:
        raise MemberwiseError("--out writes member lists, which need --data")
    if mode == "close-gap" and gap_target is None:
        cutoff = as_of.date() if as_of else None
        year = period or str(((cutoff or date.today()) - timedelta(days=1)).year)
        result = _gap(year, None, data, cutoff, None, snapshot_date)
        print_gap(result)
        if result.gap <= 0:
            console.print("the projection already meets the target: no gap to close")
            return
        gap_target = result.gap
    if data is None:
        allocation = saved_allocation(settings_for(snapshot_date), budget, mode, gap_target)
        contacts = None
    else:
        settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
        cfg = load_budget_config(config)
        run = run_allocate(
            prepared.duckdb("allocate"), settings, budget, mode, gap_target, None, "manual", cfg, cutoff
        )
        allocation, contacts = run.allocation, run.contacts
    show(allocation.plan.head(15).round(2), f"plan: {len(allocation.plan)} cells (top 15 by spend)")
    print_allocation(allocation)
    prices = allocation.binding[["name", "shadow_price"]]
    prices = prices.sort_values("shadow_price", key=abs, ascending=False)
    show(prices.head(15).round(4), "binding constraints, largest shadow prices (objective gain per unit)")
    if out is not None and contacts is not None:
        write_frame(allocation.plan, out / "plan.csv")
        write_frame(contacts, out / "contacts.parquet")
        console.print(f"plan and {len(contacts):,} member contacts written to {out}")
