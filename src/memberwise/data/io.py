"""Split each of a brand's tables into valid rows and rejects (with reasons).

Whole-file problems raise :class:`DataFileError` (see :mod:`memberwise.data.readers`); row problems
never stop a run: the row goes to the rejects table and the counts say so. `read = accepted + rejected`
per table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors

from memberwise.data.contract import TABLES, Column, Reason, Table, pandas_dtype, schema
from memberwise.data.readers import RawTable, read_source
from memberwise.errors import DataFileError, MemberwiseError, first_line
from memberwise.warehouse import Warehouse, new_warehouse

log = logging.getLogger(__name__)
_TRUE = {"true", "1", "t", "yes", "y"}
_FALSE = {"false", "0", "f", "no", "n"}
_MAX_INT = 2**53  # larger integers do not survive the float parse exactly
# A time followed by a zone: `Z`, `+08:00`, `+0800`, `-05`, ` UTC` (the contract wants naive local time).
_ZONED = r"(?i)[T ]\d{1,2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
REJECT_COLUMNS = ["table", "row_number", "line", "key", "reasons"]
_REJECT_DTYPES = {"row_number": "int64", "line": "Int64"}


@dataclass
class ValidatedData:
    """The warehouse holding the valid rows, the rejected rows with reasons, and counts that add up."""

    warehouse: Warehouse
    rejects: pd.DataFrame
    counts: pd.DataFrame
    snapshot_at: pd.Timestamp

    def write_report(self, out_dir: Path) -> None:
        """Write `rejects.csv` and `validation_report.json` for people and for monitoring."""
        report = {
            "snapshot_at": self.snapshot_at.isoformat(),
            "tables": self.counts.to_dict(orient="records"),
            "reject_reasons": reason_counts(self.rejects).to_dict(orient="records"),
        }
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.rejects.to_csv(out_dir / "rejects.csv", index=False)
            (out_dir / "validation_report.json").write_text(json.dumps(report, indent=2, default=str))
        except OSError as err:  # --out names a file, or the disk is full (the CLI words that case)
            raise MemberwiseError(f"{out_dir}: cannot write the report: {err.strerror or err}") from err


def parse_column(values: pd.Series, column: Column) -> tuple[pd.Series, dict[Reason, pd.Series]]:
    """Parse one column to its contract type; return (parsed, masks of the cells it refused, by reason)."""
    if column.kind == "str":
        parsed = values.astype("string").str.strip()
        return parsed.mask(parsed == ""), {}
    is_text = pd.api.types.is_string_dtype(values.dtype) or values.dtype == object
    # Typed sources (Parquet, DuckDB) need no text checks: only CSV-like text can be blank or garbled.
    present = values.notna() & (values.astype("string").str.strip() != "") if is_text else values.notna()
    refused: dict[Reason, pd.Series] = {}
    if column.kind == "timestamp":
        parsed, refused = _parse_timestamps(values)
    elif column.kind == "bool":
        parsed = _parse_bools(values)
    else:
        number = pd.to_numeric(values, errors="coerce").astype("float64")
        number = number.where(np.isfinite(number))
        if column.kind == "int":
            number = number.where((number.round() == number) & (number.abs() <= _MAX_INT))
        parsed = number.astype(pandas_dtype(column))
    unparseable = present & parsed.isna()
    for mask in refused.values():
        unparseable &= ~mask
    return parsed, {**refused, Reason.UNPARSEABLE: unparseable}


def _parse_timestamps(values: pd.Series) -> tuple[pd.Series, dict[Reason, pd.Series]]:
    """Naive nanosecond timestamps; text with a zone offset and dates pandas cannot hold are refused."""
    zoned = pd.Series(False, index=values.index)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        stamps = values.dt.tz_localize(None)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values
    else:
        text = values.astype("string").str.strip()
        stamps, zoned = _parse_text_timestamps(text)
    out_of_range = ((stamps < pd.Timestamp.min) | (stamps > pd.Timestamp.max)).fillna(False).astype(bool)
    parsed = stamps.mask(out_of_range).astype("datetime64[ns]")
    return parsed, {Reason.TIMEZONE_OFFSET: zoned, Reason.OUT_OF_RANGE: out_of_range}


def _parse_text_timestamps(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(timestamps, mask of the values carrying a zone), unparseable values being NaT.

    The zone pattern is several times slower than parsing: on a column without zones it runs on the
    few values that did not parse only.
    """
    try:
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601")
        clean = not isinstance(stamps.dtype, pd.DatetimeTZDtype)
    except ValueError:  # "Mixed timezones detected": some values carry a zone
        clean = False
    if clean:
        unread = stamps.isna() & text.notna()
        zoned = pd.Series(False, index=text.index)
        zoned[unread] = text[unread].str.contains(_ZONED, regex=True).astype(bool)
        return stamps, zoned
    zoned = text.str.contains(_ZONED, regex=True).fillna(False).astype(bool)
    stamps = pd.to_datetime(text.mask(zoned), errors="coerce", format="ISO8601")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):  # zones in a form the pattern does not know
        zoned, stamps = zoned | stamps.notna(), pd.Series(pd.NaT, index=text.index)
    return stamps, zoned


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
    return _no_problems()


def _no_problems() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": [], "reason": []})


def validate_table(
    raw: RawTable, table: Table, snapshot_at: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one table into (valid rows with contract types, rejects with reasons)."""
    return validate_frame(raw.read(), table, snapshot_at, raw)


def validate_frame(
    frame: pd.DataFrame, table: Table, snapshot_at: pd.Timestamp, raw: RawTable
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows as read from `raw` into (valid rows with contract types, rejects with reasons)."""
    frame = frame.reset_index(drop=True)
    parsed: dict[str, pd.Series] = {}
    problems: list[pd.DataFrame] = [_no_problems()]
    for column in table.columns:
        values = frame[column.name] if column.name in frame else pd.Series(pd.NA, index=frame.index)
        try:
            parsed[column.name], refused = parse_column(values, column)
        except (ValueError, TypeError, OverflowError) as err:  # a form of value no rule foresaw
            log.debug("parsing %s column %s failed", raw.source, column.name, exc_info=True)
            message = f"{raw.source}: column '{column.name}' cannot be read: {first_line(err)}"
            raise DataFileError(message) from err
        problems.extend(_problem_rows(mask, column.name, reason) for reason, mask in refused.items())
        if column.event_time:
            late = (parsed[column.name] > snapshot_at).fillna(False).astype(bool)
            problems.append(_problem_rows(late, column.name, Reason.AFTER_SNAPSHOT))
    typed = pd.DataFrame(parsed)
    schema_problems = _schema_reasons(typed, table)
    # A refused cell became null: report why it was refused, not also that it is missing.
    refused_cells = pd.MultiIndex.from_frame(pd.concat(problems)[["row", "column"]])
    cell = pd.MultiIndex.from_frame(schema_problems[["row", "column"]])
    is_missing = schema_problems["reason"].isin([Reason.MISSING_KEY.value, Reason.MISSING_VALUE.value])
    schema_problems = schema_problems[~(is_missing.to_numpy() & cell.isin(refused_cells))]
    all_problems = pd.concat([*problems, schema_problems], ignore_index=True)
    bad_rows = np.sort(all_problems["row"].unique())
    rejects = _reject_table(frame, table, raw, all_problems, bad_rows)
    valid = typed.drop(index=bad_rows).reset_index(drop=True)
    return valid, rejects


def _problem_rows(mask: pd.Series, column: str, reason: Reason) -> pd.DataFrame:
    rows = np.flatnonzero(mask.to_numpy())
    return pd.DataFrame({"row": rows.astype("int64"), "column": column, "reason": reason.value})


def _reject_table(
    frame: pd.DataFrame, table: Table, raw: RawTable, problems: pd.DataFrame, bad_rows: np.ndarray
) -> pd.DataFrame:
    if len(bad_rows) == 0:
        return _no_rejects()
    labels = problems["column"].astype(str) + ":" + problems["reason"].astype(str)
    reasons = labels.groupby(problems["row"].to_numpy()).agg(lambda s: "; ".join(sorted(set(s))))
    if table.key:
        keys = frame.loc[bad_rows, list(table.key)].astype("string").fillna("").agg("|".join, axis=1)
    else:
        keys = pd.Series("", index=bad_rows)
    lines = raw.lines(bad_rows, len(frame)) if raw.lines else None
    return pd.DataFrame(
        {
            "table": table.name,
            "row_number": bad_rows + raw.first_row_number,
            "line": pd.array(lines if lines is not None else [None] * len(bad_rows), dtype="Int64"),
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
        valid, rejected = validate_frame(frame, table, snapshot, raw[name])
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
        {
            c: pd.Series(dtype={"row_number": "int64", "line": "Int64"}.get(c, "string"))
            for c in REJECT_COLUMNS
        }
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
