"""The DuckDB-to-Spark translation: each known trap, measured on both engines and fixed or refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from memberwise.engine.dialect import UnportableSql, to_spark
from memberwise.features import feature_sql
from memberwise.warehouse import new_warehouse

# One query per trap over literal data, with the value DuckDB gives (our SQL's meaning).
TRAPS = {
    "day boundaries, not 24-hour units": (
        "SELECT date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00')",
        1,
    ),
    "Sunday is 0": ("SELECT dayofweek(DATE '2026-11-29')", 0),
    "ISO Sunday is 7": ("SELECT isodow(DATE '2026-11-29')", 7),
    "ISO Monday is 1": ("SELECT isodow(DATE '2026-11-30')", 1),
    "exact percentile": (
        "SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2), (3), (4), (10)) t(x)",
        5.2,
    ),
    "exact quantile": ("SELECT quantile_cont(x, 0.5) FROM (VALUES (1), (2), (10), (11)) t(x)", 6.0),
    "latest non-null value": (
        "SELECT arg_max(v, k) FILTER (WHERE v IS NOT NULL) FROM (VALUES ('a', 1), (NULL, 2)) t(v, k)",
        "a",
    ),
    "guarded division": ("SELECT CAST(1 AS DOUBLE) / NULLIF(0, 0)", None),
    "week starts on Monday": (
        "SELECT CAST(date_trunc('week', TIMESTAMP '2026-11-29 12:00:00') AS DATE)",
        None,
    ),
}


def test_duckdb_gives_the_meaning_we_write() -> None:
    wh = new_warehouse()
    for name, (sql, expected) in TRAPS.items():
        if expected is not None:
            assert wh.scalar(sql) == pytest.approx(expected), name


def test_plain_sqlglot_falls_into_the_traps() -> None:
    """Why the fixes exist: SQLGlot alone emits whole-unit days, an approximate percentile, Sunday=2."""
    plain = {
        name: sqlglot.transpile(sql, read="duckdb", write="spark")[0] for name, (sql, _) in TRAPS.items()
    }
    assert "DATEDIFF(DAY," in plain["day boundaries, not 24-hour units"]
    assert "PERCENTILE_APPROX" in plain["exact percentile"]
    assert "(DAYOFWEEK(" in plain["ISO Sunday is 7"] and "% 7) + 1" in plain["ISO Sunday is 7"]
    fixed = to_spark(TRAPS["exact percentile"][0])
    assert "PERCENTILE(x, 0.8)" in fixed and "APPROX" not in fixed
    assert "DATEDIFF(CAST(" in to_spark(TRAPS["day boundaries, not 24-hour units"][0])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT list(x) FROM t",
        "SELECT list_sort(x) FROM t",
        "SELECT string_agg(x, ',' ORDER BY x) FROM t",
        "SELECT strftime(d, '%W') FROM t",
        "SELECT date_diff('month', a, b) FROM t",
    ],
)
def test_constructs_without_a_spark_meaning_are_refused(sql: str) -> None:
    with pytest.raises(UnportableSql):
        to_spark(sql)


@pytest.mark.parametrize("has_loyalty", [True, False])
@pytest.mark.parametrize("has_interactions", [True, False])
def test_the_feature_sql_translates(has_loyalty: bool, has_interactions: bool) -> None:
    spark_sql = to_spark(feature_sql("2026-03-01", 90, has_loyalty, has_interactions))
    assert "PERCENTILE(" in spark_sql and "PERCENTILE_APPROX" not in spark_sql
    assert "DATEDIFF(DAY" not in spark_sql


@pytest.mark.spark
def test_spark_gives_the_same_values(spark, tmp_path: Path) -> None:
    from memberwise.engine.spark import new_spark_warehouse

    duck, on_spark = new_warehouse(), new_spark_warehouse("local[2]", tmp_path)
    for name, (sql, _) in TRAPS.items():
        assert on_spark.scalar(sql) == pytest.approx(duck.scalar(sql)), name
    with pytest.raises(Exception, match="DIVIDE_BY_ZERO"):  # ANSI mode: unguarded division fails loudly
        on_spark.scalar("SELECT 1 / 0")
