"""Find a brand's table files and open them; every whole-file problem is one DataFileError line.

Reading a table is deferred (:class:`RawTable`) so a big brand is validated one table at a time.
Row-level checks live in :mod:`memberwise.data.io`.
"""

from __future__ import annotations

import csv
import re
from array import array
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
from memberwise.errors import DataFileError, first_line
from memberwise.warehouse import connect

DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Source column types a timestamp column may have: a time or date type, or text to parse. Integers are
# refused (seconds, milliseconds or microseconds since 1970 cannot be told apart).
_TIME_OR_TEXT = re.compile(
    r"^(timestamp|date|string|large_string|varchar|null|dictionary<values=(large_)?string)"
)
_CHUNK = 1 << 20


@dataclass
class RawTable:
    """One source table: where it comes from, its columns and types, and how to read it."""

    source: str
    first_row_number: int  # row_number of the first data row (CSV: the header is row 1)
    columns: list[str]
    rows: int | None
    reader: Callable[[], pd.DataFrame]
    types: dict[str, str] = field(default_factory=dict)  # typed sources: column -> type name
    # CSV: (0-based data records, total records) -> the file line each starts on (fields may span lines).
    lines: Callable[[np.ndarray, int], np.ndarray] | None = None

    @classmethod
    def of(cls, frame: pd.DataFrame, source: str, first_row_number: int = 1) -> RawTable:
        """A table already in memory (tests, notebooks, other connectors)."""
        return cls(source, first_row_number, [str(c) for c in frame.columns], len(frame), lambda: frame)

    def read(self) -> pd.DataFrame:
        return self.reader()


def read_source(source: Path) -> dict[str, RawTable]:
    """Open every contract table present in a data directory (CSV/Parquet) or a DuckDB file."""
    if not source.exists():
        raise DataFileError(f"{source}: no such data directory or DuckDB file")
    raw = _read_duckdb(source) if source.is_file() else _read_directory(source)
    for table in TABLES.values():
        if table.name in raw:
            _check_columns(raw[table.name], table)
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


def _check_columns(raw: RawTable, table: Table) -> None:
    repeated = [c for c, n in Counter(raw.columns).items() if n > 1 and c in table.column_names]
    if repeated:
        raise DataFileError(f"{raw.source}: column '{repeated[0]}' appears more than once in the header")
    missing = [c for c in table.required_columns if c not in raw.columns]
    if missing:
        raise DataFileError(f"{raw.source}: required column(s) missing: {', '.join(missing)}")
    for column in table.columns:
        kind = raw.types.get(column.name)
        if column.kind == "timestamp" and kind is not None and not _TIME_OR_TEXT.match(kind.lower()):
            raise DataFileError(
                f"{raw.source}: column '{column.name}' is {kind}, not a timestamp: store a timestamp or date "
                "type or ISO 8601 text (integers are refused: their unit, s/ms/us since 1970, is ambiguous)"
            )


# --- CSV ---------------------------------------------------------------------------------------


def _csv_table(path: Path) -> RawTable:
    columns = _csv_header(path)
    head = _read_csv(path, nrows=1)
    return RawTable(str(path), 2, columns, len(head), lambda: _read_csv(path), lines=_record_lines(path))


def _csv_header(path: Path) -> list[str]:
    """The header as written (pandas renames a repeated column `x.1`, which would hide it)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next((row for row in csv.reader(handle) if row), None)  # pandas skips blank lines
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as err:
        raise DataFileError(f"{path}: not a readable CSV file: {err}") from None
    except OSError as err:
        raise DataFileError(f"{path}: cannot read: {err.strerror or err}") from None
    if header is None:
        raise DataFileError(f"{path}: file is empty (no header row)")
    return [c.strip() for c in header]


def _read_csv(path: Path, nrows: int | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig", nrows=nrows
        )
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: file is empty (no header row)") from None
    except pd.errors.ParserError as err:
        raise DataFileError(f"{path}: not a readable CSV file: {first_line(err)}") from None
    except OSError as err:
        raise DataFileError(f"{path}: cannot read: {err.strerror or err}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _not_utf8(path: Path) -> DataFileError:
    """Name the first undecodable byte of the file (the decoder's own offset is within a buffer)."""
    offset, line = _first_invalid_utf8(path)
    return DataFileError(f"{path}: not valid UTF-8 text (byte {offset}, line {line}); re-export as UTF-8")


def _first_invalid_utf8(path: Path) -> tuple[int, int]:
    """(0-based byte offset, 1-based line) of the first byte that is not valid UTF-8."""
    offset, line, carry = 0, 1, b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            data = carry + chunk
            try:
                data.decode("utf-8")
                good, carry = data, b""
            except UnicodeDecodeError as err:
                if err.reason != "unexpected end of data":
                    return offset + err.start, line + data.count(b"\n", 0, err.start)
                good, carry = data[: err.start], data[err.start :]  # a character split across chunks
            offset, line = offset + len(good), line + good.count(b"\n")
    return offset, line  # the file ends inside a character


def _record_lines(path: Path) -> Callable[[np.ndarray, int], np.ndarray]:
    """Map data record numbers to the line each starts on: one record per line unless a field spans lines."""

    def lines(records: np.ndarray, total: int) -> np.ndarray:
        newlines, ends_with_newline = _count_newlines(path)
        if newlines == total + int(ends_with_newline):  # header + one line per record: no scan needed
            return records + 2
        try:
            starts = _record_starts(path)
        except csv.Error:  # a field over the csv module's size limit: give the row numbers instead
            return records + 2
        return starts[records] if len(starts) == total else records + 2  # a dialect pandas reads differently

    return lines


def _count_newlines(path: Path) -> tuple[int, bool]:
    count, last = 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            count, last = count + chunk.count(b"\n"), chunk
    return count, last.endswith(b"\n")


def _record_starts(path: Path) -> np.ndarray:
    """The first line of every data record, skipping blank lines as pandas does."""
    starts = array("q")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        consumed = 0
        for row in reader:  # up to and including the header
            consumed = reader.line_num
            if row:
                break
        for row in reader:
            if row:
                starts.append(consumed + 1)
            consumed = reader.line_num
    return np.frombuffer(starts, dtype="int64")


# --- Parquet -----------------------------------------------------------------------------------


def _parquet_table(path: Path) -> RawTable:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:  # pyarrow raises several types for a corrupt file
        raise DataFileError(f"{path}: not a readable Parquet file: {first_line(err)}") from None
    schema = parquet.schema_arrow
    types = {f.name: str(f.type) for f in schema}
    return RawTable(str(path), 1, list(schema.names), parquet.metadata.num_rows, _parquet_reader(path), types)


def _parquet_reader(path: Path) -> Callable[[], pd.DataFrame]:
    def read() -> pd.DataFrame:
        try:
            return pd.read_parquet(path)
        except (pa.ArrowException, OSError) as err:  # corrupt pages show only when the data is read
            raise DataFileError(f"{path}: not a readable Parquet file: {first_line(err)}") from None

    return read


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
            present = {
                r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
            }
            for name in TABLES:
                if name in present:
                    described = con.execute(f'DESCRIBE "{name}"').fetchall()
                    rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
                    types = {str(r[0]): str(r[1]) for r in described}
                    reader = _duckdb_reader(path, name)
                    tables[name] = RawTable(f"{path}:{name}", 1, list(types), rows, reader, types)
    except duckdb.Error as err:
        raise DataFileError(f"{path} is not a DuckDB database or cannot be read: {first_line(err)}") from None
    return tables


def _duckdb_reader(path: Path, name: str) -> Callable[[], pd.DataFrame]:
    def read() -> pd.DataFrame:
        try:
            with connect(path, read_only=True) as con:
                return con.execute(f'SELECT * FROM "{name}"').df()
        except duckdb.Error as err:
            raise DataFileError(f"{path}:{name}: cannot be read: {first_line(err)}") from None

    return read
