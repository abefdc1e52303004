"""Split each of a brand's tables into valid rows and rejects (with reasons), set-based in the warehouse.

Whole-file problems raise :class:`DataFileError` (see :mod:`memberwise.data.readers`); row problems
never stop a run: the row goes to the rejects table and the counts say so. `read = accepted + rejected`
per table. Each table is staged in the warehouse and checked by one SQL pass
(:mod:`memberwise.data.validation_sql`), so no table is ever held in pandas: only the rejects are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from memberwise.data.contract import TABLES, Table
from memberwise.data.readers import RawTable, detach_sources, read_source, unstage
from memberwise.data.validation_sql import checked_sql, repeated_keys_sql, staged_name
from memberwise.errors import DataFileError, MemberwiseError, first_line
from memberwise.warehouse import SqlWarehouse, Warehouse, new_warehouse

log = logging.getLogger(__name__)
REJECT_COLUMNS = ["table", "row_number", "line", "key", "reasons"]
_CHECK_COLUMNS = ("_row", "reasons", "_key")  # what checked_sql adds to the contract columns
_REPEATS = "_repeated_keys"
_WHOLE_STAGE = "spark.sql.codegen.wholeStage"


@dataclass
class ValidatedData:
    """The warehouse holding the valid rows, the rejected rows with reasons, and counts that add up."""

    warehouse: SqlWarehouse
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
    warehouse: SqlWarehouse, raw: RawTable, table: Table, snapshot_at: pd.Timestamp
) -> tuple[pd.DataFrame, int]:
    """Replace the warehouse's `table` by the valid rows of `raw`; return (rejects, rows read).

    The repeated keys are found first (a small table); then one pass writes every row, in source
    order, with its reasons; the few rejected rows are then read out and dropped. The same SQL on
    either engine: only staging the source differs (:func:`_staged`).
    """
    name = table.name
    with _staged(warehouse, raw, table) as types:
        repeats = ""
        if table.key:
            found = repeated_keys_sql(table, snapshot_at, types)
            warehouse.execute(f"CREATE OR REPLACE TEMP TABLE {_REPEATS} AS {found}")
            if warehouse.scalar(f"SELECT count(*) FROM {_REPEATS}"):
                repeats = _REPEATS
        order = " ORDER BY _row" if repeats else ""  # the join to the repeats does not keep the order
        sql = checked_sql(table, snapshot_at, types, repeats)
        warehouse.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}{order}')
    bad = warehouse.df(f'SELECT _row, _key, reasons FROM "{name}" WHERE reasons IS NOT NULL ORDER BY _row')
    read = int(warehouse.scalar(f'SELECT count(*) FROM "{name}"'))  # type: ignore[call-overload]
    _keep_accepted(warehouse, table, rejected=len(bad) > 0)
    warehouse.present.add(name)
    return _reject_table(raw, table, bad, read), read


@contextmanager
def _staged(warehouse: SqlWarehouse, raw: RawTable, table: Table) -> Iterator[dict[str, str]]:
    """Stage `raw` as `staged_name(table)` in the warehouse's engine; yield its column types.

    An engine error while staging or checking is the source's fault (an unreadable file): one line.
    """
    stage = _duckdb_staging if isinstance(warehouse, Warehouse) else _spark_staging
    try:
        with stage(warehouse, raw, table) as types:
            yield types
    except _engine_errors(warehouse) as err:
        log.debug("checking %s failed", raw.source, exc_info=True)
        raise DataFileError(f"{raw.source}: {raw.unreadable}: {first_line(err)}") from None
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {_REPEATS}")


@contextmanager
def _duckdb_staging(warehouse: SqlWarehouse, raw: RawTable, table: Table) -> Iterator[dict[str, str]]:
    assert isinstance(warehouse, Warehouse)
    try:
        raw.stage(warehouse.con, table)
        described = warehouse.con.execute(f"DESCRIBE {staged_name(table.name)}").fetchall()
        yield {str(r[0]): str(r[1]) for r in described}
    finally:
        unstage(warehouse.con, table.name)


@contextmanager
def _spark_staging(warehouse: SqlWarehouse, raw: RawTable, table: Table) -> Iterator[dict[str, str]]:
    from memberwise.engine.spark import SparkWarehouse
    from memberwise.engine.spark_loading import stage_table, unstage_table

    assert isinstance(warehouse, SparkWarehouse), f"no staging for engine {warehouse.engine}"
    staged = stage_table(warehouse.spark, raw, table, warehouse.work_dir / "staging")
    # A wide table's rules exceed the JVM's 64 KB method limit as one generated stage: Spark would
    # try, fail and fall back to per-expression code (3-4x slower than not trying).
    warehouse.spark.conf.set(_WHOLE_STAGE, "false")
    try:
        yield staged.source_types
    finally:
        warehouse.spark.conf.unset(_WHOLE_STAGE)
        unstage_table(warehouse.spark, staged)


def _engine_errors(warehouse: SqlWarehouse) -> tuple[type[BaseException], ...]:
    if isinstance(warehouse, Warehouse):
        return (duckdb.Error,)
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    return (duckdb.Error, PySparkException, Py4JJavaError)  # DuckDB: Spark's CSV stager


def _keep_accepted(warehouse: SqlWarehouse, table: Table, rejected: bool) -> None:
    """Leave only the accepted rows and the contract columns in `table`.

    DuckDB edits the table in place (cheaper than rewriting a hundred million rows); Spark's tables
    are files, rewritten.
    """
    name = table.name
    if isinstance(warehouse, Warehouse):
        if rejected:
            warehouse.execute(f'DELETE FROM "{name}" WHERE reasons IS NOT NULL')
        for column in _CHECK_COLUMNS:
            warehouse.execute(f'ALTER TABLE "{name}" DROP COLUMN {column}')
        warehouse.fingerprint = None
        return
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    warehouse.execute(
        f'CREATE OR REPLACE TABLE "{name}" AS SELECT {columns} FROM "{name}" WHERE reasons IS NULL'
    )


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
    raw: dict[str, RawTable], snapshot_at: pd.Timestamp | datetime, warehouse: SqlWarehouse | None = None
) -> ValidatedData:
    """Validate table by table into a warehouse (DuckDB or Spark; default a fresh in-memory DuckDB one).

    Orphan rows (account unknown) are kept and counted.
    """
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
        if isinstance(warehouse, Warehouse):
            detach_sources(warehouse.con)
    for row in counts:
        row["orphan_accounts"] = _orphan_rows(warehouse, str(row["table"]))
    return ValidatedData(warehouse, pd.concat(rejects, ignore_index=True), pd.DataFrame(counts), snapshot)


def _orphan_rows(warehouse: SqlWarehouse, table: str) -> int:
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
    source: Path | str, snapshot_at: pd.Timestamp | datetime, warehouse: SqlWarehouse | None = None
) -> ValidatedData:
    """Read and validate a data source into a warehouse (by default a new in-memory DuckDB one).

    A storage URI or `catalog:<database>` is read by Spark itself, so only a Spark warehouse takes one.
    """
    from memberwise.engine.spark_sources import is_spark_source  # imports without pyspark

    if warehouse is not None and warehouse.engine == "spark":
        from memberwise.engine.spark_sources import read_spark_source

        return validate(read_spark_source(warehouse.spark, source), snapshot_at, warehouse)  # type: ignore[attr-defined]
    if is_spark_source(source):
        raise DataFileError(f"{source}: only the Spark engine reads this source: add --engine spark")
    return validate(read_source(Path(source)), snapshot_at, warehouse)
