"""The shared first stages of every pipeline: validate the raw tables, load them, unify members."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import psutil

from memberwise.data.contract import TABLES
from memberwise.data.io import ValidatedData, load
from memberwise.errors import MemberwiseError
from memberwise.identity import IdentityResult, unify
from memberwise.settings import Settings
from memberwise.warehouse import SqlWarehouse, Warehouse, mib_setting, new_warehouse, open_warehouse

log = logging.getLogger(__name__)

# How many times its size on disk a source takes once loaded in DuckDB (the 1M-member demo brand:
# 0.5 GB of Parquet, 2.8 GB loaded; CSV is text much like DuckDB's own strings).
_EXPANSION = {".parquet": 6.0, ".csv": 1.5}
_DUCKDB_EXPANSION = 2.0
# Above this share of the machine's RAM (loaded size), a source's warehouse stays in memory but gets a
# memory limit and a spill directory: unify, features and the models hold several frames per member
# beside it (the 1M-member demo brand, 2.9 GB loaded, peaked at 6.3 GiB unlimited, 3.3 GiB at a 3 GiB
# limit, and used a quarter less CPU than a database file).
IN_MEMORY_SHARE = 0.1
SPILL_LIMIT_SHARE = 0.125
# Above this share, a database file: DuckDB keeps it compressed on disk and caches within CACHE_SHARE.
FILE_SHARE = 0.3
CACHE_SHARE = 0.4
_PREFIX = "warehouse-"


@dataclass
class Prepared:
    """Validated data, the warehouse holding it, and the unified members."""

    data: ValidatedData
    warehouse: SqlWarehouse
    identity: IdentityResult
    settings: Settings

    def duckdb(self, step: str) -> Warehouse:
        """The warehouse on DuckDB, for a step that trains or plans on one machine (`step` names it).

        Prepared on Spark, its tables are handed to DuckDB once, on the first call: DuckDB reads the
        Parquet the Spark warehouse wrote (`engine.handoff`) into a warehouse sized as
        `sized_warehouse` sizes a source, and the Spark work directory is removed. Validation and
        unify, the row-heavy string-keyed work, have scaled out by then; training holds member-level
        frames in one process anyway.
        """
        if not isinstance(self.warehouse, Warehouse):
            self._hand_off(step)
        assert isinstance(self.warehouse, Warehouse)
        return self.warehouse

    def _hand_off(self, step: str) -> None:
        from memberwise.engine.handoff import duckdb_from_spark, parquet_bytes
        from memberwise.engine.spark import SparkWarehouse

        spark = self.warehouse
        assert isinstance(spark, SparkWarehouse), f"no hand-off from engine {spark.engine}"
        log.info("%s runs on DuckDB: reading the Spark tables in %s", step, spark.work_dir)
        size = parquet_bytes(spark, list(TABLES)) * _EXPANSION[".parquet"]
        target = _warehouse_for(size, f"Spark tables in {spark.work_dir}", self.settings)
        duck = duckdb_from_spark(spark, target)
        spark.close()
        self.data = replace(self.data, warehouse=duck)
        self.warehouse, self.identity = duck, IdentityResult(duck, self.identity.hubs)

    @property
    def default_as_of(self) -> date:
        """The cutoff when none is given (`default_cutoff`)."""
        return default_cutoff(self.warehouse, self.settings.snapshot_date)


def default_cutoff(wh: SqlWarehouse, snapshot_date: date | None) -> date:
    """The day after the snapshot date; without one, the day after the last order.

    An export is run some days after its data ends: a cutoff at today would read the days between as
    days without a sale (a forecast from them collapses, every member looks lapsed).
    """
    if snapshot_date is not None:
        return snapshot_date + timedelta(days=1)
    latest = wh.scalar("SELECT max(ordered_at) FROM orders")
    if latest is None:
        raise MemberwiseError("no valid orders in the data: nothing to learn from (see the rejects)")
    cutoff = pd.Timestamp(latest).date() + timedelta(days=1)
    log.info("no snapshot date given: the orders end on %s, so the cutoff is %s", latest, cutoff)
    return cutoff


def snapshot_timestamp(snapshot_date: date | None) -> pd.Timestamp:
    """The last instant of the snapshot day (default today): later events are rejected."""
    day = pd.Timestamp(snapshot_date or date.today())
    return day + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def prepare(data_dir: Path | str, settings: Settings) -> Prepared:
    """Validate `data_dir`, load the valid rows into the engine's warehouse and link accounts into members."""
    data = load(data_dir, snapshot_timestamp(settings.snapshot_date), engine_warehouse(data_dir, settings))
    log.info("validated %s: %d rows rejected", data_dir, len(data.rejects))
    identity = unify(data.warehouse, settings.max_accounts_per_identifier)
    return Prepared(data, data.warehouse, identity, settings)


def engine_warehouse(data_dir: Path | str, settings: Settings) -> SqlWarehouse:
    """A fresh warehouse on `settings.engine`: DuckDB sized for the source, or Spark at its master.

    A Spark warehouse's work directory (its tables' Parquet) is deleted when the process exits.
    """
    if settings.engine == "spark":
        warehouse = open_warehouse(settings)
        atexit.register(warehouse.close)  # type: ignore[attr-defined]
        return warehouse
    return sized_warehouse(Path(data_dir), settings)


def sized_warehouse(data_dir: Path, settings: Settings) -> Warehouse:
    """A fresh warehouse sized for the source: in memory; limited and spilling; or a file under the home.

    `MEMBERWISE_WAREHOUSE_PATH` and `MEMBERWISE_DUCKDB_MEMORY_LIMIT` override the choice.
    """
    return _warehouse_for(loaded_size(data_dir), str(data_dir), settings)


def _warehouse_for(size: float, source: str, settings: Settings) -> Warehouse:
    """A fresh warehouse for `size` loaded bytes of `source` (`sized_warehouse`'s tiers)."""
    total_ram = psutil.virtual_memory().total
    path, memory_limit, spill = settings.warehouse_path, settings.duckdb_memory_limit, None
    if path is None and size > FILE_SHARE * total_ram:
        path = _work_file(settings.home / "work")
        log.info("big source %s: file-backed warehouse %s", source, path)
        memory_limit = memory_limit or mib_setting(CACHE_SHARE * total_ram)
    elif path is None and size > IN_MEMORY_SHARE * total_ram:
        spill = _spill_dir(_work_file(settings.home / "work"))
        log.info("sizeable source %s: in-memory warehouse spilling to %s", source, spill)
        memory_limit = memory_limit or mib_setting(SPILL_LIMIT_SHARE * total_ram)
    elif path is not None and memory_limit is None:
        memory_limit = mib_setting(CACHE_SHARE * total_ram)
    return new_warehouse(path, settings.duckdb_threads, memory_limit, spill)


def _spill_dir(work_file: Path) -> Path:
    """Where an in-memory warehouse spills: the work file's spill directory (removed with it)."""
    return work_file.with_name(work_file.name + ".tmp")


def loaded_size(source: Path) -> float:
    """Roughly how many bytes a source's tables take once loaded (0 when it cannot be seen)."""
    if source.is_file():
        return source.stat().st_size * _DUCKDB_EXPANSION
    if not source.is_dir():
        return 0.0
    return sum(p.stat().st_size * _EXPANSION[p.suffix] for p in source.iterdir() if p.suffix in _EXPANSION)


def _work_file(work_dir: Path) -> Path:
    """The warehouse file of the running process, deleted at exit; files of dead processes go first."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for stale in work_dir.glob(f"{_PREFIX}*.duckdb*"):  # a file, its log, or a spill dir alone
        pid = stale.name.removeprefix(_PREFIX).split(".")[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            _remove(work_dir / f"{_PREFIX}{pid}.duckdb")
    path = work_dir / f"{_PREFIX}{os.getpid()}.duckdb"
    atexit.register(_remove, path)
    return path


def _remove(path: Path) -> None:
    """Delete a warehouse file with its write-ahead log and spill directory."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)
