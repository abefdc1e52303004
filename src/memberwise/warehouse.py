"""The warehouse every stage reads: validated contract tables plus derived ones, on DuckDB or Spark.

`SqlWarehouse` is the engine-neutral API the feature and identity code use (never a connection):
SQL in DuckDB's dialect (the single source; `memberwise.engine.dialect` translates it for Spark),
`CREATE OR REPLACE TABLE x AS ...` to materialise, Arrow out, frames in, query results straight to
files. `Warehouse` is the in-process DuckDB one (the default); `engine.spark.SparkWarehouse` the other.

Absent optional tables exist here too, empty, so the SQL always runs; `present` says which tables
the brand actually provided, so features built from an absent table are null rather than zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias

import duckdb
import pandas as pd
import pyarrow as pa

from memberwise.data.contract import TABLES, pandas_dtype
from memberwise.engine.graph import smallest_node_components

if TYPE_CHECKING:
    from memberwise.settings import Settings

# Never fetch or load an extension on the fly: a service has no network, and a file that is not a DuckDB
# database (SQLite, say) would otherwise make DuckDB try to download a scanner for it.
_NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

Frame: TypeAlias = pd.DataFrame | pa.Table
MIN_CACHE = 2 << 30  # DuckDB's limit never drops below this (big queries spill to disk past it)
_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
_UNITS |= {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


class SqlWarehouse(Protocol):
    """What feature and identity code may ask of a warehouse, whatever the engine.

    SQL is DuckDB's dialect restricted to the portable subset `engine.dialect` documents.
    """

    engine: str
    present: set[str]

    def execute(self, sql: str) -> None:
        """Run a statement (`CREATE OR REPLACE TABLE x AS SELECT ...`, `DROP TABLE IF EXISTS x`)."""

    def arrow(self, sql: str) -> pa.Table:
        """A query's result as an Arrow table (timestamps naive, strings `string`)."""

    def df(self, sql: str) -> pd.DataFrame:
        """A query's result as a DataFrame."""

    def scalar(self, sql: str) -> object:
        """A query's single value."""

    def put(self, name: str, frame: Frame) -> None:
        """Store a frame as table `name` (replacing it)."""

    def write(self, sql: str, path: Path) -> None:
        """Write a query's result to a .parquet or .csv file, by the engine (no frame in Python)."""

    def components(self, edges_sql: str, name: str) -> None:
        """Table `name` (node, component BIGINT): the connected components of an undirected graph.

        `edges_sql` selects `src, dst` BIGINT node ids; `component` is the smallest node id in it.
        """


@dataclass
class Warehouse:
    """A DuckDB connection holding the contract tables plus derived ones (member_map, members, ...)."""

    con: duckdb.DuckDBPyConnection
    present: set[str] = field(default_factory=set)
    # The contract tables' content hash (tracking.data_fingerprint), kept until a contract table changes:
    # every run of a retrain tags it, and hashing tens of millions of rows each time adds up.
    fingerprint: str | None = field(default=None, repr=False)
    engine: str = "duckdb"

    def execute(self, sql: str) -> None:
        """Run a statement."""
        self.con.execute(sql)

    def arrow(self, sql: str) -> pa.Table:
        """Run a query and return an Arrow table."""
        return self.con.sql(sql).to_arrow_table()

    def put(self, name: str, frame: Frame) -> None:
        """Store a DataFrame or Arrow table as a native table (replacing any table of that name)."""
        if name in TABLES:
            self.fingerprint = None
        self.con.register("_incoming", frame)
        self.con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
        self.con.unregister("_incoming")

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        """Run a query returning one value (fetching everything, so the connection is free again)."""
        return self.con.execute(sql, params or []).fetchall()[0][0]

    def df(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        """Run a query and return a DataFrame."""
        return self.con.execute(sql, params or []).df()

    def write(self, sql: str, path: Path) -> None:
        """Stream a query's result into a Parquet file, or CSV with a header when the name says so."""
        path.parent.mkdir(parents=True, exist_ok=True)
        options = "FORMAT csv, HEADER" if path.suffix == ".csv" else "FORMAT parquet"
        target = str(path).replace("'", "''")
        self.con.execute(f"COPY ({sql}) TO '{target}' ({options})")

    def leave_room(self, nbytes: int) -> None:
        """Lower DuckDB's memory limit by `nbytes` that Python now holds (not below MIN_CACHE).

        DuckDB keeps its cache up to the limit and frees what is above a lowered one at once. On a
        10M-member brand, a retrain holding the 5 GiB feature frame beside a full 9.4 GiB cache was
        killed by the kernel at 24 GiB in the step after the frame was built.
        """
        limit = memory_setting(str(self.scalar("SELECT current_setting('memory_limit')")))
        lowered = max(limit - nbytes, MIN_CACHE)
        if lowered < limit:
            self.execute(f"SET memory_limit = '{mib_setting(lowered)}'")

    def components(self, edges_sql: str, name: str) -> None:
        """Label components in process with scipy (fast to tens of millions of edges)."""
        edges = self.arrow(edges_sql)
        nodes, component = smallest_node_components(
            edges.column("src").to_numpy(), edges.column("dst").to_numpy()
        )
        self.put(name, pa.table({"node": nodes, "component": component}))


_ARROW_TO_PANDAS = {
    pa.int32(): pd.Int64Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
}


def typed_frame(table: pa.Table) -> pd.DataFrame:
    """A query result as pandas with dtypes from the SQL types, so frames line up whatever the engine.

    Integers, booleans and strings get the contract's nullable dtypes; dates and times datetime64[ns].
    """
    return table.to_pandas(
        types_mapper=_ARROW_TO_PANDAS.get, date_as_object=False, coerce_temporal_nanoseconds=True
    )


def mib_setting(size: float) -> str:
    """A DuckDB memory setting for `size` bytes."""
    return f"{int(size) >> 20}MiB"


def memory_setting(text: str) -> int:
    """Bytes of a DuckDB memory setting as DuckDB prints it ('9.3 GiB', '512.0 MiB', '4GB')."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"not a DuckDB memory setting: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Every DuckDB connection of the project: no extension is installed or autoloaded."""
    return duckdb.connect(str(path), read_only=read_only, config=dict(_NO_EXTENSION_DOWNLOADS))


def empty_table(name: str) -> pd.DataFrame:
    """An empty frame with the contract columns and types of a table."""
    table = TABLES[name]
    return pd.DataFrame({c.name: pd.Series(dtype=pandas_dtype(c)) for c in table.columns})


def new_warehouse(
    path: Path | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    spill_dir: Path | None = None,
) -> Warehouse:
    """A fresh DuckDB warehouse with every contract table present but empty.

    In memory by default (with `memory_limit` and `spill_dir`, tables past the limit spill there);
    with `path`, a database file (replaced if it exists) whose compressed tables stay on disk and are
    cached within `memory_limit`: the way to run brands with tens of millions of rows in a few GiB.
    """
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
    con = connect(path or ":memory:")
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if spill_dir is not None:
        quoted = str(spill_dir).replace("'", "''")
        con.execute(f"SET temp_directory = '{quoted}'")
    warehouse = Warehouse(con)
    for name in TABLES:
        warehouse.put(name, empty_table(name))
    return warehouse


def open_warehouse(settings: Settings) -> SqlWarehouse:
    """A fresh warehouse on the engine the settings choose (`MEMBERWISE_ENGINE`), contract tables empty."""
    if settings.engine == "spark":
        from memberwise.engine.spark import new_spark_warehouse

        return new_spark_warehouse(settings.spark_master, settings.spark_dir, settings.spark_driver_memory)
    return new_warehouse(settings.warehouse_path, settings.duckdb_threads, settings.duckdb_memory_limit)
