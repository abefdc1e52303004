"""The Spark warehouse: the same SQL and API as the DuckDB one, for brands past one machine.

Every table is Parquet in a work directory (shared storage on a cluster) behind a temporary view of
its name: `CREATE OR REPLACE TABLE x AS SELECT ...` writes the translated SELECT's result there and
re-points the view, so later statements read materialised data rather than an ever-growing plan.
Times are naive and the session runs in UTC, so a timestamp means the same wall-clock time as in DuckDB.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from sqlglot import exp

from memberwise.data.contract import TABLES
from memberwise.engine.dialect import spark_tree, to_spark
from memberwise.warehouse import Frame, empty_table

_LOCAL_SHUFFLE_PARTITIONS = 8  # Spark's 200 suits a cluster; a laptop's brand wants a handful


def spark_session(master: str = "local[*]", driver_memory: str | None = None) -> SparkSession:
    """The process's Spark session: quiet, UTC, ANSI SQL; on 127.0.0.1 with no UI when local.

    Started on first use (or again after a stop); a running session keeps its master and memory.
    """
    os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = (
        SparkSession.builder.master(master)
        .appName("memberwise")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.log.structuredLogging.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    if master.startswith("local"):
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(_LOCAL_SHUFFLE_PARTITIONS))
        )
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def portable_arrow(table: pa.Table) -> pa.Table:
    """The Arrow types both engines agree on: naive microsecond timestamps, plain strings."""
    fields = []
    for f in table.schema:
        kind = f.type
        if pa.types.is_timestamp(kind):
            kind = pa.timestamp("us")
        elif pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(pa.field(f.name, kind))
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


@dataclass
class SparkWarehouse:
    """Tables as temporary views over Parquet in `work_dir`; SQL in DuckDB's dialect, translated."""

    spark: SparkSession
    work_dir: Path
    present: set[str] = field(default_factory=set)
    engine: str = "spark"
    _versions: itertools.count = field(default_factory=itertools.count, repr=False)
    _paths: dict[str, Path] = field(default_factory=dict, repr=False)

    def sql(self, sql: str) -> DataFrame:
        """A Spark DataFrame for a query in our (DuckDB) dialect."""
        return self.spark.sql(to_spark(sql))

    def execute(self, sql: str) -> None:
        """Run a statement; `CREATE [OR REPLACE] TABLE x AS` materialises, `DROP TABLE` forgets."""
        tree = spark_tree(sql)
        if isinstance(tree, exp.Create) and tree.expression is not None:
            self.materialise(tree.this.name, self.spark.sql(tree.expression.sql(dialect="spark")))
        elif isinstance(tree, exp.Drop):
            self.drop(tree.this.name)
        else:
            self.spark.sql(tree.sql(dialect="spark")).collect()

    def materialise(self, name: str, frame: DataFrame) -> None:
        """Write a DataFrame as table `name` (Parquet) and point the view `name` at it."""
        path = self._next_path(name)
        frame.write.parquet(str(path))
        self._show(name, path)

    def arrow(self, sql: str) -> pa.Table:
        """Run a query and return an Arrow table (collected on the driver)."""
        return portable_arrow(self.sql(sql).toArrow())

    def df(self, sql: str) -> pd.DataFrame:
        """Run a query and return a DataFrame."""
        return self.arrow(sql).to_pandas()

    def scalar(self, sql: str) -> object:
        """Run a query returning one value."""
        return self.sql(sql).first()[0]  # type: ignore[index]

    def put(self, name: str, frame: Frame) -> None:
        """Store a DataFrame or Arrow table as table `name`."""
        table = (
            pa.Table.from_pandas(frame, preserve_index=False) if isinstance(frame, pd.DataFrame) else frame
        )
        path = self._next_path(name)
        path.mkdir(parents=True)
        pq.write_table(portable_arrow(table), path / "part-0.parquet")
        self._show(name, path)

    def write(self, sql: str, path: Path) -> None:
        """Write a query's result as one .parquet or .csv file (Spark writes it; one task, in order)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.work_dir, prefix="write-"))
        writer = self.sql(sql).coalesce(1).write.mode("overwrite")
        if path.suffix == ".csv":
            writer.option("header", "true").csv(str(staging / "out"))
        else:
            writer.parquet(str(staging / "out"))
        (part,) = (staging / "out").glob("part-*")
        shutil.move(part, path)
        shutil.rmtree(staging)

    def components(self, edges_sql: str, name: str) -> None:
        """Label components in Spark itself (large-star/small-star), labelled by the smallest node."""
        from memberwise.engine.spark_components import connected_components

        self.materialise(name, connected_components(self.spark, self.sql(edges_sql)))

    def tables(self) -> list[str]:
        """The names of the tables this warehouse holds."""
        return list(self._paths)

    def files(self, name: str) -> list[Path]:
        """The Parquet files holding table `name`, in part order (what another engine reads)."""
        return sorted(self._paths[name].glob("part-*.parquet"))

    def drop(self, name: str) -> None:
        """Forget table `name` and delete its files."""
        self.spark.catalog.dropTempView(name)
        old = self._paths.pop(name, None)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        """Drop every table and delete the work directory (the session stays up for the process)."""
        for name in list(self._paths):
            self.drop(name)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def _next_path(self, name: str) -> Path:
        return self.work_dir / f"{name}-{next(self._versions)}"

    def _show(self, name: str, path: Path) -> None:
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        old, self._paths[name] = self._paths.get(name), path
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def new_spark_warehouse(
    master: str = "local[*]", work_root: Path | None = None, driver_memory: str | None = None
) -> SparkWarehouse:
    """A Spark warehouse with every contract table present but empty, in a fresh work directory.

    The directory is deleted at exit (or by `close`): its tables are scratch, the outputs are written.
    """
    root = work_root or Path(tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(dir=root))
    atexit.register(shutil.rmtree, work_dir, True)
    warehouse = SparkWarehouse(spark_session(master, driver_memory), work_dir)
    for name in TABLES:
        warehouse.put(name, empty_table(name))
    return warehouse
