"""Options shared by several commands, and the settings/warehouse every stage starts from."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import pandas as pd
import typer

from memberwise.settings import Settings

if TYPE_CHECKING:
    from memberwise.pipelines.prepare import Prepared

DataOption = Annotated[Path, typer.Option("--data", help="Directory of CSV/Parquet tables, or a DuckDB file")]
# The commands that run on Spark also read where the data lives: text, since a Path folds a URI's '//'.
SourceOption = Annotated[
    str,
    typer.Option(
        "--data",
        help="Directory of CSV/Parquet tables, or a DuckDB file; with --engine spark also a storage URI "
        "(s3a://bucket/exports/, a Parquet file or folder per table) or catalog:<database>",
    ),
]
SnapshotOption = Annotated[
    datetime | None,
    typer.Option(
        "--snapshot-date", formats=["%Y-%m-%d"], help="Events after this day are rejected (default: today)"
    ),
]
AsOfOption = Annotated[
    datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Feature cutoff date (exclusive)")
]
OptionalAsOf = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Cutoff date (default: the day after --snapshot-date, or else after the last order)",
    ),
]
EngineOption = Annotated[
    Literal["duckdb", "spark"] | None,
    typer.Option(
        "--engine",
        help="duckdb, or spark at MEMBERWISE_SPARK_MASTER (default: MEMBERWISE_ENGINE, else duckdb)",
    ),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Experiment YAML (default: the packaged <model>.yaml)")
]
ConfigDirOption = Annotated[
    Path | None,
    typer.Option("--config-dir", help="Directory of the models' YAMLs (missing ones: the packaged defaults)"),
]
SavedDataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Tables to compute from (default: the inputs the last retrain saved, answered fast)"
    ),
]


def settings_for(snapshot: datetime | None = None, **overrides: object) -> Settings:
    """Settings from the environment, with the command line's overrides (None means not given)."""
    settings = Settings()
    updates = {k: v for k, v in overrides.items() if v is not None}
    if snapshot is not None:
        updates["snapshot_date"] = snapshot.date()
    return settings.model_copy(update=updates)


def prepare_at(
    data: Path | str, as_of: datetime | None, snapshot_date: datetime | None, engine: str | None = None
) -> tuple[Settings, Prepared, date]:
    """Settings, the prepared warehouse and the cutoff (default: `prepare.default_cutoff`)."""
    from memberwise.pipelines.prepare import prepare

    settings = settings_for(snapshot_date, engine=engine)
    prepared = prepare(data, settings)
    return settings, prepared, as_of.date() if as_of else prepared.default_as_of


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write Parquet, or CSV when the file name says so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
