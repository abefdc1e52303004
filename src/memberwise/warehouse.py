"""The in-process DuckDB warehouse every stage reads: validated tables as native DuckDB tables.

Absent optional tables exist here too, empty, so the SQL always runs; `present` says which tables
the brand actually provided, so features built from an absent table are null rather than zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from memberwise.data.contract import TABLES, pandas_dtype

# Never fetch or load an extension on the fly: a service has no network, and a file that is not a DuckDB
# database (SQLite, say) would otherwise make DuckDB try to download a scanner for it.
_NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


@dataclass
class Warehouse:
    """A DuckDB connection holding the contract tables plus derived ones (member_map, members, ...)."""

    con: duckdb.DuckDBPyConnection
    present: set[str] = field(default_factory=set)
    # The contract tables' content hash (tracking.data_fingerprint), kept until a contract table changes:
    # every run of a retrain tags it, and hashing tens of millions of rows each time adds up.
    fingerprint: str | None = field(default=None, repr=False)

    def put(self, name: str, frame: pd.DataFrame) -> None:
        """Store a DataFrame as a native table (replacing any table of that name)."""
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


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Every DuckDB connection of the project: no extension is installed or autoloaded."""
    return duckdb.connect(str(path), read_only=read_only, config=dict(_NO_EXTENSION_DOWNLOADS))


def empty_table(name: str) -> pd.DataFrame:
    """An empty frame with the contract columns and types of a table."""
    table = TABLES[name]
    return pd.DataFrame({c.name: pd.Series(dtype=pandas_dtype(c)) for c in table.columns})


def new_warehouse(
    path: Path | None = None, threads: int | None = None, memory_limit: str | None = None
) -> Warehouse:
    """A fresh DuckDB warehouse with every contract table present but empty.

    In memory by default; with `path`, a database file (replaced if it exists) whose compressed
    tables stay on disk and are cached within `memory_limit`: the way to run brands with tens of
    millions of rows in a few GiB of RAM.
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
    warehouse = Warehouse(con)
    for name in TABLES:
        warehouse.put(name, empty_table(name))
    return warehouse
