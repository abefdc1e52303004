"""Data Spark reads where it is: a storage URI (a `file://` directory of Parquet part files stands in for
object storage) and a catalog database (a metastore's tables) stage the same rows, `_row` numbers and
rejects as the same data in a local directory; a source that is not there is one DataFileError line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memberwise.data.contract import TABLES
from memberwise.data.validation_sql import checked_sql
from memberwise.engine.dialect import to_spark
from memberwise.engine.spark_loading import SparkStaged, stage_source, unstage_table
from memberwise.engine.spark_sources import is_spark_source
from memberwise.errors import DataFileError

pytestmark = pytest.mark.spark

SNAPSHOT = pd.Timestamp("2026-11-15 23:59:59")
PART_SHARES = (0.05, 0.6, 0.35)  # uneven: Spark splits big files first, `_row` must follow file names
DATABASE = "memberwise_test_brand"


def _rows(spark, staged: SparkStaged) -> pd.DataFrame:
    return spark.table(staged.view).orderBy("_row").toPandas()


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
def exported(spark, dirty_brand: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The dirty brand's tables as the local engine stages them (text, in file order, `_row` dropped)."""
    work = tmp_path_factory.mktemp("local-work")
    staged = stage_source(spark, dirty_brand, work)
    tables = {name: _rows(spark, one).drop(columns="_row") for name, one in staged.items()}
    for one in staged.values():
        unstage_table(spark, one)
    return tables


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(
        frame, pa.schema([(c, pa.string()) for c in frame.columns]), preserve_index=False
    )


@pytest.fixture(scope="module")
def storage(exported: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> str:
    """`file://…/<table>.parquet/part-0000i.parquet`, as a job writing to object storage leaves them."""
    root = tmp_path_factory.mktemp("bucket") / "exports"
    for name, frame in exported.items():
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
def catalog(spark, exported: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A catalog database whose tables hold the brand (small row groups: several splits per file)."""
    location = tmp_path_factory.mktemp("metastore") / f"{DATABASE}.db"
    spark.sql(f"CREATE DATABASE {DATABASE} LOCATION '{location.as_uri()}'")
    for name, frame in exported.items():
        data = spark.createDataFrame(frame.astype(object).where(frame.notna(), None), _ddl(frame))
        data.coalesce(1).write.option("parquet.block.size", 8192).saveAsTable(f"{DATABASE}.{name}")
    yield f"catalog:{DATABASE}"
    spark.sql(f"DROP DATABASE {DATABASE} CASCADE")


def _ddl(frame: pd.DataFrame) -> str:
    return ", ".join(f"`{c}` string" for c in frame.columns)


def test_uri_and_catalog_stage_the_local_rows_and_verdicts(
    spark, dirty_brand: Path, storage: str, catalog: str, tmp_path: Path
) -> None:
    assert is_spark_source(storage) and is_spark_source(catalog) and not is_spark_source(dirty_brand)
    local = stage_source(spark, dirty_brand, tmp_path / "local")
    expected = {name: (_rows(spark, one), _verdicts(spark, one)) for name, one in local.items()}
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16384")  # several scan partitions per file
    try:
        for source in (storage, catalog):
            staged = stage_source(spark, source, tmp_path / "remote")
            assert set(staged) == set(expected)
            for name, one in staged.items():
                rows, verdicts = expected[name]
                assert one.rows == len(rows) and one.files is None, (source, name)
                got = _rows(spark, one)
                assert got["_row"].tolist() == list(range(len(rows)))
                pd.testing.assert_frame_equal(got, rows, check_dtype=False)
                pd.testing.assert_frame_equal(_verdicts(spark, one), verdicts, check_dtype=False)
                unstage_table(spark, one)
        assert spark.read.table(f"{DATABASE}.orders").rdd.getNumPartitions() > 1
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert sum(len(v) for _, v in expected.values()), "the dirty brand has rejects"


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
