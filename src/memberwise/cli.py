"""The `memberwise` command line: one command per stage, plus `demo` which runs the main job."""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from memberwise.errors import MemberwiseError
from memberwise.settings import Settings

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


@app.command()
def demo(
    members: Annotated[int, typer.Option(min=100, help="Size of the generated demo brand")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the demo brand")] = 7,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Feature cutoff [default: snapshot]"),
    ] = None,
) -> None:
    """The main job on the embedded default: demo brand -> validate -> unify -> features -> summary."""
    from memberwise.data.demo import DemoConfig, generate
    from memberwise.features import audience_sales, build_features
    from memberwise.pipelines.prepare import prepare

    settings = _settings()
    cfg = DemoConfig(members=members, seed=seed)
    data_dir = settings.demo_dir / f"brand-{members}-{seed}"
    if not (data_dir / "truth" / "manifest.json").exists():
        console.rule("1/4 generating the demo brand")
        generate(cfg, data_dir, progress=True)
    settings = settings.model_copy(update={"snapshot_date": date.fromisoformat(cfg.end)})
    console.rule("2/4 validating and unifying members")
    prepared = prepare(data_dir, settings)
    prepared.data.write_report(settings.output_dir)
    _show(prepared.data.counts, f"data contract check of {data_dir}")
    identity = prepared.identity
    console.print(
        f"{identity.count('member_map'):,} accounts -> {identity.count('members'):,} unified members "
        f"({len(identity.hubs)} hub identifiers ignored)"
    )
    cutoff = as_of.date() if as_of else date.fromisoformat(cfg.end) + pd.Timedelta(days=1)
    console.rule(f"3/4 member features as of {cutoff}")
    table = build_features(prepared.warehouse, cutoff, new_window_days=settings.new_window_days)
    _write_frame(table, settings.output_dir / "member_features.parquet")
    sales = audience_sales(prepared.warehouse, new_window_days=settings.new_window_days)
    _write_frame(sales, settings.output_dir / "audience_sales.parquet")
    console.rule("4/4 summary")
    stages = ["active", "silent", "sleeping", "lost", "prospect"]
    summary = (
        table.groupby("lifecycle_stage")
        .agg(members=("member_id", "size"), revenue_365d=("revenue_365d", "sum"))
        .reindex(stages, fill_value=0)
    )
    _show(summary.round(0).astype("int64").reset_index(), "members by lifecycle stage")
    segments = table["rfm_segment"].value_counts().rename_axis("rfm_segment").rename("members").reset_index()
    _show(segments, "RFM segments of buyers")
    year = sales["week"].dt.year.astype(str).rename("year")
    yearly = sales.groupby([year, "audience"])["revenue"].sum().unstack()
    _show(yearly.round(0).astype("int64").reset_index(), "revenue per year and audience")
    console.print(
        f"outputs in {settings.output_dir}: member_features.parquet, audience_sales.parquet, rejects.csv, "
        "validation_report.json\n"
        "columns are defined in docs/features.md; `memberwise --help` lists every stage"
    )


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
