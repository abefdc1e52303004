"""Hand a Spark warehouse's tables to DuckDB, for the steps that train models on one machine.

Validation, loading and unify are row-heavy, string-keyed work that scales out on Spark; model
training holds member-level frames in one process anyway. So `retrain --engine spark` prepares on
Spark, then DuckDB reads the Parquet files the Spark warehouse already wrote in its work directory
(shared storage on a cluster, mounted on the driver too): nothing is collected through Spark's
driver, and the copied tables are the very rows and types a DuckDB-only preparation holds, so the
data fingerprint (and with it a retrain's skip of unchanged data) is the same on both engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memberwise.warehouse import Warehouse

if TYPE_CHECKING:
    from memberwise.engine.spark import SparkWarehouse


def parquet_bytes(source: SparkWarehouse, names: list[str]) -> int:
    """How many bytes of Parquet hold the tables `names` of a Spark warehouse (to size DuckDB by)."""
    return sum(path.stat().st_size for name in names for path in source.files(name))


def duckdb_from_spark(source: SparkWarehouse, target: Warehouse) -> Warehouse:
    """Copy every table of `source` into the (fresh) DuckDB warehouse `target`, with `present`; return it.

    The contract tables and unify's `member_map`, `members`, `member_orders` and `member_interactions`:
    the training steps read the latter and orders, accounts, loyalty, campaign_touches and kpi_targets,
    and the data fingerprint hashes every contract table the brand provided.
    """
    for name in source.tables():
        files = ", ".join("'" + str(path).replace("'", "''") + "'" for path in source.files(name))
        target.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM read_parquet([{files}])')
    target.present = set(source.present)
    target.fingerprint = None
    return target
