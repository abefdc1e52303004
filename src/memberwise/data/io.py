"""Read a brand's tables and split each into valid rows and rejects (with reasons).

Whole-file problems raise :class:`DataFileError`; row problems never stop a run: the row goes to
the rejects table and the counts say so. `read + accepted + rejected` add up per table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pandera.errors
import pyarrow.parquet as pq

from memberwise.data.contract import TABLES, Column, Reason, Table, pandas_dtype, schema
from memberwise.errors import DataFileError
from memberwise.warehouse import Warehouse, new_warehouse

DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
_TRUE = {"true", "1", "t", "yes", "y"}
_FALSE = {"false", "0", "f", "no", "n"}
REJECT_COLUMNS = ["table", "row_number", "key", "reasons"]


@dataclass
class RawTable:
    """One source table: where it comes from, its columns, and how to read it (only when validated).

    Reading is deferred so a big brand is validated one table at a time, never all in memory at once.
    """

    source: str
    first_row_number: int  # CSV: the file line of the first data row (header is line 1)
    columns: list[str]
    rows: int | None
    reader: Callable[[], pd.DataFrame]

    @classmethod
    def of(cls, frame: pd.DataFrame, source: str, first_row_number: int = 1) -> RawTable:
        """A table already in memory (tests, notebooks, other connectors)."""
        return cls(source, first_row_number, [str(c) for c in frame.columns], len(frame), lambda: frame)

    def read(self) -> pd.DataFrame:
        return self.reader()


@dataclass
class ValidatedData:
    """The warehouse holding the valid rows, the rejected rows with reasons, and counts that add up."""

    warehouse: Warehouse
    rejects: pd.DataFrame
    counts: pd.DataFrame
    snapshot_at: pd.Timestamp

    def write_report(self, out_dir: Path) -> None:
        """Write `rejects.csv` and `validation_report.json` for people and for monitoring."""
        out_dir.mkdir(parents=True, exist_ok=True)
        self.rejects.to_csv(out_dir / "rejects.csv", index=False)
        report = {
            "snapshot_at": self.snapshot_at.isoformat(),
            "tables": self.counts.to_dict(orient="records"),
            "reject_reasons": reason_counts(self.rejects).to_dict(orient="records"),
        }
        (out_dir / "validation_report.json").write_text(json.dumps(report, indent=2, default=str))


def read_source(source: Path) -> dict[str, RawTable]:
    """Read every contract table present in a data directory (CSV/Parquet) or a DuckDB file."""
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
            raw[name] = _parquet_table(path) if path.suffix == ".parquet" else _csv_table(path)
            if raw[name].rows == 0 and table.required:
                raise DataFileError(f"{path}: file has no data rows")
    return raw


def _read_csv(path: Path, nrows: int | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8", nrows=nrows
        )
    except UnicodeDecodeError as err:
        raise DataFileError(f"{path}: not valid UTF-8 text (byte {err.start}); re-export as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: file is empty (no header row)") from None
    except pd.errors.ParserError as err:
        raise DataFileError(f"{path}: not a readable CSV file: {err}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _csv_table(path: Path) -> RawTable:
    head = _read_csv(path, nrows=1)
    return RawTable(str(path), 2, list(head.columns), len(head) or 0, lambda: _read_csv(path))


def _parquet_table(path: Path) -> RawTable:
    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception as err:  # pyarrow raises several unrelated types for corrupt files
        raise DataFileError(f"{path}: not a readable Parquet file: {err}") from None
    columns = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    return RawTable(str(path), 1, columns, metadata.num_rows, lambda: pd.read_parquet(path))


def _read_duckdb(path: Path) -> dict[str, RawTable]:
    if path.suffix not in DUCKDB_SUFFIXES:
        raise DataFileError(f"{path}: expected a directory or a DuckDB file ({', '.join(DUCKDB_SUFFIXES)})")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        raise DataFileError(f"{path}: not a readable DuckDB database: {err}") from None
    tables: dict[str, RawTable] = {}
    with con:
        present = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        for name in TABLES:
            if name in present:
                columns = [row[0] for row in con.execute(f'DESCRIBE "{name}"').fetchall()]
                rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
                tables[name] = RawTable(f"{path}:{name}", 1, columns, rows, _duckdb_reader(path, name))
    return tables


def _duckdb_reader(path: Path, name: str) -> Callable[[], pd.DataFrame]:
    def read() -> pd.DataFrame:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(f'SELECT * FROM "{name}"').df()

    return read


def _check_columns(raw: RawTable, table: Table) -> None:
    missing = [c for c in table.required_columns if c not in raw.columns]
    if missing:
        raise DataFileError(f"{raw.source}: required column(s) missing: {', '.join(missing)}")


def parse_column(values: pd.Series, column: Column) -> tuple[pd.Series, pd.Series]:
    """Parse one column to its contract type; return (parsed, mask of unparseable cells)."""
    if column.kind == "str":
        parsed = values.astype("string").str.strip()
        parsed = parsed.mask(parsed == "")
        return parsed, pd.Series(False, index=values.index)
    is_text = pd.api.types.is_string_dtype(values.dtype) or values.dtype == object
    # Typed sources (Parquet, DuckDB) need no text checks: only CSV-like text can be blank or garbled.
    present = values.notna() & (values.astype("string").str.strip() != "") if is_text else values.notna()
    if column.kind == "timestamp":
        parsed = _parse_timestamps(values)
    elif column.kind == "bool":
        parsed = _parse_bools(values)
    else:
        number = pd.to_numeric(values, errors="coerce").astype("float64")
        number = number.where(np.isfinite(number))
        if column.kind == "int":
            number = number.where(number.round() == number)
        parsed = number.astype(pandas_dtype(column))
    return parsed, present & parsed.isna()


def _parse_timestamps(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    text = values.astype("string").str.strip()
    return pd.to_datetime(text, errors="coerce", format="ISO8601").astype("datetime64[ns]")


def _parse_bools(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean")
    text = values.astype("string").str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[text.isin(_TRUE).fillna(False).astype(bool)] = True
    parsed[text.isin(_FALSE).fillna(False).astype(bool)] = False
    return parsed


def _schema_reasons(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Run the pandera schema lazily and turn its failure cases into (row, column, reason)."""
    try:
        schema(table).validate(frame, lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as err:
        cases = err.failure_cases.dropna(subset=["index"])
        check = cases["check"].astype(str)
        # Frame-wide checks (duplicate keys) come back once per column: report them on the key.
        frame_wide = (check == Reason.DUPLICATE_KEY.value).to_numpy()
        column = cases["column"].astype("string").mask(frame_wide, ",".join(table.key))
        is_null = check.str.contains("not_nullable")
        key_col = column.isin(table.key)
        reason = np.where(
            is_null, np.where(key_col, Reason.MISSING_KEY.value, Reason.MISSING_VALUE.value), check
        )
        found = pd.DataFrame({"row": cases["index"].astype("int64"), "column": column, "reason": reason})
        return found.drop_duplicates(ignore_index=True)
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": [], "reason": []})


def validate_table(
    raw: RawTable, table: Table, snapshot_at: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one table into (valid rows with contract types, rejects with reasons)."""
    return validate_frame(raw.read(), table, snapshot_at, raw.first_row_number)


def validate_frame(
    frame: pd.DataFrame, table: Table, snapshot_at: pd.Timestamp, first_row_number: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows as read into (valid rows with contract types, rejects with reasons)."""
    frame = frame.reset_index(drop=True)
    parsed: dict[str, pd.Series] = {}
    problems: list[pd.DataFrame] = []
    for column in table.columns:
        values = frame[column.name] if column.name in frame else pd.Series(pd.NA, index=frame.index)
        parsed[column.name], unparseable = parse_column(values, column)
        if unparseable.any():
            problems.append(_problem_rows(unparseable, column.name, Reason.UNPARSEABLE))
        if column.event_time:
            late = (parsed[column.name] > snapshot_at).fillna(False).astype(bool)
            if late.any():
                problems.append(_problem_rows(late, column.name, Reason.AFTER_SNAPSHOT))
    typed = pd.DataFrame(parsed)
    schema_problems = _schema_reasons(typed, table)
    if problems:
        # An unparseable cell became null: report it as unparseable, not also as missing.
        unparsed = pd.concat(problems)
        unparsed = unparsed[unparsed["reason"] == Reason.UNPARSEABLE.value]
        cell = pd.MultiIndex.from_frame(schema_problems[["row", "column"]])
        unparsed_cells = pd.MultiIndex.from_frame(unparsed[["row", "column"]])
        is_missing = schema_problems["reason"].isin([Reason.MISSING_KEY.value, Reason.MISSING_VALUE.value])
        schema_problems = schema_problems[~(is_missing.to_numpy() & cell.isin(unparsed_cells))]
    all_problems = pd.concat([*problems, schema_problems], ignore_index=True)
    bad_rows = np.sort(all_problems["row"].unique())
    rejects = _reject_table(frame, table, first_row_number, all_problems, bad_rows)
    valid = typed.drop(index=bad_rows).reset_index(drop=True)
    return valid, rejects


def _problem_rows(mask: pd.Series, column: str, reason: Reason) -> pd.DataFrame:
    rows = np.flatnonzero(mask.to_numpy())
    return pd.DataFrame({"row": rows.astype("int64"), "column": column, "reason": reason.value})


def _reject_table(
    frame: pd.DataFrame, table: Table, first_row: int, problems: pd.DataFrame, bad_rows: np.ndarray
) -> pd.DataFrame:
    if len(bad_rows) == 0:
        return _no_rejects()
    labels = problems["column"].astype(str) + ":" + problems["reason"].astype(str)
    reasons = labels.groupby(problems["row"].to_numpy()).agg(lambda s: "; ".join(sorted(set(s))))
    if table.key:
        keys = frame.loc[bad_rows, list(table.key)].astype("string").fillna("").agg("|".join, axis=1)
    else:
        keys = pd.Series("", index=bad_rows)
    return pd.DataFrame(
        {
            "table": table.name,
            "row_number": bad_rows + first_row,
            "key": keys.to_numpy(),
            "reasons": reasons.loc[bad_rows].to_numpy(),
        }
    )


def validate(
    raw: dict[str, RawTable], snapshot_at: pd.Timestamp | datetime, warehouse: Warehouse | None = None
) -> ValidatedData:
    """Validate table by table into a fresh warehouse; orphan rows (account unknown) are kept and counted.

    Each table's valid rows go straight into DuckDB and the pandas copy is dropped, so peak memory
    is about one table, not the whole brand.
    """
    snapshot = pd.Timestamp(snapshot_at)
    warehouse = warehouse or new_warehouse()
    rejects: list[pd.DataFrame] = [_no_rejects()]
    counts: list[dict[str, object]] = []
    for name, table in TABLES.items():
        if name not in raw:
            continue
        frame = raw[name].read()
        valid, rejected = validate_frame(frame, table, snapshot, raw[name].first_row_number)
        counts.append({"table": name, "read": len(frame), "accepted": len(valid), "rejected": len(rejected)})
        del frame
        warehouse.put(name, valid)
        warehouse.present.add(name)
        rejects.append(rejected)
        del valid
    for row in counts:
        row["orphan_accounts"] = _orphan_rows(warehouse, str(row["table"]))
    return ValidatedData(warehouse, pd.concat(rejects, ignore_index=True), pd.DataFrame(counts), snapshot)


def _orphan_rows(warehouse: Warehouse, table: str) -> int:
    """Rows of an account-keyed table whose (channel, account_id) is not in `accounts`."""
    if not TABLES[table].account_keyed:
        return 0
    sql = f"SELECT count(*) FROM {table} ANTI JOIN accounts USING (channel, account_id)"
    return int(warehouse.scalar(sql))  # type: ignore[call-overload]


def _no_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "row_number" else "string") for c in REJECT_COLUMNS}
    )


def reason_counts(rejects: pd.DataFrame) -> pd.DataFrame:
    """How many rejected rows carry each (table, column:reason); a row with two reasons counts twice."""
    if rejects.empty:
        return pd.DataFrame(columns=["table", "reason", "rows"])
    exploded = rejects.assign(reason=rejects["reasons"].str.split("; ")).explode("reason")
    return exploded.groupby(["table", "reason"]).size().rename("rows").reset_index()


def load(
    source: Path, snapshot_at: pd.Timestamp | datetime, warehouse: Warehouse | None = None
) -> ValidatedData:
    """Read and validate a data source into a (new, by default in-memory) warehouse."""
    return validate(read_source(source), snapshot_at, warehouse)
