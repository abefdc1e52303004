"""Data commands: generate a demo brand, validate, unify, and build features and audience sales."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import typer

from memberwise.cli.app import app
from memberwise.cli.options import (
    AsOfOption,
    EngineOption,
    SnapshotOption,
    SourceOption,
    settings_for,
    write_frame,
)
from memberwise.cli.render import console, show

# The names of memberwise.data.demo.profiles.PROFILES, spelled out so --help needs no numpy (a test checks).
DemoProfile = Literal[
    "demo", "one_channel", "one_cohort", "grocery", "short_history", "regime_change", "smooth_seasonal"
]


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
    profile: Annotated[DemoProfile, typer.Option(help="Kind of brand (docs/demo-zoo.md)")] = "demo",
    end: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last day of data (YYYY-12-31: a full final year)"),
    ] = None,
) -> None:
    """Generate a realistic demo brand with planted ground truth in OUT/truth."""
    from memberwise.data.demo import DemoConfig, generate

    fmt: Literal["parquet", "csv"] = "csv" if dirty else file_format
    started = time.perf_counter()
    last_day = f"{end:%Y-%m-%d}" if end else DemoConfig.end
    cfg = DemoConfig(members=members, seed=seed, dirty=dirty, file_format=fmt, profile=profile, end=last_day)
    manifest = generate(cfg, out, progress=True)
    rows = manifest["rows"]
    assert isinstance(rows, dict)
    show(pd.DataFrame({"table": list(rows), "rows": list(rows.values())}), f"demo brand in {out}")
    console.print(
        f"snapshot date {manifest['snapshot_date']}; truth in {out / 'truth'}; "
        f"{time.perf_counter() - started:.1f}s"
    )


@app.command()
def validate(
    data: SourceOption,
    out: Annotated[Path, typer.Option(help="Directory for rejects.csv and validation_report.json")],
    snapshot_date: SnapshotOption = None,
    engine: EngineOption = None,
) -> None:
    """Check every table against the data contract; write the rejected rows with their reasons."""
    from memberwise.data.io import load, reason_counts
    from memberwise.pipelines.prepare import engine_warehouse, snapshot_timestamp

    settings = settings_for(snapshot_date, engine=engine)
    result = load(data, snapshot_timestamp(settings.snapshot_date), engine_warehouse(data, settings))
    result.write_report(out)
    show(result.counts, "rows per table")
    if not result.rejects.empty:
        show(reason_counts(result.rejects), "reject reasons")
    console.print(f"rejects: {out / 'rejects.csv'} ({len(result.rejects):,} rows)")


@app.command()
def unify(
    data: SourceOption,
    out: Annotated[Path, typer.Option(help="Directory for member_map, members and hub_identifiers")],
    snapshot_date: SnapshotOption = None,
    max_accounts_per_identifier: Annotated[
        int | None, typer.Option(min=2, help="Hub guard: identifiers shared by more accounts never link")
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Link channel accounts into unified members (member_map, members)."""
    from memberwise.identity import MEMBER_MAP_SQL, MEMBERS_SQL
    from memberwise.pipelines.prepare import prepare

    settings = settings_for(
        snapshot_date, max_accounts_per_identifier=max_accounts_per_identifier, engine=engine
    )
    identity = prepare(data, settings).identity
    identity.warehouse.write(MEMBER_MAP_SQL, out / "member_map.parquet")
    identity.warehouse.write(MEMBERS_SQL, out / "members.parquet")
    write_frame(identity.hubs, out / "hub_identifiers.csv")
    console.print(
        f"{identity.count('member_map'):,} accounts -> {identity.count('members'):,} members; "
        f"{len(identity.hubs)} hub identifier(s) not used for linking; written to {out}"
    )
    if not identity.hubs.empty:
        show(identity.hubs.head(10), "hub identifiers (largest first)")


@app.command()
def features(
    data: SourceOption,
    as_of: AsOfOption,
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv)")],
    snapshot_date: SnapshotOption = None,
    label_horizon: Annotated[
        int | None, typer.Option(min=1, help="Also add `repurchased` within this many days after the cutoff")
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Build one row of member features per unified member as of a cutoff date."""
    from memberwise.features import write_features
    from memberwise.pipelines.prepare import prepare

    settings = settings_for(snapshot_date, engine=engine)
    prepared = prepare(data, settings)
    started = time.perf_counter()
    write_features(prepared.warehouse, as_of.date(), out, settings.new_window_days, label_horizon)
    stages = _column_counts(out, "lifecycle_stage")
    console.print(
        f"{int(stages['rows'].sum()):,} members as of {as_of.date()} "
        f"in {time.perf_counter() - started:.1f}s -> {out}"
    )
    show(stages, "lifecycle stages")


def _column_counts(path: Path, column: str) -> pd.DataFrame:
    """How many rows of a written .parquet/.csv file take each value of one column (read alone)."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if path.suffix == ".csv":
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(include_columns=[column]))
    else:
        table = pq.read_table(path, columns=[column])
    counts = table.column(column).value_counts()
    frame = pd.DataFrame({column: counts.field("values"), "rows": counts.field("counts")})
    return frame.sort_values("rows", ascending=False, ignore_index=True)


@app.command("audience-sales")
def audience_sales_command(
    data: SourceOption,
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv)")],
    snapshot_date: SnapshotOption = None,
    engine: EngineOption = None,
) -> None:
    """Weekly revenue, orders and buyers per audience (new/returning customers and members)."""
    from memberwise.features import audience_sales
    from memberwise.pipelines.prepare import prepare

    settings = settings_for(snapshot_date, engine=engine)
    prepared = prepare(data, settings)
    table = audience_sales(prepared.warehouse, new_window_days=settings.new_window_days)
    write_frame(table, out)
    console.print(f"{table['week'].nunique()} weeks x {table['audience'].nunique()} audiences -> {out}")
