"""The shared first stages of every pipeline: validate the raw tables, load them, unify members."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from memberwise.data.io import ValidatedData, load
from memberwise.identity import IdentityResult, unify
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse, new_warehouse

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Validated data, the warehouse holding it, and the unified members."""

    data: ValidatedData
    warehouse: Warehouse
    identity: IdentityResult

    @property
    def default_as_of(self) -> date:
        """The day after the data snapshot: the cutoff that uses every complete day of data."""
        return (self.data.snapshot_at.normalize() + pd.Timedelta(days=1)).date()


def snapshot_timestamp(snapshot_date: date | None) -> pd.Timestamp:
    """The last instant of the snapshot day (default today): later events are rejected."""
    day = pd.Timestamp(snapshot_date or date.today())
    return day + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def prepare(data_dir: Path, settings: Settings) -> Prepared:
    """Validate `data_dir`, load the valid rows into DuckDB and link accounts into members."""
    warehouse = new_warehouse(settings.warehouse_path, settings.duckdb_threads, settings.duckdb_memory_limit)
    data = load(data_dir, snapshot_timestamp(settings.snapshot_date), warehouse)
    log.info("validated %s: %d rows rejected", data_dir, len(data.rejects))
    identity = unify(data.warehouse, settings.max_accounts_per_identifier)
    return Prepared(data, data.warehouse, identity)
