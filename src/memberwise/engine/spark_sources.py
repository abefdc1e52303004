"""Contract tables Spark reads itself: Parquet under a storage URI, or the tables of a catalog database.

For a brand whose exports already sit in object storage (`s3a://`, `gs://`, `abfss://`, `hdfs://`,
`file://`) or in a warehouse's metastore (Hive, Unity, Glue: `catalog:<database>`), nothing passes
through the driver: Spark reads the data where it is. The whole-file checks are readers' own
(:func:`memberwise.data.readers.check_columns`, on Spark's schema), and `_row` numbers the rows from 0
without a global sort (one small job counts the rows of each file or scan partition):

- a URI: `<uri>/<table>.parquet`, one file or a directory of part files, in file path order (for the
  part files of one directory: file name order) then the row's index in its file;
- a catalog table: Spark's scan order (its input splits, then the row's position in its split), which
  is stable while the table's files do not change; the "first occurrence" of a repeated key is the
  first in that order.

A local path is opened by :func:`memberwise.data.readers.read_source`, as on DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb

from memberwise.data.contract import TABLES, Table
from memberwise.data.readers import RawTable, check_columns, read_source
from memberwise.errors import DataFileError, first_line

if TYPE_CHECKING:  # importable without Spark: the CLI tells sources apart with `is_spark_source`
    from py4j.protocol import Py4JJavaError
    from pyspark.sql import Column, DataFrame, SparkSession

CATALOG_PREFIX = "catalog:"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
T = TypeVar("T")
_PARTITION_BITS = 33  # monotonically_increasing_id(): partition id in the upper bits, position below


@dataclass
class SparkRawTable(RawTable):
    """A source table Spark reads: its columns as stored plus `_row` (DuckDB cannot stage it)."""

    frame: DataFrame | None = None


def is_spark_source(source: str | Path) -> bool:
    """Whether `--data` names data only Spark reads (a URI with a scheme, or `catalog:<database>`)."""
    text = str(source)
    return text.startswith(CATALOG_PREFIX) or bool(_URI.match(text))


def read_spark_source(spark: SparkSession, source: str | Path) -> dict[str, RawTable]:
    """Open every contract table of a data source for the Spark engine; a local path as readers open it."""
    text = str(source)
    if not is_spark_source(text):
        return read_source(Path(source))
    if text.startswith(CATALOG_PREFIX):
        database = text[len(CATALOG_PREFIX) :]
        frames, expected = _catalog_frames(spark, database), f"a table {database}.{{name}}"
    else:
        text = text.rstrip("/")
        frames, expected = _uri_frames(spark, text), f"{text}/{{name}}.parquet"
    tables: dict[str, RawTable] = {}
    for name, table in TABLES.items():
        if name not in frames:
            if table.required:
                where = expected.format(name=name)
                raise DataFileError(f"{text}: required table '{name}' is missing (expected {where})")
            continue
        location, frame, order = frames[name]
        tables[name] = _raw_table(location, frame, order, table)
    return tables


Order = Callable[[], "tuple[Column, Column]"]  # -> (group, position within the group) of each row
Found = tuple[str, "DataFrame", Order]  # (where the table is, its frame as stored, its row order)


def _raw_table(location: str, frame: DataFrame, order: Order, table: Table) -> RawTable:
    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    check_columns(location, frame.columns, types, table)
    numbered, rows = _guarded(location, "cannot be read", _numbered, frame, *order())
    if rows == 0 and table.required:
        raise DataFileError(f"{location}: table has no data rows")
    return SparkRawTable(location, 1, frame.columns, rows, _spark_only(location), types, frame=numbered)


def _uri_frames(spark: SparkSession, uri: str) -> dict[str, Found]:
    """`<uri>/<table>.parquet` for each contract table present, found through Hadoop's FileSystem."""
    unreachable = "cannot be reached"
    if not _guarded(uri, unreachable, _exists, spark, uri):
        raise DataFileError(f"{uri}: no such directory")
    frames: dict[str, Found] = {}
    for name in TABLES:
        path = f"{uri}/{name}.parquet"
        if _guarded(uri, unreachable, _exists, spark, path):
            frame = _guarded(path, "not a readable Parquet file", spark.read.parquet, path)
            frames[name] = (path, frame, _file_order)
        elif _guarded(uri, unreachable, _exists, spark, f"{uri}/{name}.csv"):
            raise DataFileError(
                f"{uri}/{name}.csv: Spark reads Parquet from storage, not CSV: "
                "convert it to Parquet or pass a local directory"
            )
    return frames


def _exists(spark: SparkSession, path: str) -> bool:
    jvm, jsc = spark.sparkContext._jvm, spark.sparkContext._jsc
    assert jvm is not None and jsc is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return bool(hadoop_path.getFileSystem(jsc.hadoopConfiguration()).exists(hadoop_path))


def _catalog_frames(spark: SparkSession, database: str) -> dict[str, Found]:
    """`<database>.<table>` for each contract table the catalog has."""
    source = CATALOG_PREFIX + database
    if not _guarded(source, "cannot be reached", spark.catalog.databaseExists, database):
        raise DataFileError(f"{source}: no such database in Spark's catalog")
    frames: dict[str, Found] = {}
    for name in TABLES:
        qualified = f"{database}.{name}"
        if _guarded(source, "cannot be reached", spark.catalog.tableExists, qualified):
            frame = _guarded(qualified, "cannot be read", spark.read.table, qualified)
            frames[name] = (qualified, frame, _scan_order)
    return frames


def _file_order() -> tuple[Column, Column]:
    from pyspark.sql import functions as F

    return F.col("_metadata.file_path"), F.col("_metadata.row_index")


def _scan_order() -> tuple[Column, Column]:
    from pyspark.sql import functions as F

    partition = F.spark_partition_id().cast("bigint")
    return partition, F.monotonically_increasing_id() - F.shiftleft(partition, _PARTITION_BITS)


def _numbered(frame: DataFrame, group: Column, within: Column) -> tuple[DataFrame, int]:
    """The frame with `_row`: rows in (group, within) order numbered from 0; and the row count.

    One small job counts each group's rows; their running totals are joined back (broadcast), so no
    global sort and no single partition. Both scans read the same splits, so the groups agree.
    """
    from pyspark.sql import functions as F

    keyed = frame.select("*", group.alias("_group"), within.alias("_within"))
    offsets, total = [], 0
    for row in keyed.groupBy("_group").count().orderBy("_group").collect():
        offsets.append((row["_group"], total))
        total += int(row["count"])
    schema = f"_group {keyed.schema['_group'].dataType.simpleString()}, _offset bigint"
    starts = frame.sparkSession.createDataFrame(offsets, schema)
    numbered = keyed.join(F.broadcast(starts), "_group").select(
        *[F.col(f"`{c}`") for c in frame.columns], (F.col("_offset") + F.col("_within")).alias("_row")
    )
    return numbered, total


def _spark_only(location: str) -> Callable[[duckdb.DuckDBPyConnection, Table], None]:
    def stage(con: duckdb.DuckDBPyConnection, table: Table) -> None:
        raise DataFileError(f"{location}: only the Spark engine reads this source (--engine spark)")

    return stage


def _guarded(source: str, what: str, action: Callable[..., T], *args: object) -> T:
    """Run a Spark call; a Spark or JVM error becomes one DataFileError line naming the source."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        return action(*args)
    except Py4JJavaError as err:
        raise DataFileError(f"{source}: {what}: {_java_message(err)}") from None
    except PySparkException as err:
        raise DataFileError(f"{source}: {what}: {first_line(err)}") from None


def _java_message(err: Py4JJavaError) -> str:
    """The Java exception's own line (py4j's first line only names the failed call)."""
    try:
        return first_line(Exception(str(err.java_exception.toString())))
    except Exception:  # noqa: BLE001 - the gateway may be gone: py4j's own line then
        return first_line(err)
