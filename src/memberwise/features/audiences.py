"""Audiences (new/returning customer/member) at a cutoff and per week of sales; preferred channels."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from memberwise.data.contract import AUDIENCES
from memberwise.features.members import _known_accounts_cte, _static_cte
from memberwise.features.sql import as_of_date, fetch, population_cte, sql_timestamp
from memberwise.warehouse import SqlWarehouse


def _audience_case(at: str, enrolled_at: str, first_purchase_at: str, new_window_days: int) -> str:
    """Audience at time `at`: member if enrolled by then, else customer; "new" within the window."""
    since = f"{at} - INTERVAL '{int(new_window_days)}' DAY"
    return f"""CASE WHEN {enrolled_at} <= {at}
            THEN CASE WHEN {enrolled_at} > {since} THEN 'new_member' ELSE 'returning_member' END
        WHEN {first_purchase_at} <= {at}
            THEN CASE WHEN {first_purchase_at} > {since} THEN 'new_customer' ELSE 'returning_customer' END
        END"""


def member_audiences(wh: SqlWarehouse, as_of: date | str, new_window_days: int = 90) -> pd.DataFrame:
    """Each member's audience at the cutoff; members with no purchase and no enrollment are prospects."""
    day = as_of_date(as_of)
    cutoff = sql_timestamp(day)
    audience = _audience_case(cutoff, "e.enrolled_at", "f.first_purchase_at", new_window_days)
    return fetch(
        wh,
        f"""WITH {population_cte(cutoff)}, {_known_accounts_cte(cutoff)},
        enrolment AS (
            SELECT k.member_key, min(l.enrolled_at) AS enrolled_at
            FROM known_accounts k JOIN loyalty l ON l.member_card = k.member_card
            WHERE l.enrolled_at < {cutoff} GROUP BY k.member_key
        ),
        first_purchase AS (
            SELECT member_key, min(ordered_at) AS first_purchase_at FROM member_orders
            WHERE status = 'paid' AND ordered_at < {cutoff} GROUP BY member_key
        )
        SELECT p.member_id, coalesce({audience}, 'prospect') AS audience
        FROM population p
        LEFT JOIN enrolment e ON e.member_key = p.member_key
        LEFT JOIN first_purchase f ON f.member_key = p.member_key
        ORDER BY p.member_key""",
    )


def _weekly_audience_sql(start: date | None, end: date | None, new_window_days: int) -> str:
    """Paid orders, each in its buyer's audience at the order time, summed per ISO week."""
    bounds = [f"p.ordered_at >= {sql_timestamp(start)}"] if start else []
    bounds += [f"p.ordered_at < {sql_timestamp(end)}"] if end else []
    where = f"WHERE {' AND '.join(bounds)}" if bounds else ""
    audience = _audience_case("p.ordered_at", "e.enrolled_at", "f.first_purchase_at", new_window_days)
    return f"""WITH paid AS (
            SELECT member_key, ordered_at, amount FROM member_orders WHERE status = 'paid'
        ),
        first_purchase AS (
            SELECT member_key, min(ordered_at) AS first_purchase_at FROM paid GROUP BY member_key
        ),
        enrolment AS (
            SELECT m.member_key, min(l.enrolled_at) AS enrolled_at
            FROM member_map m
            JOIN accounts a ON a.channel = m.channel AND a.account_id = m.account_id
            JOIN loyalty l ON l.member_card = a.member_card
            GROUP BY m.member_key
        ),
        assigned AS (
            SELECT CAST(date_trunc('week', p.ordered_at) AS DATE) AS week, {audience} AS audience,
                   p.member_key, p.amount
            FROM paid p
            JOIN first_purchase f ON f.member_key = p.member_key
            LEFT JOIN enrolment e ON e.member_key = p.member_key
            {where}
        )
        SELECT week, audience, sum(amount) AS revenue, count(*) AS orders,
               count(DISTINCT member_key) AS buyers
        FROM assigned GROUP BY week, audience"""


def _week_of(day: pd.Timestamp) -> pd.Timestamp:
    """Return the Monday starting the ISO week of a time."""
    return (day - pd.Timedelta(days=day.weekday())).normalize()


def audience_sales(
    wh: SqlWarehouse,
    start: date | str | None = None,
    end: date | str | None = None,
    new_window_days: int = 90,
) -> pd.DataFrame:
    """Weekly revenue, orders and buyers per audience on [start, end); every week x audience, zeros filled.

    Weeks run from the week of `start` (else of the first order) to the week before `end` (else of the
    last order), with no gaps, because the forecaster needs a regular series.
    """
    first = as_of_date(start) if start is not None else None
    last = as_of_date(end) if end is not None else None
    sales = fetch(wh, _weekly_audience_sql(first, last, new_window_days))
    lo = _week_of(pd.Timestamp(first)) if first else sales["week"].min()
    hi = _week_of(pd.Timestamp(last) - pd.Timedelta(days=1)) if last else sales["week"].max()
    weeks = pd.date_range(lo, hi, freq="7D") if pd.notna(lo) and pd.notna(hi) else pd.DatetimeIndex([])
    grid = pd.MultiIndex.from_product([weeks.astype("datetime64[ns]"), AUDIENCES], names=["week", "audience"])
    full = sales.set_index(["week", "audience"]).reindex(grid, fill_value=0).reset_index()
    return full.astype(
        {
            "week": "datetime64[ns]",
            "audience": "string",
            "revenue": "float64",
            "orders": "int64",
            "buyers": "int64",
        }
    )


def preferred_channels(wh: SqlWarehouse, as_of: date | str) -> pd.DataFrame:
    """Each member's preferred channel at the cutoff: where they spend and engage most.

    Over the 365 days before the cutoff, each channel scores its share of the member's paid spend
    plus its share of their interactions; the highest wins (ties: channel name). Members with neither
    fall back to their registration channel. Orders and interactions carry the channel they came from.
    """
    day = as_of_date(as_of)
    cutoff = sql_timestamp(day)
    since = sql_timestamp(day - timedelta(days=365))
    return fetch(
        wh,
        f"""WITH {population_cte(cutoff)}, {_known_accounts_cte(cutoff)}, {_static_cte()},
        spend AS (
            SELECT member_key, channel, sum(amount) / sum(sum(amount)) OVER (PARTITION BY member_key) AS share
            FROM member_orders
            WHERE status = 'paid' AND ordered_at >= {since} AND ordered_at < {cutoff}
            GROUP BY member_key, channel HAVING sum(amount) > 0
        ),
        engagement AS (
            SELECT member_key, channel, count(*) / sum(count(*)) OVER (PARTITION BY member_key) AS share
            FROM member_interactions
            WHERE occurred_at >= {since} AND occurred_at < {cutoff}
            GROUP BY member_key, channel
        ),
        combined AS (
            SELECT member_key, channel, sum(share) AS weight
            FROM (SELECT * FROM spend UNION ALL SELECT * FROM engagement) AS shares
            GROUP BY member_key, channel
        ),
        best AS (
            SELECT member_key, arg_max(channel, (weight, channel)) AS channel
            FROM combined GROUP BY member_key
        )
        SELECT p.member_id, coalesce(b.channel, s.registration_channel) AS preferred_channel
        FROM population p
        LEFT JOIN best b ON b.member_key = p.member_key
        LEFT JOIN static s ON s.member_key = p.member_key
        ORDER BY p.member_key""",
    )
