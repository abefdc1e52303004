"""Model commands: train and promote each model, roll a champion back, score every member."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from memberwise.cli.app import app, promote_app, train_app
from memberwise.cli.options import (
    ConfigOption,
    DataOption,
    EngineOption,
    OptionalAsOf,
    SnapshotOption,
    SourceOption,
    prepare_at,
    settings_for,
    write_frame,
)
from memberwise.cli.render import console, metric_table, print_decision, print_published, show


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
    result = train_propensity(
        prepared.duckdb("train-propensity"), cutoff, cfg, settings, "manual", progress=True
    )
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
    from memberwise.pipelines.publish import publish_promotion

    cfg = load_propensity_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    decision = promote_propensity(prepared.duckdb("promote-propensity"), cutoff, cfg, settings)
    print_decision(decision)
    published = publish_promotion(
        settings,
        "propensity",
        decision,
        "manual",
        prepared.duckdb("promote-propensity"),
        cutoff,
        cfg.threshold,
    )
    print_published(published)


@app.command()
def rollback() -> None:
    """Serve the previous release again: its scores, planning inputs and every model's champion together.

    Nothing is retrained. Releases are kept on disk (MEMBERWISE_RELEASES_KEPT, default 5).
    """
    from memberwise import release

    old, new = release.rollback(settings_for())
    changed = {k: f"v{old.manifest.models.get(k)} -> v{v}" for k, v in new.manifest.models.items()}
    console.print(f"release {old.id} -> {new.id} (as of {new.manifest.as_of}); models: {changed}")


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
    result = train_personas(prepared.duckdb("train-personas"), cutoff, cfg, settings)
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
    from memberwise.pipelines.publish import publish_promotion

    cfg = load_personas_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    decision = promote_personas(prepared.duckdb("promote-personas"), cutoff, cfg, settings)
    print_decision(decision)
    print_published(
        publish_promotion(
            settings, "personas", decision, "manual", prepared.duckdb("promote-personas"), cutoff
        )
    )


@train_app.command("forecast")
def train_forecast_command(
    data: DataOption,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Run the forecast tournament per audience and register it as challenger.

    Candidates: the GRU, seasonal naive, ETS, Theta, a calendar regression and an ensemble; prints each
    audience's choice and its backtest MASE next to seasonal naive's and ETS's.
    """
    from memberwise.config import load_forecast_config
    from memberwise.modeling.forecaster.selection import summary
    from memberwise.pipelines.forecast import train_forecast

    cfg = load_forecast_config(config)
    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date)
    result = train_forecast(prepared.duckdb("train-forecast"), cutoff, cfg, settings, progress=True)
    table = summary(result.scores).round(3).reset_index()
    show(table, f"memberwise-forecast v{result.model_version} (challenger): backtest MASE per audience")


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
    from memberwise.pipelines.publish import publish_promotion

    cutoff = as_of.date() if as_of else date.today()
    settings = settings_for()
    decision = promote_forecast(settings, load_forecast_config(config), cutoff)
    print_decision(decision)
    print_published(publish_promotion(settings, "forecast", decision))


@app.command()
def score(
    data: SourceOption,
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv)")],
    as_of: OptionalAsOf = None,
    snapshot_date: SnapshotOption = None,
    threshold: Annotated[float | None, typer.Option(min=0, max=100, help="Selection threshold")] = None,
    engine: EngineOption = None,
) -> None:
    """Score every member with the served models: score, selected, lifecycle, preferred channel, reasons.

    The models and the default threshold are the current release's (the registry's champions before any).
    On Spark the propensity champion scores on the executors; reasons and personas stay null there.
    """
    from memberwise import release
    from memberwise.config import load_propensity_config
    from memberwise.pipelines.score import release_scores, serving_models, write_spark_scores
    from memberwise.snapshot import SCORE_COLUMNS

    settings, prepared, cutoff = prepare_at(data, as_of, snapshot_date, engine)
    current = release.current(settings)
    served = current.manifest.threshold if current else load_propensity_config(None).threshold
    cut = threshold if threshold is not None else served
    models = serving_models(settings)
    version = models["propensity"]
    if settings.engine == "spark":
        members, chosen = write_spark_scores(prepared.warehouse, cutoff, version, cut, out)
    else:
        table = release_scores(prepared.duckdb("score"), cutoff, models, cut)
        table = table[list(SCORE_COLUMNS)]
        if out.suffix == ".csv":
            table = table.assign(reasons=table["reasons"].map("; ".join))
        write_frame(table, out)
        members, chosen = len(table), int(table["selected"].sum())
    console.print(f"{members:,} members scored by v{version}; {chosen:,} above {cut:g} -> {out}")
