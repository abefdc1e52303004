"""Our SQL, written once in DuckDB's dialect, as Spark SQL: SQLGlot plus the fixes its output needs.

The feature and identity SQL keeps to a portable subset, so that only a few traps need handling here:

- `date_diff('day', a, b)`: DuckDB counts day boundaries, Spark's `DATEDIFF(DAY, a, b)` whole 24-hour
  units; emitted as `datediff(CAST(b AS DATE), CAST(a AS DATE))`, which counts boundaries. Other units
  are refused (write day numbers instead).
- `dayofweek` (DuckDB: Sunday 0) and `isodow` (Monday 1 .. Sunday 7) against Spark's Sunday 1 .. 7;
  SQLGlot's `isodow` translation gives Sunday 2.
- `percentile_cont(q) WITHIN GROUP (ORDER BY x)` and `quantile_cont(x, q)`: SQLGlot emits Spark's
  *approximate* percentile; emitted as the exact `percentile(x, q)` (same linear interpolation).
- `arg_max`/`arg_min` skip rows whose value is NULL on DuckDB, Spark's `max_by`/`min_by` do not: our
  SQL says `FILTER (WHERE x IS NOT NULL)` where the value can be NULL (not checked here).
- Division by zero is `inf` on DuckDB and an error on Spark (ANSI mode, kept on so that bad casts and
  overflows fail loudly on both): every denominator that can be zero is wrapped in NULLIF.
- Refused, because they do not carry over: `list_*`/`list()` functions, ordered `string_agg`, and
  `strftime` week numbers (`%W`, `%U`, `%V`, `%u`, `%w`, `%j`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp


class UnportableSql(ValueError):
    """A construct that would not mean the same on Spark; the message says what to write instead."""


_LIST_FUNCTION = re.compile(r"\blist(_\w+)?\s*\(", re.IGNORECASE)
_WEEK_FORMATS = re.compile(r"%[WUVuwj]")


@lru_cache(maxsize=1024)
def to_spark(sql: str) -> str:
    """Spark SQL for one DuckDB statement of the portable subset; raises UnportableSql otherwise."""
    if _LIST_FUNCTION.search(sql):
        raise UnportableSql("list functions do not carry over to Spark: aggregate rows instead of lists")
    return spark_tree(sql).sql(dialect="spark")


def spark_tree(sql: str) -> exp.Expression:
    """The statement's syntax tree with the Spark fixes applied (generate it with dialect="spark")."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return tree.transform(_fix)


def _fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DateDiff):
        return _day_diff(node)
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        ordered = node.expression.expressions[0]
        return _percentile(ordered.this, node.this.this, descending=bool(ordered.args.get("desc")))
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return _percentile(node.this, node.expression, descending=False)
    if isinstance(node, exp.DayOfWeekIso):
        return exp.Paren(this=exp.Add(this=exp.func("weekday", node.this), expression=exp.Literal.number(1)))
    if isinstance(node, exp.DayOfWeek):
        return exp.Paren(
            this=exp.Sub(this=exp.func("dayofweek", node.this), expression=exp.Literal.number(1))
        )
    if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order):
        raise UnportableSql("ordered string_agg does not carry over to Spark: aggregate, then format")
    if isinstance(node, exp.TimeToStr) and _WEEK_FORMATS.search(node.text("format")):
        raise UnportableSql("strftime week numbers differ on Spark: compute them from integer day numbers")
    return node


def _day_diff(node: exp.DateDiff) -> exp.Expression:
    unit = node.text("unit").lower() or "day"
    if unit != "day":
        raise UnportableSql(f"date_diff('{unit}', ...) counts differently on Spark: use day numbers")
    as_date = [exp.cast(e, exp.DataType.build("DATE")) for e in (node.this, node.expression)]
    return exp.Anonymous(this="datediff", expressions=as_date)


def _percentile(column: exp.Expression, quantile: exp.Expression, descending: bool) -> exp.Expression:
    if descending:
        quantile = exp.Sub(this=exp.Literal.number(1), expression=quantile)
    return exp.Anonymous(this="percentile", expressions=[column, quantile])
