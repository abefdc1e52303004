"""Data Spark reads where it is: a storage URI (a `file://` directory of Parquet part files stands in for
object storage) and a catalog database (a metastore's tables) stage the same rows, `_row` numbers and
rejects as the same data in a local directory; a source that is not there is one DataFileError line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memberwise.data.contract import TABLES
from memberwise.data.readers import read_source
from memberwise.data.validation_sql import checked_sql
from memberwise.engine.dialect import to_spark
from memberwise.engine.spark_loading import SparkStaged, stage_source, stage_table, unstage_table
from memberwise.engine.spark_sources import is_spark_source
from memberwise.errors import DataFileError

pytestmark = pytest.mark.spark

SNAPSHOT = pd.Timestamp("2026-11-15 23:59:59")
PART_SHARES = (0.05, 0.6, 0.35)  # uneven: Spark splits big files first, `_row` must follow file names
DATABASE = "memberwise_test_brand"
REQUIRED = [name for name, table in TABLES.items() if table.required]  # accounts, orders


def _rows(spark, staged: SparkStaged) -> pd.DataFrame:
    return spark.table(staged.view).orderBy("_row").toPandas()


@dataclass(frozen=True)
class Expected:
    rows: pd.DataFrame  # the staged view, by `_row`
    verdicts: pd.DataFrame  # checked_sql's rejects: `_row`, reasons, key


def _verdicts(spark, staged: SparkStaged) -> pd.DataFrame:
    sql = to_spark(checked_sql(TABLES[staged.view.removeprefix("raw_")], SNAPSHOT, staged.source_types))
    return (
        spark.sql(sql)
        .where("reasons IS NOT NULL")
        .select("_row", "reasons", "_key")
        .orderBy("_row")
        .toPandas()
    )


@pytest.fixture(scope="module")
def local(spark, dirty_brand: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Expected]:
    """The required tables of the dirty brand (every kind of rule) as the local source stages them."""
    raw, work = read_source(dirty_brand), tmp_path_factory.mktemp("local-work")
    expected = {}
    for name in REQUIRED:
        staged = stage_table(spark, raw[name], TABLES[name], work)
        expected[name] = Expected(_rows(spark, staged), _verdicts(spark, staged))
        unstage_table(spark, staged)
    return expected


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(
        frame, pa.schema([(c, pa.string()) for c in frame.columns]), preserve_index=False
    )


@pytest.fixture(scope="module")
def storage(local: dict[str, Expected], tmp_path_factory: pytest.TempPathFactory) -> str:
    """`file://…/<table>.parquet/part-0000i.parquet`, as a job writing to object storage leaves them."""
    root = tmp_path_factory.mktemp("bucket") / "exports"
    for name, frame in _exported(local).items():
        folder = root / f"{name}.parquet"
        folder.mkdir(parents=True)
        start = 0
        for i, share in enumerate(PART_SHARES):
            stop = len(frame) if i == len(PART_SHARES) - 1 else start + round(share * len(frame))
            pq.write_table(_arrow(frame.iloc[start:stop]), folder / f"part-{i:05d}.parquet")
            start = stop
        (folder / "_SUCCESS").touch()
    return root.as_uri() + "/"


@pytest.fixture(scope="module")
def catalog(spark, local: dict[str, Expected], tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A catalog database whose tables hold the brand (small row groups: several splits per file)."""
    location = tmp_path_factory.mktemp("metastore") / f"{DATABASE}.db"
    spark.sql(f"CREATE DATABASE {DATABASE} LOCATION '{location.as_uri()}'")
    for name, frame in _exported(local).items():
        data = spark.createDataFrame(frame.astype(object).where(frame.notna(), None), _ddl(frame))
        data.coalesce(1).write.option("parquet.block.size", 8192).saveAsTable(f"{DATABASE}.{name}")
    yield f"catalog:{DATABASE}"
    spark.sql(f"DROP DATABASE {DATABASE} CASCADE")


def _exported(local: dict[str, Expected]) -> dict[str, pd.DataFrame]:
    """The staged tables as text columns in file order: what a brand would export to storage."""
    return {name: one.rows.drop(columns="_row") for name, one in local.items()}


def _ddl(frame: pd.DataFrame) -> str:
    return ", ".join(f"`{c}` string" for c in frame.columns)


def test_uri_and_catalog_stage_the_local_rows_and_verdicts(
    spark, dirty_brand: Path, local: dict[str, Expected], storage: str, catalog: str, tmp_path: Path
) -> None:
    assert is_spark_source(storage) and is_spark_source(catalog) and not is_spark_source(dirty_brand)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16384")  # several scan partitions per file
    try:
        for source in (storage, catalog):
            staged = stage_source(spark, source, tmp_path / "remote")
            assert set(staged) == set(REQUIRED)
            for name, one in staged.items():
                expected = local[name]
                assert one.rows == len(expected.rows) and one.files is None, (source, name)
                got = _rows(spark, one)
                assert got["_row"].tolist() == list(range(len(expected.rows)))
                pd.testing.assert_frame_equal(got, expected.rows, check_dtype=False)
                pd.testing.assert_frame_equal(_verdicts(spark, one), expected.verdicts, check_dtype=False)
                unstage_table(spark, one)
        assert spark.read.table(f"{DATABASE}.orders").rdd.getNumPartitions() > 1
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert all(len(one.verdicts) for one in local.values()), "the dirty brand has rejects in each"


def test_missing_or_unreachable_sources_are_one_line(
    spark, storage: str, catalog: str, tmp_path: Path
) -> None:
    root = Path(storage.removeprefix("file://"))
    cases = {
        "s3a://no-such-bucket/exports": r"s3a://no-such-bucket/exports: cannot be reached: .*s3a",
        (tmp_path / "nowhere").as_uri(): r"nowhere: no such directory",
        "catalog:no_such_db": r"catalog:no_such_db: no such database",
    }
    for source, message in cases.items():
        with pytest.raises(DataFileError, match=message):
            stage_source(spark, source, tmp_path / "work")
    # a required table missing, then a required column missing, then an integer timestamp
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    shutil.rmtree(copy / "orders.parquet")
    with pytest.raises(
        DataFileError, match=r"required table 'orders' is missing \(expected .*/orders\.parquet\)"
    ):
        stage_source(spark, copy.as_uri(), tmp_path / "work")
    (copy / "orders.csv").write_text("order_id\n")
    with pytest.raises(DataFileError, match=r"orders\.csv: Spark reads Parquet from storage, not CSV"):
        stage_source(spark, copy.as_uri(), tmp_path / "work")
    (copy / "orders.csv").unlink()
    shutil.copytree(root / "orders.parquet", copy / "orders.parquet")
    accounts = pq.read_table(root / "accounts.parquet")
    shutil.rmtree(copy / "accounts.parquet")
    pq.write_table(accounts.drop(["account_id"]), copy / "accounts.parquet")  # one file, not a folder
    with pytest.raises(DataFileError, match=r"accounts\.parquet: required column\(s\) missing: account_id"):
        stage_source(spark, copy.as_uri(), tmp_path / "work")
    at = accounts.schema.get_field_index("registered_at")
    seconds = pa.array(range(accounts.num_rows), pa.int64())
    pq.write_table(accounts.set_column(at, "registered_at", seconds), copy / "accounts.parquet")
    with pytest.raises(DataFileError, match=r"column 'registered_at' is bigint, not a timestamp"):
        stage_source(spark, copy.as_uri(), tmp_path / "work")
    spark.sql(f"DROP TABLE {DATABASE}.orders")  # the last use of the catalog in this module
    with pytest.raises(DataFileError, match=rf"{catalog}: required table 'orders' is missing"):
        stage_source(spark, catalog, tmp_path / "work")
