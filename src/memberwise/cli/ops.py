"""Operations commands: the scheduled retrain, the service, the MLflow UI and the end-to-end demo."""

from __future__ import annotations

import os
import sys
from datetime import date
from typing import Annotated

import typer

from memberwise.cli.app import app
from memberwise.cli.options import (
    ConfigDirOption,
    EngineOption,
    OptionalAsOf,
    SnapshotOption,
    SourceOption,
    settings_for,
    write_frame,
)
from memberwise.cli.render import console, print_retrain, show, summarise_members


@app.command()
def retrain(
    data: SourceOption,
    as_of: OptionalAsOf = None,
    config_dir: ConfigDirOption = None,
    snapshot_date: SnapshotOption = None,
    trigger: Annotated[str, typer.Option(help="Tag for the run: scheduled or manual")] = "scheduled",
    force: Annotated[
        bool, typer.Option(help="Retrain even if this data and config were already done")
    ] = False,
    engine: EngineOption = None,
) -> None:
    """The scheduled job: validate, unify, train and gate every model, score, plan, publish a release.

    With `--engine spark`, validation and unify run on Spark; the models train on DuckDB from its tables.
    """
    from memberwise.config import load_retrain_config
    from memberwise.pipelines.retrain import retrain as run_retrain

    cfg = load_retrain_config(config_dir)
    console.print(cfg.describe_sources(), highlight=False)
    summary = run_retrain(
        data,
        settings_for(snapshot_date, engine=engine),
        cfg,
        as_of.date() if as_of else None,
        trigger,
        force,
        True,
    )
    print_retrain(summary)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 3000,
) -> None:
    """Start the BentoML service (score, select, persona, gap, allocate) on 127.0.0.1 (OpenAPI at /docs)."""
    import secrets

    from memberwise.serving import serve_command

    env = dict(os.environ)
    if not env.get("MEMBERWISE_API_KEY"):
        env["MEMBERWISE_API_KEY"] = secrets.token_urlsafe(24)
        console.print(
            f"MEMBERWISE_API_KEY not set; generated one for this session: {env['MEMBERWISE_API_KEY']}"
        )
    console.print(f"OpenAPI page: http://127.0.0.1:{port}/docs")
    cmd = serve_command(port)
    os.execvpe(cmd[0], cmd, env)


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 5000) -> None:
    """Start the MLflow UI on the project's tracking store (compare runs, versions and aliases)."""
    settings = settings_for()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        settings.tracking_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    console.print(f"MLflow UI on http://127.0.0.1:{port} (store {settings.tracking_uri})")
    os.execvp(cmd[0], cmd)


@app.command()
def demo(
    members: Annotated[int, typer.Option(min=100, help="Size of the generated demo brand")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the demo brand")] = 7,
    config_dir: ConfigDirOption = None,
) -> None:
    """The main job on the embedded default: generate the demo brand, then run the full retrain."""
    from memberwise.config import load_retrain_config
    from memberwise.data.demo import DemoConfig, generate
    from memberwise.features import audience_sales, build_features
    from memberwise.pipelines.retrain import retrain as run_retrain

    settings = settings_for()
    cfg = DemoConfig(members=members, seed=seed)
    data_dir = settings.demo_dir / f"brand-{members}-{seed}"
    if not (data_dir / "truth" / "manifest.json").exists():
        console.rule("1/3 generating the demo brand")
        generate(cfg, data_dir, progress=True)
    settings = settings.model_copy(update={"snapshot_date": date.fromisoformat(cfg.end)})
    console.rule("2/3 retrain: validate, unify, features, train, gate, score, plan, publish a release")
    configs = load_retrain_config(config_dir)
    console.print(configs.describe_sources(), highlight=False)
    summary = run_retrain(data_dir, settings, configs, trigger="manual", progress=True)
    print_retrain(summary)
    prepared = summary.prepared
    prepared.data.write_report(settings.output_dir)
    console.rule("3/3 summary")
    show(prepared.data.counts, f"data contract check of {data_dir}")
    identity = prepared.identity
    console.print(
        f"{identity.count('member_map'):,} accounts -> {identity.count('members'):,} unified members "
        f"({len(identity.hubs)} hub identifiers ignored)"
    )
    table = build_features(prepared.warehouse, summary.as_of, new_window_days=settings.new_window_days)
    write_frame(table, settings.output_dir / "member_features.parquet")
    sales = audience_sales(prepared.warehouse, new_window_days=settings.new_window_days)
    write_frame(sales, settings.output_dir / "audience_sales.parquet")
    summarise_members(table, sales)
    console.print(
        f"outputs in {settings.output_dir}: member_features.parquet, audience_sales.parquet, rejects.csv\n"
        "next: `memberwise ui` (compare runs and versions in MLflow), `memberwise serve` (score, select, "
        "persona, gap and allocate API, docs at http://127.0.0.1:3000/docs), `memberwise gap --period 2026`, "
        "`memberwise allocate --budget 200000`, and the review notebooks in notebooks/"
    )
