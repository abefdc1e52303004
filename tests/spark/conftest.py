"""The Spark session shared by every Spark test, and a Spark warehouse holding a DuckDB one's tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memberwise.data.contract import TABLES
from memberwise.warehouse import Warehouse


@pytest.fixture(scope="session")
def spark() -> Iterator:
    """A local[2] session for the whole test run, stopped at the end."""
    from memberwise.engine.spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


def spark_copy(duck: Warehouse, work_root: Path):  # noqa: ANN201 - returns SparkWarehouse
    """A Spark warehouse holding the same validated contract tables as a DuckDB one."""
    from memberwise.engine.spark import new_spark_warehouse

    target = new_spark_warehouse("local[2]", work_root)
    for name in TABLES:
        target.put(name, duck.arrow(f"SELECT * FROM {name}"))
    target.present = set(duck.present)
    return target
