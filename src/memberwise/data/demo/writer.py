"""Writes a contract table chunk by chunk (Parquet or CSV) with the contract's Arrow types."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ARROW_TYPES = {
    "str": pa.string(),
    "timestamp": pa.timestamp("s"),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a contract table, so every chunk is written with identical types."""
    from memberwise.data.contract import TABLES

    return pa.schema([(c.name, ARROW_TYPES[c.kind]) for c in TABLES[table].columns])


class TableWriter:
    """Appends chunks of one table to `<out>/<table>.<fmt>` without holding the table in memory.

    The schema is the contract table's, or `schema` for a table outside the contract (the truth files).
    """

    def __init__(self, out: Path, table: str, file_format: str, schema: pa.Schema | None = None) -> None:
        self.path = out / f"{table}.{file_format}"
        self.schema = schema if schema is not None else arrow_schema(table)
        self.file_format = file_format
        self.rows = 0
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        batch = pa.Table.from_pandas(frame[self.schema.names], schema=self.schema, preserve_index=False)
        if self._writer is None:
            self._writer = (
                pq.ParquetWriter(self.path, self.schema)
                if self.file_format == "parquet"
                else pacsv.CSVWriter(
                    self.path, self.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
                )
            )
        self._writer.write_table(batch)
        self.rows += len(frame)

    def close(self) -> None:
        if self._writer is None:
            self.write(pd.DataFrame({n: pd.Series(dtype=object) for n in self.schema.names}))
        assert self._writer is not None
        self._writer.close()
