"""Split each of a brand's tables into valid rows and rejects (with reasons), set-based in DuckDB.

Whole-file problems raise :class:`DataFileError` (see :mod:`memberwise.data.readers`); row problems
never stop a run: the row goes to the rejects table and the counts say so. `read = accepted + rejected`
per table. Each table is staged in the warehouse and checked by one SQL pass
(:mod:`memberwise.data.validation_sql`), so no table is ever held in pandas: only the rejects are.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from memberwise.data.contract import TABLES, Table
from memberwise.data.readers import RawTable, detach_sources, read_source, unstage
from memberwise.data.validation_sql import checked_sql, repeated_keys_sql, staged_name
from memberwise.errors import DataFileError, MemberwiseError, first_line
from memberwise.warehouse import Warehouse, new_warehouse

log = logging.getLogger(__name__)
REJECT_COLUMNS = ["table", "row_number", "line", "key", "reasons"]
_CHECK_COLUMNS = ("_row", "reasons", "_key")  # what checked_sql adds to the contract columns
_REPEATS = "_repeated_keys"


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


def validate_table(
    raw: RawTable, table: Table, snapshot_at: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one table into (valid rows with contract types, rejects with reasons): for small tables."""
    warehouse = new_warehouse()
    rejects, _ = check_table(warehouse, raw, table, pd.Timestamp(snapshot_at))
    return warehouse.df(f'SELECT * FROM "{table.name}"'), rejects


def check_table(
    warehouse: Warehouse, raw: RawTable, table: Table, snapshot_at: pd.Timestamp
) -> tuple[pd.DataFrame, int]:
    """Replace the warehouse's `table` by the valid rows of `raw`; return (rejects, rows read).

    The repeated keys are found first (a small table); then one pass writes every row, in source
    order, with its reasons; the few rejected rows are then read out and deleted.
    """
    con, name = warehouse.con, table.name
    try:
        raw.stage(con, table)
        staged = staged_name(name)
        types = {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE {staged}").fetchall()}
        repeats = ""
        if table.key:
            found = repeated_keys_sql(table, snapshot_at, types)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_REPEATS} AS {found}")
            if con.execute(f"SELECT count(*) FROM {_REPEATS}").fetchall()[0][0]:
                repeats = _REPEATS
        order = " ORDER BY _row" if repeats else ""  # the join to the repeats does not keep the order
        sql = checked_sql(table, snapshot_at, types, repeats)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}{order}')
    except duckdb.Error as err:
        log.debug("checking %s failed", raw.source, exc_info=True)
        raise DataFileError(f"{raw.source}: {raw.unreadable}: {first_line(err)}") from None
    finally:
        unstage(con, name)
        con.execute(f"DROP TABLE IF EXISTS {_REPEATS}")
    bad = con.execute(
        f'SELECT _row, _key, reasons FROM "{name}" WHERE reasons IS NOT NULL ORDER BY _row'
    ).df()
    read = int(con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
    if len(bad):
        con.execute(f'DELETE FROM "{name}" WHERE reasons IS NOT NULL')
    for column in _CHECK_COLUMNS:
        con.execute(f'ALTER TABLE "{name}" DROP COLUMN {column}')
    warehouse.fingerprint = None
    warehouse.present.add(name)
    return _reject_table(raw, table, bad, read), read


def _reject_table(raw: RawTable, table: Table, bad: pd.DataFrame, read: int) -> pd.DataFrame:
    if bad.empty:
        return _no_rejects()
    records = bad["_row"].to_numpy(dtype="int64")
    lines = raw.lines(records, read) if raw.lines else None
    return pd.DataFrame(
        {
            "table": table.name,
            "row_number": records + raw.first_row_number,
            "line": pd.array(lines if lines is not None else [None] * len(bad), dtype="Int64"),
            "key": bad["_key"].to_numpy(),
            "reasons": bad["reasons"].to_numpy(),
        }
    )


def validate(
    raw: dict[str, RawTable], snapshot_at: pd.Timestamp | datetime, warehouse: Warehouse | None = None
) -> ValidatedData:
    """Validate table by table into a fresh warehouse; orphan rows (account unknown) are kept and counted."""
    snapshot = pd.Timestamp(snapshot_at)
    warehouse = warehouse or new_warehouse()
    rejects: list[pd.DataFrame] = [_no_rejects()]
    counts: list[dict[str, object]] = []
    try:
        for name, table in TABLES.items():
            if name in raw:
                rejected, read = check_table(warehouse, raw[name], table, snapshot)
                counts.append(
                    {"table": name, "read": read, "accepted": read - len(rejected), "rejected": len(rejected)}
                )
                rejects.append(rejected)
    finally:
        detach_sources(warehouse.con)
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
