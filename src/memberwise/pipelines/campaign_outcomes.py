"""Per-touch campaign outcomes: the one SQL both the campaign report and the budget allocator measure from.

One row per (campaign, member): a member touched through several accounts in one campaign counts once
(earliest touch, costs summed), so an order is never counted twice. Outcomes are the member's paid orders
in the response window after the touch. A member found in both groups of one campaign is kept with
`both_groups` set, and every touch carries `window_closed` (its window ended by the cutoff), so callers
decide what to leave out and can count what they left out. See docs/campaigns.md.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from memberwise.warehouse import Warehouse

REPEAT_DAYS = (7, 30)
_CELL_SQL = "audience, delivery, promotion, communication, activity"


def touch_outcomes(wh: Warehouse, window_days: int, as_of: date, details: bool = True) -> pd.DataFrame:
    """One row per (campaign, member): cell, group, cost, flags and outcomes in the window after the touch.

    Always: `converted` (0/1), `orders`, `revenue`, `cost`, `both_groups`, `window_closed`, `touches`
    (the member's touch rows in the campaign). With `details` also: `clicks`, `clicked` (click events in
    the window), `coupon_used` (a converting order used a coupon), `repeat_7d` and `repeat_30d` (another
    paid order within 7 / 30 days after the first converting order; null when not converted or when those
    days run past the cutoff).
    """
    window = f"INTERVAL '{int(window_days)}' DAY"
    cutoff = f"TIMESTAMP '{as_of.isoformat()} 00:00:00'"
    in_window = f"o.ordered_at > t.touched_at AND o.ordered_at <= t.touched_at + {window}"
    extra_aggs, extra_outcome, extra_ctes, extra_cols, extra_joins = "", "", "", "", ""
    if details:
        extra_aggs = (
            ", count(o.ordered_at) FILTER (WHERE o.coupon_used) AS coupon_orders"
            ", min(o.ordered_at) AS first_order_at"
        )
        extra_outcome = ", CAST(coalesce(b.coupon_orders, 0) > 0 AS DOUBLE) AS coupon_used, b.first_order_at"
        repeats = ", ".join(
            f"count(*) FILTER (WHERE p.ordered_at <= r.first_order_at + INTERVAL '{d}' DAY) AS n{d}"
            for d in REPEAT_DAYS
        )
        extra_ctes = f""",
        clicks AS (
            SELECT t.campaign_id, t.member_key, count(*) AS clicks
            FROM t JOIN member_interactions i
              ON i.member_key = t.member_key AND i.event = 'click'
             AND i.occurred_at > t.touched_at AND i.occurred_at <= t.touched_at + {window}
            GROUP BY ALL
        ),
        repeats AS (
            SELECT r.campaign_id, r.member_key, {repeats}
            FROM outcome r JOIN member_orders p
              ON p.member_key = r.member_key AND p.status = 'paid'
             AND p.ordered_at > r.first_order_at
             AND p.ordered_at <= r.first_order_at + INTERVAL '{max(REPEAT_DAYS)}' DAY
            GROUP BY ALL
        )"""
        extra_cols = ", CAST(coalesce(c.clicks, 0) AS DOUBLE) AS clicks"
        extra_cols += ", CAST(coalesce(c.clicks, 0) > 0 AS DOUBLE) AS clicked"
        for d in REPEAT_DAYS:
            extra_cols += (
                f", CASE WHEN r.first_order_at IS NULL OR r.first_order_at + INTERVAL '{d}' DAY > {cutoff}"
                f" THEN NULL ELSE CAST(coalesce(rp.n{d}, 0) > 0 AS DOUBLE) END AS repeat_{d}d"
            )
        extra_joins = """
        LEFT JOIN clicks c ON c.campaign_id = r.campaign_id AND c.member_key = r.member_key
        LEFT JOIN repeats rp ON rp.campaign_id = r.campaign_id AND rp.member_key = r.member_key"""
    # Orders are joined to (campaign, member) keys alone and aggregated there, then joined back: grouping
    # by every text column of a touch cost twice as much at 3.4M touches. Fetched through Arrow (faster).
    return wh.arrow(
        f"""
        WITH touched AS (
            SELECT ct.campaign_id, ct.touched_at, {_CELL_SQL}, ct."group", ct.cost, m.member_key, m.member_id
            FROM campaign_touches ct JOIN member_map m USING (channel, account_id)
        ),
        t AS (
            SELECT * EXCLUDE (cost),
                   sum(cost) OVER w AS cost,
                   count(*) OVER w AS touches,
                   min("group") OVER w <> max("group") OVER w AS both_groups,
                   touched_at + {window} <= {cutoff} AS window_closed
            FROM touched
            WINDOW w AS (PARTITION BY campaign_id, member_key)
            QUALIFY row_number() OVER (PARTITION BY campaign_id, member_key ORDER BY touched_at, "group") = 1
        ),
        bought AS (
            SELECT t.campaign_id, t.member_key, count(o.ordered_at) AS n, sum(o.amount) AS revenue{extra_aggs}
            FROM t JOIN member_orders o
              ON o.member_key = t.member_key AND o.status = 'paid' AND {in_window}
            GROUP BY t.campaign_id, t.member_key
        ),
        outcome AS (
            SELECT t.campaign_id, t.member_key, t.member_id, t.touched_at, {_CELL_SQL}, t."group",
                   t.cost, t.touches, t.both_groups, t.window_closed,
                   CAST(coalesce(b.n, 0) > 0 AS DOUBLE) AS converted,
                   CAST(coalesce(b.n, 0) AS DOUBLE) AS orders,
                   coalesce(b.revenue, 0.0) AS revenue{extra_outcome}
            FROM t LEFT JOIN bought b ON b.campaign_id = t.campaign_id AND b.member_key = t.member_key
        ){extra_ctes}
        SELECT r.* EXCLUDE (member_key{", first_order_at" if details else ""}){extra_cols}
        FROM outcome r{extra_joins}
        ORDER BY r.campaign_id, r.member_id
        """
    ).to_pandas()


def response_frame(wh: Warehouse, window_days: int, as_of: date) -> pd.DataFrame:
    """Touches the budget estimates response from: closed windows, members in one group only."""
    frame = touch_outcomes(wh, window_days, as_of, details=False)
    keep = frame["window_closed"] & ~frame["both_groups"]
    return frame[keep].drop(columns=["window_closed", "both_groups"]).reset_index(drop=True)
