"""Model commands: train and promote each model, roll a champion back, score every member."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer

from memberwise.cli.app import app, promote_app, train_app
from memberwise.cli.options import (
    ConfigOption,
    DataOption,
    OptionalAsOf,
    SnapshotOption,
    prepare_at,
    settings_for,
    write_frame,
)
from memberwise.cli.render import console, metric_table, print_decision, show


@train_app.command("propensity")
def train_propensity_command(
    data: DataOption,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Tune (Optuna), fit, calibrate and evaluate the repurchase model; register it as challenger."""
    from memberwise.config import load_propensity_config
    from memberwise.pipelines.propensity import train_propensity

    cfg = load_propensity_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    result = train_propensity(prepared.warehouse, cutoff, cfg, settings, "manual", progress=True)
    show(metric_table(result.metrics), f"memberwise-propensity v{result.model_version} (challenger)")


@promote_app.command("propensity")
def promote_propensity_command(
    data: DataOption,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Evaluate challenger and champion on the same fresh holdout; promote when the gate rules pass."""
    from memberwise.config import load_propensity_config
    from memberwise.pipelines.promote import promote_propensity

    cfg = load_propensity_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    print_decision(promote_propensity(prepared.warehouse, cutoff, cfg, settings))


@app.command()
def rollback(
    model: Annotated[
        Literal["propensity", "personas", "forecast"], typer.Argument(help="Which registered model")
    ],
) -> None:
    """Move a model's champion back to the previous champion (the aliases swap; nothing is retrained)."""
    from memberwise.pipelines.gate import rollback as move_back
    from memberwise.tracking import FORECAST_MODEL, PERSONAS_MODEL, PROPENSITY_MODEL

    name = {"propensity": PROPENSITY_MODEL, "personas": PERSONAS_MODEL, "forecast": FORECAST_MODEL}[model]
    old, new = move_back(settings_for(), name)
    console.print(f"{name} champion moved back from v{old} to v{new}")


@train_app.command("personas")
def train_personas_command(
    data: DataOption,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Cluster recent buyers (KMeans, k by silhouette + stability), name the personas, register challenger."""
    from memberwise.config import load_personas_config
    from memberwise.pipelines.personas import train_personas

    cfg = load_personas_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    result = train_personas(prepared.warehouse, cutoff, cfg, settings)
    shown = result.model.personas_[["persona_id", "name", "member_share", "revenue_share", "description"]]
    show(shown.round(3), f"memberwise-personas v{result.model_version} (challenger), k={result.model.k_}")


@promote_app.command("personas")
def promote_personas_command(
    data: DataOption,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Promote the personas challenger when it is stable and no persona is too small."""
    from memberwise.config import load_personas_config
    from memberwise.pipelines.personas import promote_personas

    cfg = load_personas_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    print_decision(promote_personas(prepared.warehouse, cutoff, cfg, settings))


@train_app.command("forecast")
def train_forecast_command(
    data: DataOption,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Backtest the audience-sales GRU against seasonal naive and ETS, fit it, register it as challenger."""
    from memberwise.config import load_forecast_config
    from memberwise.pipelines.forecast import train_forecast

    cfg = load_forecast_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    result = train_forecast(prepared.warehouse, cutoff, cfg, settings, progress=True)
    table = result.scores.pivot_table(index="audience", columns="model", values=["mase", "coverage80"])
    table.columns = [f"{metric}_{model}" for metric, model in table.columns]
    show(table.round(3).reset_index(), f"memberwise-forecast v{result.model_version} (challenger): backtest")


@promote_app.command("forecast")
def promote_forecast_command(
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
) -> None:
    """Promote the forecast challenger when its backtest beats seasonal naive with honest intervals.

    The gate reads both versions' backtests from their training runs, so no data is needed.
    """
    from memberwise.config import load_forecast_config
    from memberwise.pipelines.forecast import promote_forecast

    cutoff = as_of.date() if as_of else date.today()
    print_decision(promote_forecast(settings_for(), load_forecast_config(config), cutoff))


@app.command()
def score(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv)")],
    as_of: OptionalAsOf = None,
    snapshot_date: SnapshotOption = None,
    threshold: Annotated[float | None, typer.Option(min=0, max=100, help="Selection threshold")] = None,
) -> None:
    """Score every member with the champion: score, selected, lifecycle, preferred channel, reasons."""
    from memberwise.config import load_propensity_config
    from memberwise.pipelines.personas import champion_personas
    from memberwise.pipelines.score import champion, score_members
    from memberwise.snapshot import SCORE_COLUMNS

    cut = threshold if threshold is not None else load_propensity_config(None).threshold
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    model, version = champion(settings)
    personas = champion_personas(settings)
    table = score_members(prepared.warehouse, cutoff, model, version, cut, personas=personas and personas[0])
    table = table[list(SCORE_COLUMNS)]
    if out.suffix == ".csv":
        table = table.assign(reasons=table["reasons"].map("; ".join))
    write_frame(table, out)
    chosen = int(table["selected"].sum())
    console.print(f"{len(table):,} members scored by v{version}; {chosen:,} above {cut:g} -> {out}")
