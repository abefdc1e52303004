"""The data contract: the six input tables, their columns, enums and row rules.

Brands build their exports against this module, so names here are the public contract
(DESIGN.md "Data contract"). Reading lives in :mod:`memberwise.data.readers`, the row rules as SQL in
:mod:`memberwise.data.validation_sql`, splitting valid rows from rejects in :mod:`memberwise.data.io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

CHANNELS = ("app", "wechat", "tmall", "jd", "douyin", "pos")
TIERS = ("normal", "silver", "gold")
ORDER_STATUSES = ("paid", "refunded")
EVENTS = ("visit", "click", "checkin", "share", "live_view", "add_to_cart", "favorite", "coupon_claim")
GROUPS = ("treatment", "control")
AUDIENCES = ("new_customer", "returning_customer", "new_member", "returning_member")
DELIVERIES = ("paid_media", "private_domain")
PROMOTIONS = ("none", "small_coupon", "deep_discount")
COMMUNICATIONS = ("sms", "wecom", "app_push", "ai_call")
ACTIVITIES = ("repurchase_coupon", "new_product_trial", "member_day", "points_redemption")

ColumnKind = Literal["str", "timestamp", "float", "int", "bool"]


class Reason(StrEnum):
    """Why a row was rejected; a rejected row carries one or more `column:reason` entries."""

    MISSING_KEY = "missing_key"
    MISSING_VALUE = "missing_value"
    DUPLICATE_KEY = "duplicate_key"
    NEGATIVE_VALUE = "negative_value"
    UNKNOWN_VALUE = "unknown_value"
    UNPARSEABLE = "unparseable"
    TIMEZONE_OFFSET = "timezone_offset"
    OUT_OF_RANGE = "out_of_range"
    AFTER_SNAPSHOT = "after_snapshot"


@dataclass(frozen=True)
class Column:
    """One contract column: its type, whether it may be null, and its allowed values."""

    name: str
    kind: ColumnKind = "str"
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    non_negative: bool = False
    event_time: bool = False  # must not be later than the data snapshot


@dataclass(frozen=True)
class Table:
    """One contract table: columns, key, and whether a brand must provide it."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = False
    account_keyed: bool = field(default=False)  # rows reference (channel, account_id)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.nullable]


def _channel() -> Column:
    return Column("channel", allowed=CHANNELS)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "accounts",
            required=True,
            key=("channel", "account_id"),
            columns=(
                _channel(),
                Column("account_id"),
                Column("phone_hash", nullable=True),
                Column("unionid", nullable=True),
                Column("member_card", nullable=True),
                Column("registered_at", "timestamp", nullable=True, event_time=True),
                Column("gender", nullable=True),
                Column("birth_year", "int", nullable=True),
                Column("province", nullable=True),
                Column("city", nullable=True),
            ),
        ),
        Table(
            "loyalty",
            key=("member_card",),
            columns=(
                Column("member_card"),
                Column("enrolled_at", "timestamp", event_time=True),
                Column("tier", allowed=TIERS),
                Column("points_balance", "float", non_negative=True),
            ),
        ),
        Table(
            "orders",
            required=True,
            key=("order_id",),
            account_keyed=True,
            columns=(
                Column("order_id"),
                _channel(),
                Column("account_id"),
                Column("ordered_at", "timestamp", event_time=True),
                Column("amount", "float", non_negative=True),
                Column("discount", "float", non_negative=True),
                Column("coupon_used", "bool"),
                Column("category"),
                Column("store_id", nullable=True),
                Column("is_gift", "bool", nullable=True),
                Column("status", allowed=ORDER_STATUSES),
            ),
        ),
        Table(
            "interactions",
            account_keyed=True,
            columns=(
                _channel(),
                Column("account_id"),
                Column("occurred_at", "timestamp", event_time=True),
                Column("event", allowed=EVENTS),
            ),
        ),
        Table(
            "campaign_touches",
            key=("campaign_id", "channel", "account_id"),
            account_keyed=True,
            columns=(
                Column("campaign_id"),
                _channel(),
                Column("account_id"),
                Column("touched_at", "timestamp", event_time=True),
                Column("audience", allowed=AUDIENCES),
                Column("delivery", allowed=DELIVERIES),
                Column("promotion", allowed=PROMOTIONS),
                Column("communication", allowed=COMMUNICATIONS),
                Column("activity", allowed=ACTIVITIES),
                Column("group", allowed=GROUPS),
                Column("cost", "float", non_negative=True),
            ),
        ),
        Table(
            "kpi_targets",
            key=("period_start", "period_end", "audience"),
            columns=(
                Column("period_start", "timestamp"),
                Column("period_end", "timestamp"),
                Column("target_revenue", "float", non_negative=True),
                Column("audience", nullable=True, allowed=AUDIENCES),
            ),
        ),
    )
}

_PANDAS_DTYPES: dict[ColumnKind, str] = {
    "str": "string",
    "timestamp": "datetime64[ns]",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
}


def pandas_dtype(column: Column) -> str:
    """The pandas dtype of a contract column (nullable dtypes, so nulls survive): empty tables use it."""
    return _PANDAS_DTYPES[column.kind]
