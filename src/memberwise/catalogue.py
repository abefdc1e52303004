"""The member feature catalogue: every column of the feature table with its JSON type and meaning.

One source for the feature columns: `features.py` selects them in this order, the service's
`FeatureRecord` is generated from them (so the OpenAPI page documents each one), and the table in
`docs/features.md` is `markdown_table()` (a test keeps the two identical). No SQL here, so the service
can import it without the feature queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from memberwise.data.contract import CHANNELS

WINDOWS = (30, 90, 180, 365)  # day windows of the windowed counts and sums

FeatureKind = Literal["text", "flag", "date", "number"]


@dataclass(frozen=True)
class Feature:
    """One column of the member feature table."""

    name: str
    kind: FeatureKind  # its JSON type: dates are ISO text, flags booleans
    description: str


def _text(name: str, description: str) -> Feature:
    return Feature(name, "text", description)


def _number(name: str, description: str) -> Feature:
    return Feature(name, "number", description)


CATALOGUE: tuple[Feature, ...] = (
    _text("member_id", "Unified member id (from identity.unify)."),
    Feature("as_of", "date", "The cutoff date; only rows strictly before as_of 00:00 are read."),
    _text("gender", "Latest non-null gender over the member's accounts known at the cutoff."),
    _number("birth_year", "Latest non-null birth year over the member's accounts known at the cutoff."),
    _number("age", "as_of year minus birth_year."),
    _text("province", "Latest non-null province over the member's accounts known at the cutoff."),
    _text("city", "Latest non-null city over the member's accounts known at the cutoff."),
    _text("registration_channel", "Channel of the member's earliest registered account known at the cutoff."),
    _number("tenure_days", "Days from first seen (registration, order or interaction) to the cutoff."),
    Feature(
        "is_member",
        "flag",
        "Holds a loyalty card enrolled before the cutoff; null when loyalty data is absent.",
    ),
    _text(
        "tier", "Tier of the latest-enrolled card (snapshot value, no tier history); null if not a member."
    ),
    _number("points_balance", "Points of the latest-enrolled card (snapshot value); null if not a member."),
    Feature("has_purchased", "flag", "Has at least one paid order before the cutoff."),
    Feature("first_purchase_at", "date", "Time of the first paid order; null if never bought."),
    _number(
        "days_since_first_purchase", "Days from the first paid order's date to the cutoff; null if none."
    ),
    _number(
        "days_since_last_purchase",
        "Recency: days from the last paid order's date to the cutoff; null if none.",
    ),
    *(
        feature
        for w in WINDOWS
        for feature in (
            _number(f"orders_{w}d", f"Paid orders in the {w} days before the cutoff."),
            _number(f"revenue_{w}d", f"Paid amount (after discount) in the {w} days before the cutoff."),
        )
    ),
    _number("orders_total", "Paid orders before the cutoff (lifetime)."),
    _number("revenue_total", "Paid amount before the cutoff (lifetime)."),
    _number("avg_order_value", "revenue_total / orders_total; null if never bought."),
    _number("category_count_365d", "Distinct categories among paid orders in 365 days."),
    *(
        _number(
            f"spend_share_{ch}_365d",
            f"Share of 365-day paid amount spent in channel {ch}; null without spend.",
        )
        for ch in CHANNELS
    ),
    _number(
        "coupon_order_share_365d", "Share of 365-day paid orders that used a coupon; null without orders."
    ),
    _number(
        "promo_order_share_365d",
        "Share of 365-day paid orders with a coupon or discount; null without orders.",
    ),
    _number("discount_rate_365d", "365-day discount / (amount + discount); null when that total is zero."),
    _number("gift_order_share_365d", "Share of 365-day paid orders marked as gifts; null without orders."),
    _number("refunded_orders_365d", "Refunded orders in 365 days (refunds count nowhere else)."),
    *(
        _number(
            f"interactions_{w}d",
            f"Interactions in the {w} days before the cutoff; null if no interaction data.",
        )
        for w in WINDOWS
    ),
    _number("checkins_30d", "Check-ins in the 30 days before the cutoff; null if no interaction data."),
    _number(
        "days_since_last_interaction", "Days from the last interaction's date to the cutoff; null if none."
    ),
    _text(
        "lifecycle_stage", "prospect, or by recency: active 0-63, silent 64-126, sleeping 127-365, lost >365."
    ),
    _text(
        "customer_type",
        "prospect, new (first purchase in new_window_days), loyal (4+ orders_365d), returning.",
    ),
    _text(
        "activity_level", "active, moderate or inactive from 30/180-day interactions, check-ins and orders."
    ),
    _text(
        "promotion_sensitivity",
        "fanatic/sensitive/neutral/indifferent by promo_order_share_365d; null without.",
    ),
    _number("r_score", "Recency score 1-5 among buyers (more recent = higher); null if never bought."),
    _number("f_score", "Frequency score 1-5 among buyers on orders_365d; null if never bought."),
    _number("m_score", "Monetary score 1-5 among buyers on revenue_365d; null if never bought."),
    _text("rfm_segment", "One of 8 RFM segments (each letter high if above the buyers' mean score)."),
    _text(
        "frequency_value_quadrant",
        "high/low frequency x high/low value among 365-day buyers; null otherwise.",
    ),
)

FEATURE_COLUMNS: dict[str, str] = {f.name: f.description for f in CATALOGUE}
_KINDS: dict[str, FeatureKind] = {f.name: f.kind for f in CATALOGUE}


def feature_kind(column: str) -> FeatureKind:
    """'text', 'flag', 'date' or 'number': the JSON type of a feature column.

    Columns outside the catalogue are model-derived inputs (BG/NBD features), all numbers.
    """
    return _KINDS.get(column, "number")


def markdown_table() -> str:
    """The catalogue as the Markdown table docs/features.md carries."""
    rows = [f"| `{f.name}` | {f.kind} | {f.description} |" for f in CATALOGUE]
    return "\n".join(["| column | type | meaning |", "|---|---|---|", *rows])
