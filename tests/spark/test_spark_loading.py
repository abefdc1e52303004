"""Spark staging views hold exactly the rows, values and `_row` numbers pandas reads from the files.

The `spark` fixture is the shared session of tests/spark/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from memberwise.data.contract import TABLES
from memberwise.data.io import validate
from memberwise.data.readers import read_source
from memberwise.data.validation_sql import checked_sql
from memberwise.engine.dialect import to_spark
from memberwise.engine.spark_loading import SparkStaged, stage_source, unstage_table
from memberwise.errors import DataFileError

pytestmark = pytest.mark.spark

# A BOM, blank lines (before the header too), quoted commas, LF and CR-LF inside quotes, doubled and
# stray quotes, empty and blank cells, an unknown extra column, a missing optional one, no final newline.
ACCOUNTS_CSV = (
    "\ufeff\n"
    "channel,account_id,phone_hash,unionid,member_card,registered_at,gender,birth_year,province,extra\n"
    'tmall,a1,"p,1",,c1,2024-01-02 03:04:05,F,1990,"Zhe\njiang",x\n'
    "\n"
    'jd,a2,p2,"u ""2""",,2024-02-03,M,,  ,\n'
    'wechat,a3,,u3,c3,,,"19\r\n85",Shanghai,\n'
    "\n\n"
    'tmall,a1,ab"c,,,not a time,X,abc,"",y\n'
    'jd,"a4",p"q"r,,,2024-05-06T07:08:09,F,2001,Beijing,z'
)


def _view(spark, staged: SparkStaged) -> pd.DataFrame:
    return spark.table(staged.view).orderBy("_row").toPandas()


def _nulls(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


@pytest.fixture
def brand(tmp_path: Path) -> Path:
    """accounts as a tricky CSV, orders as Parquet in several row groups (and Spark partitions)."""
    data = tmp_path / "brand"
    data.mkdir()
    (data / "accounts.csv").write_bytes(ACCOUNTS_CSV.encode("utf-8"))
    n = 5_000
    rng = np.random.default_rng(3)
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in rng.permutation(n)],  # file order is not key order
            "channel": rng.choice(["tmall", "jd", None], n),
            "account_id": [f"a{i % 97}" for i in range(n)],
            "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**9, n), unit="s"),
            "amount": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 50, n)),
            "discount": rng.random(n),
            "coupon_used": rng.random(n) < 0.5,
            "category": rng.choice(["shoes", "bags"], n),
            "status": "paid",
            "note": "extra",
        }
    )
    pq.write_table(
        pa.Table.from_pandas(orders, preserve_index=False), data / "orders.parquet", row_group_size=500
    )
    return data


def test_csv_rows_and_row_numbers_as_pandas_reads_them(spark, brand: Path, tmp_path: Path) -> None:
    staged = stage_source(spark, brand, tmp_path / "work")["accounts"]
    expected = pd.read_csv(
        brand / "accounts.csv", dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
    )
    columns = TABLES["accounts"].column_names
    expected = expected.reindex(columns=columns)  # the extra column dropped, `city` all null
    got = _view(spark, staged)
    assert list(got.columns) == [*columns, "_row"]
    assert got["_row"].tolist() == list(range(len(expected))) == list(range(5))
    pd.testing.assert_frame_equal(_nulls(got[columns]), _nulls(expected), check_dtype=False)
    assert staged.rows == 5
    assert set(staged.source_types.values()) == {"string"}
    assert staged.raw.lines is not None
    # the records start on lines 3, 6, 7, 11, 12 (a BOM line before the header, fields spanning lines)
    assert staged.raw.lines(np.arange(5), 5).tolist() == [3, 6, 7, 11, 12]


def test_parquet_native_types_and_file_order(spark, brand: Path, tmp_path: Path) -> None:
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16384")  # several partitions for one file
    try:
        staged = stage_source(spark, brand, tmp_path / "work")["orders"]
        assert spark.table(staged.view).rdd.getNumPartitions() > 1
        got = _view(spark, staged)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    expected = pd.read_parquet(brand / "orders.parquet").reindex(columns=TABLES["orders"].column_names)
    assert got["_row"].tolist() == list(range(len(expected)))
    pd.testing.assert_frame_equal(_nulls(got.drop(columns="_row")), _nulls(expected), check_dtype=False)
    assert staged.rows == len(expected) and staged.files is None
    assert staged.source_types["ordered_at"] == "timestamp_ntz"
    assert staged.source_types["amount"] == "double" and staged.source_types["coupon_used"] == "boolean"
    assert staged.source_types["store_id"] == "string"  # absent: NULL text, as DuckDB stages it
    unstage_table(spark, staged)
    assert not spark.catalog.tableExists(staged.view)


def test_parquet_spark_cannot_read_goes_through_readers(spark, brand: Path, tmp_path: Path) -> None:
    """Zoned timestamps become wall-clock time in their zone; nanosecond ones (pandas' default) load."""
    (brand / "accounts.csv").unlink()
    utc = pd.Series(pd.to_datetime(["2024-01-01 16:30:00", "2024-06-30 23:59:59"]).tz_localize("UTC"))
    accounts = pa.table(
        {
            "channel": ["jd", "jd"],
            "account_id": ["b", "a"],
            "registered_at": pa.array(
                utc.dt.tz_convert("Asia/Shanghai"), pa.timestamp("us", "Asia/Shanghai")
            ),
        }
    )
    pq.write_table(accounts, brand / "accounts.parquet")
    orders = pq.read_table(brand / "orders.parquet")
    at = orders.schema.get_field_index("ordered_at")
    nanos = pc.add(orders["ordered_at"].cast(pa.timestamp("ns")), pa.scalar(123, pa.duration("ns")))
    pq.write_table(orders.set_column(at, "ordered_at", nanos), brand / "orders.parquet")
    staged = stage_source(spark, brand, tmp_path / "work")
    got = _view(spark, staged["accounts"])
    assert got["account_id"].tolist() == ["b", "a"] and got["_row"].tolist() == [0, 1]
    wall_clock = [pd.Timestamp("2024-01-02 00:30:00"), pd.Timestamp("2024-07-01 07:59:59")]
    assert got["registered_at"].tolist() == wall_clock
    ordered_at = _view(spark, staged["orders"])["ordered_at"]
    expected = orders["ordered_at"].to_pandas()
    assert (ordered_at.to_numpy() == expected.to_numpy()).all()  # to the microsecond, nanoseconds cut
    for table in staged.values():
        unstage_table(spark, table)
        assert table.files is not None and not table.files.exists()


def test_a_malformed_csv_is_one_data_file_error(spark, brand: Path, tmp_path: Path) -> None:
    lines = ["channel,account_id,gender"] + [f"jd,a{i},F" for i in range(100_000)] + ["jd,short"]
    (brand / "accounts.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFileError, match=r"accounts\.csv: not a readable CSV file: .*Expected 3 columns, got 2"
    ):
        stage_source(spark, brand, tmp_path / "work")


def test_checked_sql_on_the_views_gives_duckdbs_rejects(spark, dirty_brand: Path, tmp_path: Path) -> None:
    """What the views are for: the contract's SQL, transpiled, rejects the same rows for the same reasons.

    accounts and orders hold every kind of rule (text, int, float, bool, timestamp, keys).
    """
    snapshot = pd.Timestamp("2026-11-15 23:59:59")
    duck = validate(read_source(dirty_brand), snapshot).rejects
    views = stage_source(spark, dirty_brand, tmp_path / "work")
    for name in ("accounts", "orders"):
        staged = views[name]
        sql = to_spark(checked_sql(TABLES[name], snapshot, staged.source_types))
        got = spark.sql(sql).where("reasons IS NOT NULL").orderBy("_row").toPandas()
        expected = duck[duck["table"] == name]
        assert len(expected), f"the dirty brand has rejects in {name}"
        assert (got["_row"] + staged.raw.first_row_number).tolist() == expected["row_number"].tolist()
        assert got["reasons"].tolist() == expected["reasons"].tolist()
        assert got["_key"].tolist() == expected["key"].tolist()
