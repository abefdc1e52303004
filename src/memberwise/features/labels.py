"""The repurchase label: did each member of the feature population buy within the horizon."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from memberwise.features.sql import as_of_date, fetch, population_cte, sql_timestamp
from memberwise.warehouse import SqlWarehouse


def buyers_cte(day: date, horizon_days: int) -> str:
    """CTE `buyers`: the members with a paid order in [cutoff, cutoff + horizon)."""
    start = sql_timestamp(day)
    end = sql_timestamp(day + timedelta(days=int(horizon_days)))
    return f"""buyers AS (
        SELECT DISTINCT member_key FROM member_orders
        WHERE status = 'paid' AND ordered_at >= {start} AND ordered_at < {end}
    )"""


def repurchase_labels(wh: SqlWarehouse, as_of: date | str, horizon_days: int = 90) -> pd.DataFrame:
    """Whether each member of the `build_features` population bought (paid) within the horizon."""
    day = as_of_date(as_of)
    return fetch(
        wh,
        f"""WITH {population_cte(sql_timestamp(day))}, {buyers_cte(day, horizon_days)}
        SELECT p.member_id, DATE '{day.isoformat()}' AS as_of, {int(horizon_days)} AS horizon_days,
               b.member_key IS NOT NULL AS repurchased
        FROM population p LEFT JOIN buyers b ON b.member_key = p.member_key
        ORDER BY p.member_key""",
    )
