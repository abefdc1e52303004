"""Find a brand's table files and stage them in DuckDB; every whole-file problem is one DataFileError line.

Staging is deferred (:class:`RawTable`) so a big brand is validated one table at a time, and it never
goes through pandas: Parquet is a view over the file, a DuckDB source is attached read-only, a CSV is
streamed into a table of text columns. Each staged relation holds the contract columns plus `_row`,
the row's 0-based position in the source. Row-level checks live in :mod:`memberwise.data.io`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from memberwise.data.contract import TABLES, Table
from memberwise.data.csv_source import csv_header, csv_stager, has_rows, record_lines
from memberwise.data.validation_sql import staged_name
from memberwise.errors import DataFileError, first_line
from memberwise.warehouse import connect

DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Source column types a timestamp column may have: a time or date type, or text to parse. Integers are
# refused (seconds, milliseconds or microseconds since 1970 cannot be told apart). Arrow, DuckDB and
# Spark names (Spark: `timestamp_ntz`, `char(n)`, `void`).
_TIME_OR_TEXT = re.compile(
    r"^(timestamp|date|string|large_string|varchar|char|null|void|dictionary<values=(large_)?string)"
)
_ZONED_TYPE = re.compile(r"^timestamp\[\w+, tz=(.+)\]$")
_SOURCE_PREFIX = "memberwise_source_"

# (connection, contract table) -> creates the staging relation `staged_name(table.name)`.
Stager = Callable[[duckdb.DuckDBPyConnection, Table], None]


@dataclass
class RawTable:
    """One source table: where it comes from, its columns and types, and how to stage it in DuckDB."""

    source: str
    first_row_number: int  # row_number of the first data row (CSV: the header is row 1)
    columns: list[str]
    rows: int | None  # CSV: 0 or 1 (whether there is a data row), else the row count
    stage: Stager
    types: dict[str, str] = field(default_factory=dict)  # typed sources: column -> type name
    # CSV: (0-based data records, total records) -> the file line each starts on (fields may span lines).
    lines: Callable[[np.ndarray, int], np.ndarray] | None = None
    unreadable: str = "cannot be read"  # how a failure while reading the rows is worded

    @classmethod
    def of(cls, frame: pd.DataFrame, source: str, first_row_number: int = 1) -> RawTable:
        """A table already in memory (tests, notebooks, other connectors); mixed-type columns are text."""
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        frame = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})

        def stage(con: duckdb.DuckDBPyConnection, table: Table) -> None:
            name = _frame_name(table.name)
            con.register(name, frame.assign(_row=np.arange(len(frame), dtype="int64")))
            _create_view(con, table, list(frame.columns), name, "_row")

        return cls(source, first_row_number, list(frame.columns), len(frame), stage)


def _create_view(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    present: list[str],
    relation: str,
    row: str,
    expressions: dict[str, str] | None = None,
) -> None:
    """The staging view: each contract column (NULL text when the source lacks it) and `_row`."""
    expressions = expressions or {}
    select = ", ".join(
        f'{expressions.get(c.name, _quote(c.name))} AS "{c.name}"'
        if c.name in present
        else f'CAST(NULL AS VARCHAR) AS "{c.name}"'
        for c in table.columns
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {staged_name(table.name)} AS SELECT {select}, {row} AS _row FROM {relation}"
    )


def unstage(con: duckdb.DuckDBPyConnection, table_name: str) -> None:
    """Drop a table's staging relation (a view, or a table of CSV text) and any frame behind it."""
    name = staged_name(table_name)
    found = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ? "
        "AND table_catalog = current_database() AND table_schema = current_schema()",
        [name],
    ).fetchall()
    if found:
        con.execute(f"DROP {'VIEW' if found[0][0] == 'VIEW' else 'TABLE'} {name}")
    con.unregister(_frame_name(table_name))


def _frame_name(table_name: str) -> str:
    return f"_frame_{table_name}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_source(source: Path) -> dict[str, RawTable]:
    """Open every contract table present in a data directory (CSV/Parquet) or a DuckDB file."""
    if not source.exists():
        raise DataFileError(f"{source}: no such data directory or DuckDB file")
    raw = _read_duckdb(source) if source.is_file() else _read_directory(source)
    for table in TABLES.values():
        if table.name in raw:
            found = raw[table.name]
            check_columns(found.source, found.columns, found.types, table)
        elif table.required:
            raise DataFileError(
                f"{source}: required table '{table.name}' is missing "
                f"(expected {table.name}.csv or {table.name}.parquet)"
            )
    return raw


def _read_directory(directory: Path) -> dict[str, RawTable]:
    raw: dict[str, RawTable] = {}
    for name, table in TABLES.items():
        candidates = [p for p in (directory / f"{name}.parquet", directory / f"{name}.csv") if p.exists()]
        if len(candidates) > 1:
            raise DataFileError(f"{directory}: both {name}.parquet and {name}.csv exist; keep one")
        if candidates:
            path = candidates[0]
            if not path.is_file():
                raise DataFileError(f"{path}: is a directory, not a {path.suffix[1:].upper()} file")
            raw[name] = _parquet_table(path) if path.suffix == ".parquet" else _csv_table(path)
            if raw[name].rows == 0 and table.required:
                raise DataFileError(f"{path}: file has no data rows")
    return raw


def check_columns(source: str, columns: list[str], types: dict[str, str], table: Table) -> None:
    """A source table's whole-file column checks, from its column names and (typed sources) type names.

    Shared with sources Spark reads itself (:mod:`memberwise.engine.spark_sources`), so every engine
    refuses the same tables with the same words.
    """
    repeated = [c for c, n in Counter(columns).items() if n > 1 and c in table.column_names]
    if repeated:
        raise DataFileError(f"{source}: column '{repeated[0]}' appears more than once in the header")
    missing = [c for c in table.required_columns if c not in columns]
    if missing:
        raise DataFileError(f"{source}: required column(s) missing: {', '.join(missing)}")
    for column in table.columns:
        kind = types.get(column.name)
        if column.kind == "timestamp" and kind is not None and not _TIME_OR_TEXT.match(kind.lower()):
            raise DataFileError(
                f"{source}: column '{column.name}' is {kind}, not a timestamp: store a timestamp or date "
                "type or ISO 8601 text (integers are refused: their unit, s/ms/us since 1970, is ambiguous)"
            )


# --- CSV ---------------------------------------------------------------------------------------


def _csv_table(path: Path) -> RawTable:
    header = csv_header(path)
    rows = int(has_rows(path, header))
    return RawTable(str(path), 2, header, rows, csv_stager(path, header), lines=record_lines(path))


# --- Parquet -----------------------------------------------------------------------------------


def _parquet_table(path: Path) -> RawTable:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:  # pyarrow raises several types for a corrupt file
        raise DataFileError(f"{path}: not a readable Parquet file: {first_line(err)}") from None
    types = {f.name: str(f.type) for f in parquet.schema_arrow}
    rows = parquet.metadata.num_rows
    unreadable = "not a readable Parquet file"  # corrupt pages show only when the rows are read
    return RawTable(
        str(path), 1, list(types), rows, _parquet_stager(path, types), types, unreadable=unreadable
    )


def _parquet_stager(path: Path, types: dict[str, str]) -> Stager:
    def stage(con: duckdb.DuckDBPyConnection, table: Table) -> None:
        # A zoned timestamp becomes the wall-clock time in the column's own zone, as the contract says.
        zoned = {c: m.group(1) for c, kind in types.items() if (m := _ZONED_TYPE.match(kind))}
        wall_clock = {c: f"timezone({_literal(zone)}, {_quote(c)})" for c, zone in zoned.items()}
        scan = f"read_parquet({_literal(str(path))}, file_row_number=true)"
        _create_view(con, table, list(types), scan, "file_row_number", wall_clock)

    return stage


# --- DuckDB ------------------------------------------------------------------------------------


def _read_duckdb(path: Path) -> dict[str, RawTable]:
    if path.suffix not in DUCKDB_SUFFIXES:
        raise DataFileError(f"{path}: expected a directory or a DuckDB file ({', '.join(DUCKDB_SUFFIXES)})")
    with path.open("rb") as handle:
        if handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC:
            raise DataFileError(
                f"{path} is not a DuckDB database (it is SQLite): export its tables to CSV or Parquet files"
            )
    tables: dict[str, RawTable] = {}
    try:
        with connect(path, read_only=True) as con:
            present = dict(
                con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
            )
            for name in TABLES:
                if name in present:
                    described = con.execute(f'DESCRIBE "{name}"').fetchall()
                    rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
                    types = {str(r[0]): str(r[1]) for r in described}
                    stage = _duckdb_stager(path, name, list(types), present[name] == "VIEW")
                    tables[name] = RawTable(f"{path}:{name}", 1, list(types), rows, stage, types)
    except duckdb.Error as err:
        raise DataFileError(f"{path} is not a DuckDB database or cannot be read: {first_line(err)}") from None
    return tables


def _duckdb_stager(path: Path, name: str, columns: list[str], is_view: bool) -> Stager:
    """A view over the table in the source file, attached read-only (`detach_sources` lets it go)."""
    alias = _SOURCE_PREFIX + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]

    def stage(con: duckdb.DuckDBPyConnection, table: Table) -> None:
        con.execute(f"ATTACH IF NOT EXISTS {_literal(str(path))} AS {alias} (READ_ONLY)")
        order = "" if is_view else "ORDER BY rowid"  # a view has no rowid: its scan order
        _create_view(con, table, columns, f"{alias}.{_quote(name)}", f"row_number() OVER ({order}) - 1")

    return stage


def detach_sources(con: duckdb.DuckDBPyConnection) -> None:
    """Let go of the source databases staging attached (the warehouse must not keep them open)."""
    attached = con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    for (name,) in attached:
        if str(name).startswith(_SOURCE_PREFIX):
            con.execute(f"DETACH {name}")
