"""SQL building blocks every feature query shares: the cutoff, day counts, the population, fetching."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from memberwise.warehouse import SqlWarehouse, typed_frame


def as_of_date(as_of: date | datetime | str) -> date:
    """Return the cutoff date; a time of day other than midnight is refused, not silently dropped."""
    stamp = pd.Timestamp(as_of)
    if stamp != stamp.normalize():
        raise ValueError(f"as_of must be a date (the cutoff is as_of 00:00), got {as_of!r}")
    return stamp.date()


def sql_timestamp(day: date) -> str:
    """The SQL timestamp of a day's 00:00 (the cutoff of `as_of`)."""
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def days_ago_sql(column: str, as_of: date) -> str:
    """Calendar days from an event's date to as_of: the day before the cutoff is 1 day ago.

    Both sides are dates, so DuckDB's boundary count and Spark's whole days agree (engine.dialect).
    """
    return f"date_diff('day', CAST({column} AS DATE), DATE '{as_of.isoformat()}')"


def population_cte(cutoff: str) -> str:
    """Members known before the cutoff (first_seen_at is null only when nothing is known).

    Sort results by `member_key`: the same order as `member_id`, on integers.
    """
    return f"""population AS (
        SELECT member_key, member_id, first_seen_at FROM members WHERE first_seen_at < {cutoff}
    )"""


def share_sql(numerator: str, denominator: str) -> str:
    """A ratio in SQL, null (not an error) when the denominator is zero."""
    return f"CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0)"


def fetch(wh: SqlWarehouse, sql: str) -> pd.DataFrame:
    """Run a query through Arrow (fast); dtypes follow the SQL types, not the data or the engine."""
    return typed_frame(wh.arrow(sql))
