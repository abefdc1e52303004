"""The Spark warehouse behind the engine-neutral API: tables, statements, types, scratch files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memberwise.settings import Settings
from memberwise.warehouse import open_warehouse, typed_frame

pytestmark = pytest.mark.spark


def test_open_warehouse_on_spark_keeps_duckdb_semantics(spark, tmp_path: Path) -> None:
    wh = open_warehouse(Settings(engine="spark", spark_master="local[2]", spark_work_dir=tmp_path))
    assert wh.engine == "spark" and wh.scalar("SELECT count(*) FROM orders") == 0
    wh.put(
        "t", pd.DataFrame({"k": [2, 1], "at": pd.to_datetime(["2026-01-02 03:04:05", "2026-01-01 00:00:00"])})
    )
    wh.execute(
        "CREATE OR REPLACE TABLE u AS SELECT k, at, date_diff('day', at, TIMESTAMP '2026-01-03') AS d FROM t"
    )
    wh.execute("CREATE OR REPLACE TABLE u AS SELECT * FROM u WHERE k > 1")  # replacing a table from itself
    frame = typed_frame(wh.arrow("SELECT * FROM u"))
    assert frame.to_dict("records") == [{"k": 2, "at": pd.Timestamp("2026-01-02 03:04:05"), "d": 1}]
    wh.execute("DROP TABLE IF EXISTS u")
    with pytest.raises(Exception, match="u"):
        wh.scalar("SELECT count(*) FROM u")
    wh.close()  # type: ignore[attr-defined]
    assert not any(tmp_path.iterdir())
