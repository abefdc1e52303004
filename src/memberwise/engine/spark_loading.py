r"""Raw exports as Spark staging views `raw_<table>`, for `validate --engine spark`.

The same relations the DuckDB engine validates: the contract columns (text, or the source's own types)
plus `_row`, the row's 0-based position in the source (an empty text cell is NULL, as pandas reads
it), so `checked_sql` gives the same verdicts and the
first occurrence of a duplicate key wins on both engines. Finding the files and every whole-file check
(header, required and repeated columns, integer timestamps, UTF-8, malformed CSV) are
:mod:`memberwise.data.readers`' own.

A Parquet file is read by Spark directly (in parallel; `_row` from Spark's row index metadata). A CSV
is parsed by readers' CSV stager, not Spark's, because Spark's parser reads quotes differently
(`"x"y`, a `\\"` inside quotes, a CR-LF inside a field) and the engines must agree on every value: it
is streamed into an on-disk scratch DuckDB and written to one Parquet file Spark reads. A DuckDB
source, an in-memory table and a Parquet file with nanosecond timestamps (Spark refuses them) or
zoned ones (their wall clock is readers' rule) take that path too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from memberwise.data.contract import TABLES, Table
from memberwise.data.readers import RawTable
from memberwise.data.validation_sql import staged_name
from memberwise.engine.spark_sources import SparkRawTable, read_spark_source
from memberwise.errors import DataFileError, first_line
from memberwise.warehouse import connect


@dataclass(frozen=True)
class SparkStaged:
    """One table staged on Spark: what the validation SQL and the rejects report need."""

    raw: RawTable  # source name, first row number, and (CSV) the record -> line mapping in `raw.lines`
    view: str  # the temporary view: contract columns plus `_row BIGINT`
    source_types: dict[str, str]  # contract column -> Spark type name, for `checked_sql`
    rows: int
    files: Path | None = None  # the Parquet written for the view, if any (removed by `unstage_table`)


def stage_source(spark: SparkSession, source: str | Path, work_dir: Path) -> dict[str, SparkStaged]:
    """Stage every contract table of a source as `raw_<table>`.

    The source is a data directory or DuckDB file, a storage URI or `catalog:<database>`
    (:func:`memberwise.engine.spark_sources.read_spark_source`).
    """
    raw = read_spark_source(spark, source)
    return {
        name: stage_table(spark, raw[name], table, work_dir) for name, table in TABLES.items() if name in raw
    }


def stage_table(spark: SparkSession, raw: RawTable, table: Table, work_dir: Path) -> SparkStaged:
    """Create the view `raw_<table>` for one source table; `work_dir` holds any Parquet written for it."""
    path = Path(raw.source)
    files = None
    if isinstance(raw, SparkRawTable) and raw.frame is not None:  # Spark reads it where it is
        frame, rows = _contract_columns(raw.frame, raw.columns, table, F.col("_row")), int(raw.rows or 0)
    elif path.suffix == ".parquet" and path.is_file() and _spark_reads(raw.types):
        frame, rows = _parquet_frame(spark, path, raw.columns, table), int(raw.rows or 0)
    else:
        files, rows = _through_duckdb(raw, table, work_dir)
        frame = spark.read.parquet(str(files))
    view = staged_name(table.name)
    frame = frame.select(*[_empty_is_null(frame, c.name) for c in table.columns], "_row")
    frame.createOrReplaceTempView(view)
    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields if f.name != "_row"}
    return SparkStaged(raw, view, types, rows, files)


def unstage_table(spark: SparkSession, staged: SparkStaged) -> None:
    """Drop a staging view and any Parquet written for it."""
    spark.catalog.dropTempView(staged.view)
    if staged.files is not None:
        staged.files.unlink(missing_ok=True)


def _spark_reads(types: dict[str, str]) -> bool:
    """Whether Spark reads these Arrow types as readers do.

    Not nanosecond timestamps (Spark refuses the file) nor zoned ones (readers take their wall clock).
    """
    return not any(kind.startswith("timestamp[ns") or "tz=" in kind for kind in types.values())


def _empty_is_null(frame: DataFrame, name: str) -> Column:
    column = F.col(f"`{name}`")
    if frame.schema[name].dataType.simpleString() == "string":
        return F.nullif(column, F.lit("")).alias(name)
    return column


def _parquet_frame(spark: SparkSession, path: Path, present: list[str], table: Table) -> DataFrame:
    """A local Parquet file's contract columns, `_row` from the file's row index."""
    return _contract_columns(spark.read.parquet(str(path)), present, table, F.col("_metadata.row_index"))


def _contract_columns(frame: DataFrame, present: list[str], table: Table, row: Column) -> DataFrame:
    """The contract columns as stored (NULL text when absent) and `_row`."""
    columns: list[Column] = [
        F.col(f"`{c.name}`") if c.name in present else F.lit(None).cast("string").alias(c.name)
        for c in table.columns
    ]
    return frame.select(*columns, row.cast("bigint").alias("_row"))


def _through_duckdb(raw: RawTable, table: Table, work_dir: Path) -> tuple[Path, int]:
    """Stage with readers' own stager in a scratch DuckDB on disk; write it as one Parquet file."""
    work_dir.mkdir(parents=True, exist_ok=True)
    name = f"{staged_name(table.name)}-{uuid.uuid4().hex[:12]}"
    scratch, target = work_dir / f"{name}.duckdb", work_dir / f"{name}.parquet"
    try:
        with connect(scratch) as con:
            raw.stage(con, table)
            staged = staged_name(table.name)
            described = con.execute(f"DESCRIBE {staged}").fetchall()
            # Spark refuses nanosecond Parquet timestamps; microseconds are what both engines compare.
            columns = ", ".join(
                f'CAST("{name}" AS TIMESTAMP) AS "{name}"' if kind == "TIMESTAMP_NS" else f'"{name}"'
                for name, kind, *_ in described
            )
            literal = str(target).replace("'", "''")
            copy = f"COPY (SELECT {columns} FROM {staged}) TO '{literal}' (FORMAT parquet)"
            (rows,) = con.execute(copy).fetchall()[0]
    except duckdb.Error as err:
        raise DataFileError(f"{raw.source}: {raw.unreadable}: {first_line(err)}") from None
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return target, int(rows)
