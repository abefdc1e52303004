"""Validation on Spark equals DuckDB's: counts, orphans, rejects (rows, lines, keys, reasons), tables.

One code path checks both engines (`data.io.check_table`); only staging differs, so these tests run the
dirty demo brand through both, as CSV (readers' stager) and as text Parquet (Spark's own reader).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memberwise.data.contract import TABLES
from memberwise.data.demo import DemoConfig, generate
from memberwise.data.io import ValidatedData, load
from memberwise.engine.spark import new_spark_warehouse
from memberwise.errors import DataFileError
from memberwise.warehouse import SqlWarehouse, typed_frame

pytestmark = pytest.mark.spark

SNAPSHOT = pd.Timestamp("2026-11-15 23:59:59")


@pytest.fixture(scope="module")
def dirty_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2,000-person brand with a known number of invalid rows of every kind (CSV)."""
    out = tmp_path_factory.mktemp("dirty-csv")
    generate(DemoConfig(members=2_000, seed=13, dirty=True, file_format="csv"), out)
    return out


@pytest.fixture(scope="module")
def dirty_parquet(dirty_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tables as text Parquet files, which Spark reads itself."""
    out = tmp_path_factory.mktemp("dirty-parquet")
    for path in dirty_csv.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        frame.to_parquet(out / f"{path.stem}.parquet", index=False)
    return out


def _table(warehouse: SqlWarehouse, name: str) -> pd.DataFrame:
    frame = typed_frame(warehouse.arrow(f"SELECT * FROM {name}"))
    return frame.sort_values(list(frame.columns), ignore_index=True)


def _assert_same(duck: ValidatedData, spark: ValidatedData) -> None:
    pd.testing.assert_frame_equal(spark.counts, duck.counts)
    pd.testing.assert_frame_equal(spark.rejects, duck.rejects)
    assert spark.warehouse.present == duck.warehouse.present == set(TABLES)
    for name in TABLES:
        assert (
            spark.warehouse.arrow(f"SELECT * FROM {name}").schema
            == duck.warehouse.arrow(f"SELECT * FROM {name}").schema
        ), name
        pd.testing.assert_frame_equal(_table(spark.warehouse, name), _table(duck.warehouse, name), obj=name)


@pytest.mark.parametrize("source", ["dirty_csv", "dirty_parquet"])
def test_spark_validation_equals_duckdb(spark, source: str, request, tmp_path: Path) -> None:
    data = request.getfixturevalue(source)
    duck = load(data, SNAPSHOT)
    assert duck.counts["rejected"].gt(0).all(), "every table of the dirty brand has rejects"
    assert duck.counts["orphan_accounts"].sum() > 0
    assert duck.rejects["line"].notna().all() == (source == "dirty_csv")
    warehouse = new_spark_warehouse("local[2]", tmp_path)
    try:
        _assert_same(duck, load(data, SNAPSHOT, warehouse))
        assert not list((warehouse.work_dir / "staging").glob("*")), "staging files are removed"
    finally:
        warehouse.close()


def test_an_unreadable_file_is_one_line_on_spark(spark, tmp_path: Path) -> None:
    data = tmp_path / "brand"
    data.mkdir()
    lines = ["channel,account_id,gender", *(f"jd,a{i},F" for i in range(100_000)), "jd,short"]
    (data / "accounts.csv").write_text("\n".join(lines) + "\n")
    (data / "orders.csv").write_text(
        "order_id,channel,account_id,ordered_at,amount,discount,coupon_used,category,status\n"
        "o1,jd,a1,2026-01-01,10,0,false,shoes,paid\n"
    )
    warehouse = new_spark_warehouse("local[2]", tmp_path / "work")
    try:
        with pytest.raises(
            DataFileError, match=r"accounts\.csv: not a readable CSV file: .*Expected 3 columns, got 2"
        ):
            load(data, SNAPSHOT, warehouse)
    finally:
        warehouse.close()
