"""The `memberwise` command line: one command per stage, plus `demo` which runs the main job."""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from memberwise.errors import MemberwiseError
from memberwise.settings import Settings

if TYPE_CHECKING:
    from memberwise.modeling.allocator import Allocation
    from memberwise.modeling.gap import GapResult
    from memberwise.pipelines.gate import GateDecision
    from memberwise.pipelines.planning import PlanSummary
    from memberwise.pipelines.prepare import Prepared
    from memberwise.pipelines.retrain import RetrainSummary

app = typer.Typer(
    help="memberwise: unified members, member features and marketing models for omni-channel brands.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

DataOption = Annotated[Path, typer.Option("--data", help="Directory of CSV/Parquet tables, or a DuckDB file")]
SnapshotOption = Annotated[
    datetime | None,
    typer.Option(
        "--snapshot-date", formats=["%Y-%m-%d"], help="Events after this day are rejected [default: today]"
    ),
]
AsOfOption = Annotated[
    datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Feature cutoff date (exclusive)")
]


def _settings(snapshot: datetime | None = None, **overrides: object) -> Settings:
    settings = Settings()
    updates = {k: v for k, v in overrides.items() if v is not None}
    if snapshot is not None:
        updates["snapshot_date"] = snapshot.date()
    return settings.model_copy(update=updates)


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write Parquet, or CSV when the file name says so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _show(frame: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(
            str(column), justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left"
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    console.print(table)


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option(help="Directory to write the six tables (and truth/) into")],
    members: Annotated[
        int, typer.Option(min=100, help="People to simulate (members after unification)")
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same brand")] = 7,
    dirty: Annotated[
        bool, typer.Option(help="Add a known number of invalid rows of each kind (CSV only)")
    ] = False,
    file_format: Annotated[
        Literal["parquet", "csv"], typer.Option("--format", help="File format of the tables")
    ] = "parquet",
) -> None:
    """Generate a realistic demo brand with planted ground truth in OUT/truth."""
    from memberwise.data.demo import DemoConfig, generate

    fmt: Literal["parquet", "csv"] = "csv" if dirty else file_format
    started = time.perf_counter()
    manifest = generate(
        DemoConfig(members=members, seed=seed, dirty=dirty, file_format=fmt), out, progress=True
    )
    rows = manifest["rows"]
    assert isinstance(rows, dict)
    _show(pd.DataFrame({"table": list(rows), "rows": list(rows.values())}), f"demo brand in {out}")
    console.print(
        f"snapshot date {manifest['snapshot_date']}; truth in {out / 'truth'}; "
        f"{time.perf_counter() - started:.1f}s"
    )


@app.command()
def validate(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Directory for rejects.csv and validation_report.json")],
    snapshot_date: SnapshotOption = None,
) -> None:
    """Check every table against the data contract; write the rejected rows with their reasons."""
    from memberwise.data.io import load, reason_counts
    from memberwise.pipelines.prepare import snapshot_timestamp

    result = load(data, snapshot_timestamp(_settings(snapshot_date).snapshot_date))
    result.write_report(out)
    _show(result.counts, "rows per table")
    if not result.rejects.empty:
        _show(reason_counts(result.rejects), "reject reasons")
    console.print(f"rejects: {out / 'rejects.csv'} ({len(result.rejects):,} rows)")


@app.command()
def unify(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Directory for member_map, members and hub_identifiers")],
    snapshot_date: SnapshotOption = None,
    max_accounts_per_identifier: Annotated[
        int | None, typer.Option(min=2, help="Hub guard: identifiers shared by more accounts never link")
    ] = None,
) -> None:
    """Link channel accounts into unified members (member_map, members)."""
    from memberwise.pipelines.prepare import prepare

    prepared = prepare(
        data, _settings(snapshot_date, max_accounts_per_identifier=max_accounts_per_identifier)
    )
    identity = prepared.identity
    out.mkdir(parents=True, exist_ok=True)
    _write_frame(identity.member_map, out / "member_map.parquet")
    _write_frame(identity.members, out / "members.parquet")
    _write_frame(identity.hubs, out / "hub_identifiers.csv")
    console.print(
        f"{len(identity.member_map):,} accounts -> {len(identity.members):,} members; "
        f"{len(identity.hubs)} hub identifier(s) not used for linking; written to {out}"
    )
    if not identity.hubs.empty:
        _show(identity.hubs.head(10), "hub identifiers (largest first)")


@app.command()
def features(
    data: DataOption,
    as_of: AsOfOption,
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv)")],
    snapshot_date: SnapshotOption = None,
    label_horizon: Annotated[
        int | None, typer.Option(min=1, help="Also add `repurchased` within this many days after the cutoff")
    ] = None,
) -> None:
    """Build one row of member features per unified member as of a cutoff date."""
    from memberwise.features import build_features, repurchase_labels
    from memberwise.pipelines.prepare import prepare

    settings = _settings(snapshot_date)
    prepared = prepare(data, settings)
    started = time.perf_counter()
    table = build_features(prepared.warehouse, as_of.date(), new_window_days=settings.new_window_days)
    if label_horizon:
        labels = repurchase_labels(prepared.warehouse, as_of.date(), label_horizon)
        table = table.merge(labels[["member_id", "repurchased"]], on="member_id", how="left")
    _write_frame(table, out)
    console.print(
        f"{len(table):,} members x {table.shape[1]} columns as of {as_of.date()} "
        f"in {time.perf_counter() - started:.1f}s -> {out}"
    )
    _show(
        table["lifecycle_stage"].value_counts().rename_axis("lifecycle_stage").reset_index(),
        "lifecycle stages",
    )


@app.command("audience-sales")
def audience_sales_command(
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv)")],
    snapshot_date: SnapshotOption = None,
) -> None:
    """Weekly revenue, orders and buyers per audience (new/returning customers and members)."""
    from memberwise.features import audience_sales
    from memberwise.pipelines.prepare import prepare

    settings = _settings(snapshot_date)
    prepared = prepare(data, settings)
    table = audience_sales(prepared.warehouse, new_window_days=settings.new_window_days)
    _write_frame(table, out)
    console.print(f"{table['week'].nunique()} weeks x {table['audience'].nunique()} audiences -> {out}")


train_app = typer.Typer(help="Train a model and register it as the challenger.", no_args_is_help=True)
promote_app = typer.Typer(help="Run the promotion gate: challenger vs champion.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(promote_app, name="promote")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Experiment YAML [default: experiments/<model>.yaml]")
]
ConfigDirOption = Annotated[
    Path | None,
    typer.Option("--config-dir", help="Directory of the models' YAML files [default: experiments/]"),
]
OptionalAsOf = Annotated[
    datetime | None,
    typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="Cutoff date [default: the day after the snapshot date]"
    ),
]


def _prepare_at(
    data: Path, as_of: datetime | None, snapshot_date: datetime | None
) -> tuple[Settings, Prepared, date]:
    """Settings, the prepared warehouse and the cutoff (default: the day after the snapshot)."""
    from memberwise.pipelines.prepare import prepare

    settings = _settings(snapshot_date)
    prepared = prepare(data, settings)
    return settings, prepared, as_of.date() if as_of else prepared.default_as_of


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
    settings, prepared, cutoff = _prepare_at(data, as_of, snapshot_date)
    result = train_propensity(prepared.warehouse, cutoff, cfg, settings, "manual", progress=True)
    _show(_metric_table(result.metrics), f"memberwise-propensity v{result.model_version} (challenger)")


def _metric_table(metrics: dict[str, float]) -> pd.DataFrame:
    names = [
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
    ]
    shown = [n for n in names if n in metrics]
    return pd.DataFrame({"metric": shown, "value": [f"{metrics[n]:.4f}" for n in shown]})


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
    settings, prepared, cutoff = _prepare_at(data, as_of, snapshot_date)
    _print_decision(promote_propensity(prepared.warehouse, cutoff, cfg, settings))


def _print_decision(decision: GateDecision) -> None:
    verdict = "[green]approved[/]" if decision.approved else "[red]rejected[/]"
    console.print(f"challenger v{decision.challenger} {verdict} (champion was v{decision.champion}):")
    for reason in decision.reasons:
        console.print(f"  - {reason}")


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
    old, new = move_back(_settings(), name)
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
    settings, prepared, cutoff = _prepare_at(data, as_of, snapshot_date)
    result = train_personas(prepared.warehouse, cutoff, cfg, settings)
    shown = result.model.personas_[["persona_id", "name", "member_share", "revenue_share", "description"]]
    _show(shown.round(3), f"memberwise-personas v{result.model_version} (challenger), k={result.model.k_}")


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
    settings, prepared, cutoff = _prepare_at(data, as_of, snapshot_date)
    _print_decision(promote_personas(prepared.warehouse, cutoff, cfg, settings))


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
    settings, prepared, cutoff = _prepare_at(data, as_of, snapshot_date)
    result = train_forecast(prepared.warehouse, cutoff, cfg, settings, progress=True)
    table = result.scores.pivot_table(index="audience", columns="model", values=["mase", "coverage80"])
    table.columns = [f"{metric}_{model}" for metric, model in table.columns]
    _show(table.round(3).reset_index(), f"memberwise-forecast v{result.model_version} (challenger): backtest")


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
    _print_decision(promote_forecast(_settings(), load_forecast_config(config), cutoff))


SavedDataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Tables to compute from [default: the inputs the last retrain saved, answered fast]"
    ),
]


@app.command()
def gap(
    period: Annotated[
        str, typer.Option(help="KPI period: a year (2026), quarter (2026-Q3) or half (2026-H2)")
    ],
    target: Annotated[
        float | None, typer.Option(min=0, help="Revenue target [default: the kpi_targets row]")
    ] = None,
    data: SavedDataOption = None,
    as_of: OptionalAsOf = None,
    config: ConfigOption = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Actual to date + champion forecast for the rest of the period vs the target: gap and P(meet)."""
    result = _gap(period, target, data, as_of, config, snapshot_date)
    _show(result.per_audience.round(0), f"KPI gap {period} by audience")
    _print_gap(result)


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
    from memberwise.pipelines.planning import saved_gap

    if data is None:
        return saved_gap(_settings(snapshot_date), period, target)
    settings, prepared, _ = _prepare_at(data, None, snapshot_date)
    cutoff = as_of.date() if isinstance(as_of, datetime) else as_of
    return kpi_gap(prepared.warehouse, period, target, settings, None, cutoff, load_forecast_config(config))


@app.command()
def allocate(
    budget: Annotated[
        float | None,
        typer.Option(min=0, help="Budget (yuan) for the planning period; close-gap: a cap [default: none]"),
    ] = None,
    mode: Annotated[
        Literal["max-revenue", "close-gap"],
        typer.Option(help="max-revenue within the budget, or the cheapest plan closing the KPI gap"),
    ] = "max-revenue",
    period: Annotated[str | None, typer.Option(help="close-gap: the KPI period [default: this year]")] = None,
    gap_target: Annotated[
        float | None, typer.Option(min=0, help="close-gap: revenue to add [default: the KPI gap]")
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
        _print_gap(result)
        if result.gap <= 0:
            console.print("the projection already meets the target: no gap to close")
            return
        gap_target = result.gap
    if data is None:
        allocation = saved_allocation(_settings(snapshot_date), budget, mode, gap_target)
        contacts = None
    else:
        settings, prepared, cutoff = _prepare_at(data, as_of, snapshot_date)
        cfg = load_budget_config(config)
        run = run_allocate(
            prepared.warehouse, settings, budget, mode, gap_target, None, "manual", cfg, cutoff
        )
        allocation, contacts = run.allocation, run.contacts
    _show(allocation.plan.head(15).round(2), f"plan: {len(allocation.plan)} cells (top 15 by spend)")
    _print_allocation(allocation)
    prices = allocation.binding[["name", "shadow_price"]]
    prices = prices.sort_values("shadow_price", key=abs, ascending=False)
    _show(prices.head(15).round(4), "binding constraints, largest shadow prices (objective gain per unit)")
    if out is not None and contacts is not None:
        _write_frame(allocation.plan, out / "plan.csv")
        _write_frame(contacts, out / "contacts.parquet")
        console.print(f"plan and {len(contacts):,} member contacts written to {out}")


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
    settings, prepared, cutoff = _prepare_at(data, as_of, snapshot_date)
    model, version = champion(settings)
    personas = champion_personas(settings)
    table = score_members(prepared.warehouse, cutoff, model, version, cut, personas=personas and personas[0])
    table = table[list(SCORE_COLUMNS)]
    if out.suffix == ".csv":
        table = table.assign(reasons=table["reasons"].map("; ".join))
    _write_frame(table, out)
    chosen = int(table["selected"].sum())
    console.print(f"{len(table):,} members scored by v{version}; {chosen:,} above {cut:g} -> {out}")


@app.command()
def retrain(
    data: DataOption,
    as_of: OptionalAsOf = None,
    config_dir: ConfigDirOption = None,
    snapshot_date: SnapshotOption = None,
    trigger: Annotated[str, typer.Option(help="Tag for the run: scheduled or manual")] = "scheduled",
    force: Annotated[
        bool, typer.Option(help="Retrain even if this data and config were already done")
    ] = False,
) -> None:
    """The scheduled job: validate, unify, train and gate every model, refresh the snapshot, plan."""
    from memberwise.config import load_retrain_config
    from memberwise.pipelines.retrain import retrain as run_retrain

    cfg = load_retrain_config(config_dir)
    summary = run_retrain(
        data, _settings(snapshot_date), cfg, as_of.date() if as_of else None, trigger, force, True
    )
    _print_retrain(summary)


def _print_retrain(summary: RetrainSummary) -> None:
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
    console.print(
        f"served snapshot: {snapshot.members:,} members, {snapshot.selected:,} selected, "
        f"scored by v{snapshot.model_version}, personas v{snapshot.personas_version}"
    )
    if summary.plan is not None:
        _print_plan(summary.plan)


def _print_plan(planned: PlanSummary) -> None:
    if planned.gap is not None:
        _print_gap(planned.gap)
    if planned.budget is not None:
        _print_allocation(planned.budget.allocation)
    for problem in planned.problems:
        console.print(f"[yellow]planning could not complete:[/] {problem}")


def _print_gap(result: GapResult) -> None:
    console.print(
        f"KPI {result.period_start.date()} to {(result.period_end - pd.Timedelta(days=1)).date()}: "
        f"target {result.target:,.0f}, actual {result.actual_to_date:,.0f} + forecast "
        f"{result.forecast_rest:,.0f} = projected {result.projected_total:,.0f} "
        f"({result.achievement_rate:.1%}); gap {result.gap:,.0f}; P(meet target) {result.p_meet_target:.0%}"
    )


def _print_allocation(allocation: Allocation) -> None:
    totals = allocation.totals
    console.print(
        f"budget plan ({allocation.mode}, {allocation.status}): spend {totals['spend']:,.0f}, expected "
        f"incremental revenue {totals['incremental_revenue']:,.0f} (ROI {totals['roi']:.2f}), "
        f"{totals['contacts']:,.0f} contacts in {len(allocation.plan)} cells"
    )
    for message in allocation.messages:
        console.print(f"  - {message}")


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
    settings = _settings()
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

    settings = _settings()
    cfg = DemoConfig(members=members, seed=seed)
    data_dir = settings.demo_dir / f"brand-{members}-{seed}"
    if not (data_dir / "truth" / "manifest.json").exists():
        console.rule("1/3 generating the demo brand")
        generate(cfg, data_dir, progress=True)
    settings = settings.model_copy(update={"snapshot_date": date.fromisoformat(cfg.end)})
    console.rule("2/3 retrain: validate, unify, features, train, gate, score snapshot")
    configs = load_retrain_config(config_dir)
    summary = run_retrain(data_dir, settings, configs, trigger="manual", progress=True)
    _print_retrain(summary)
    prepared = summary.prepared
    prepared.data.write_report(settings.output_dir)
    console.rule("3/3 summary")
    _show(prepared.data.counts, f"data contract check of {data_dir}")
    identity = prepared.identity
    console.print(
        f"{identity.count('member_map'):,} accounts -> {identity.count('members'):,} unified members "
        f"({len(identity.hubs)} hub identifiers ignored)"
    )
    table = build_features(prepared.warehouse, summary.as_of, new_window_days=settings.new_window_days)
    _write_frame(table, settings.output_dir / "member_features.parquet")
    sales = audience_sales(prepared.warehouse, new_window_days=settings.new_window_days)
    _write_frame(sales, settings.output_dir / "audience_sales.parquet")
    _summarise_members(table, sales)
    console.print(
        f"outputs in {settings.output_dir}: member_features.parquet, audience_sales.parquet, rejects.csv\n"
        "next: `memberwise ui` (compare runs and versions in MLflow), `memberwise serve` (score, select, "
        "persona, gap and allocate API, docs at http://127.0.0.1:3000/docs), `memberwise gap --period 2026`, "
        "`memberwise allocate --budget 200000`, and the review notebooks in notebooks/"
    )


def _summarise_members(table: pd.DataFrame, sales: pd.DataFrame) -> None:
    stages = ["active", "silent", "sleeping", "lost", "prospect"]
    summary = (
        table.groupby("lifecycle_stage")
        .agg(members=("member_id", "size"), revenue_365d=("revenue_365d", "sum"))
        .reindex(stages, fill_value=0)
    )
    _show(summary.round(0).astype("int64").reset_index(), "members by lifecycle stage")
    year = sales["week"].dt.year.astype(str).rename("year")
    yearly = sales.groupby([year, "audience"])["revenue"].sum().unstack()
    _show(yearly.round(0).astype("int64").reset_index(), "revenue per year and audience")


def main() -> None:
    """Entry point: user-facing errors become one red line and exit code 2, never a traceback."""
    for var in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "BENTOML_DO_NOT_TRACK"):
        os.environ.setdefault(var, "true")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except MemberwiseError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False)
        sys.exit(2)
