"""CSV sources: the header, UTF-8 and readability checks, record lines, and streaming into DuckDB.

A CSV is read with pyarrow block by block, every column as text, and appended to a DuckDB staging
table with `_row` (the 0-based data record), so a file of any size passes through bounded memory.
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from memberwise.data.contract import Table
from memberwise.data.validation_sql import staged_name
from memberwise.errors import DataFileError, first_line

_CHUNK = 1 << 20
_BLOCK = 16 << 20  # bytes of CSV parsed per batch


def csv_header(path: Path) -> list[str]:
    """The header as written, stripped (a repeated column must stay visible, not be renamed)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next((row for row in csv.reader(handle) if row), None)  # blank lines are skipped
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except csv.Error as err:
        raise DataFileError(f"{path}: not a readable CSV file: {err}") from None
    except OSError as err:
        raise DataFileError(f"{path}: cannot read: {err.strerror or err}") from None
    if header is None:
        raise DataFileError(f"{path}: file is empty (no header row)")
    return [c.strip() for c in header]


def has_rows(path: Path, header: list[str]) -> bool:
    """Whether any data record follows the header (reads the first block only, unless it is all header)."""
    return any(batch.num_rows for batch in _batches(path, len(header), block=_CHUNK, threads=False))


def csv_stager(path: Path, header: list[str]) -> Callable[[duckdb.DuckDBPyConnection, Table], None]:
    """Stage a CSV as a DuckDB table of the contract columns as text (NULL when absent) plus `_row`."""

    def stage(con: duckdb.DuckDBPyConnection, table: Table) -> None:
        position: dict[str, int] = {}
        for i, name in enumerate(header):
            position.setdefault(name, i)  # a repeated extra column: the first one (it is ignored anyway)
        names = table.column_names
        staged = staged_name(table.name)
        columns = ", ".join(f'"{n}" VARCHAR' for n in names)
        con.execute(f"CREATE OR REPLACE TABLE {staged} ({columns}, _row BIGINT)")
        offset = 0
        for batch in _batches(path, len(header)):
            n = batch.num_rows
            arrays = [batch.column(position[c]) if c in position else pa.nulls(n, pa.string()) for c in names]
            rows = pa.array(np.arange(offset, offset + n, dtype="int64"))
            chunk = pa.Table.from_arrays([*arrays, rows], names=[*names, "_row"])  # noqa: F841 - scanned by name
            con.execute(f"INSERT INTO {staged} SELECT * FROM chunk")
            offset += n

    return stage


def _batches(path: Path, width: int, block: int = _BLOCK, threads: bool = True) -> Iterator[pa.RecordBatch]:
    """The data records in batches of text columns `f0..`; the header record is dropped.

    Threads read blocks ahead: for a peek at the first records, none and small blocks are quicker.
    """
    read = pacsv.ReadOptions(
        block_size=block, autogenerate_column_names=True, encoding="utf8", use_threads=threads
    )
    parse = pacsv.ParseOptions(newlines_in_values=True)  # quoted fields may span lines
    convert = pacsv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(width)})
    header_left = True
    try:
        with pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as reader:
            for batch in reader:
                if header_left and batch.num_rows:
                    batch, header_left = batch.slice(1), False
                yield batch
    except pa.ArrowInvalid as err:
        if "UTF8" in str(err):
            raise not_utf8(path) from None
        raise DataFileError(f"{path}: not a readable CSV file: {first_line(err)}") from None
    except OSError as err:
        raise DataFileError(f"{path}: cannot read: {err.strerror or err}") from None


def not_utf8(path: Path) -> DataFileError:
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


def record_lines(path: Path) -> Callable[[np.ndarray, int], np.ndarray]:
    """Map data record numbers to the line each starts on: one record per line unless a field spans lines."""

    def lines(records: np.ndarray, total: int) -> np.ndarray:
        newlines, ends_with_newline = _count_newlines(path)
        if newlines == total + int(ends_with_newline):  # header + one line per record: no scan needed
            return records + 2
        try:
            starts = _record_starts(path)
        except csv.Error:  # a field over the csv module's size limit: give the row numbers instead
            return records + 2
        return starts[records] if len(starts) == total else records + 2  # a dialect read differently

    return lines


def _count_newlines(path: Path) -> tuple[int, bool]:
    count, last = 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            count, last = count + chunk.count(b"\n"), chunk
    return count, last.endswith(b"\n")


def _record_starts(path: Path) -> np.ndarray:
    """The first line of every data record, skipping blank lines as the reader does."""
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
