"""Hand-computed feature values on a tiny brand; the cutoff is 2026-03-01 00:00 unless a test says so.

Members (letters used below) and what makes each one interesting:
  A  app:a1 + tmall:a1t linked by phone p1; two loyalty cards; 5 paid orders, 1 refund; interactions.
  B  jd:b1, one order exactly 90 days before the cutoff (new customer), buys again after the cutoff.
  C  pos:c1, enrolled 2026-01-10 (new member), two promo orders in the cutoff week, 3 visits.
  D  wechat:d1 + pos:d2 (no registered_at) by unionid, one order 455 days back (lost), one after.
  E  app:e1, registered, one interaction, never bought (prospect).
  F  douyin:g1 guest (only in orders), one 500 order 212 days back.
  H  app:h1, loyalty card enrolled 2026-02-15, never bought.
  I  tmall:g2 guest, two orders (one with a coupon) and one exactly at the cutoff, 3 clicks.
  G  app:g_late, registered and buying after the cutoff: not in the population.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from memberwise.catalogue import CATALOGUE
from memberwise.data.contract import AUDIENCES, CHANNELS, TABLES
from memberwise.data.io import RawTable, validate
from memberwise.features import (
    FEATURE_COLUMNS,
    WINDOWS,
    audience_sales,
    build_features,
    member_audiences,
    repurchase_labels,
    write_features,
)
from memberwise.identity import unify
from memberwise.warehouse import Warehouse

AS_OF = date(2026, 3, 1)

ACCOUNTS = [
    # channel, account_id, phone_hash, unionid, member_card, registered_at, gender, birth_year, province, city
    ("app", "a1", "p1", None, "c1", "2024-01-10 09:00", "f", 1990, "Zhejiang", "Hangzhou"),
    ("tmall", "a1t", "p1", None, "c4", "2025-06-01", None, None, "Shanghai", "Shanghai"),
    ("jd", "b1", None, None, None, "2025-01-01", "m", 1985, "Beijing", "Beijing"),
    ("pos", "c1", None, None, "c2", "2025-11-01", "f", 2000, None, None),
    ("wechat", "d1", None, "u1", None, "2023-01-01", "m", None, "Jiangsu", None),
    ("pos", "d2", None, "u1", None, None, None, None, "Guangdong", "Shenzhen"),  # no registered_at: oldest
    ("app", "e1", None, None, None, "2025-12-01", None, None, None, None),
    ("app", "h1", None, None, "c3", "2026-01-20", None, None, None, None),
    ("app", "g_late", None, None, None, "2026-03-05", None, None, None, None),
]
LOYALTY = [
    # member_card, enrolled_at, tier, points_balance
    ("c1", "2024-02-01", "gold", 1200.0),
    ("c4", "2025-07-01", "silver", 300.0),
    ("c2", "2026-01-10", "normal", 50.0),
    ("c3", "2026-02-15", "silver", 10.0),
]
ORDERS = [
    # order_id, channel, account_id, ordered_at, amount, discount, coupon_used, category, is_gift, status
    ("o1", "app", "a1", "2026-02-20 10:00", 100.0, 0.0, False, "skincare", False, "paid"),  # 9 days
    ("o2", "tmall", "a1t", "2026-01-15 12:00", 50.0, 10.0, True, "makeup", True, "paid"),  # 45
    ("o3", "app", "a1", "2025-10-01 08:00", 200.0, 0.0, False, "skincare", False, "paid"),  # 151
    ("o4", "tmall", "a1t", "2025-05-01 08:00", 150.0, 0.0, False, "fragrance", None, "paid"),  # 304
    ("o5", "app", "a1", "2024-06-01 00:00", 80.0, 0.0, False, "skincare", False, "paid"),  # 638
    ("o6", "app", "a1", "2026-02-25 10:00", 999.0, 0.0, False, "skincare", False, "refunded"),
    ("ob1", "jd", "b1", "2025-12-01 15:00", 40.0, 0.0, False, "snacks", False, "paid"),  # 90
    ("ob2", "jd", "b1", "2026-03-10 10:00", 40.0, 0.0, False, "snacks", False, "paid"),  # after
    ("oc1", "pos", "c1", "2026-02-24 10:00", 30.0, 3.0, False, "skincare", False, "paid"),  # 5
    ("oc2", "pos", "c1", "2026-02-27 10:00", 30.0, 5.0, True, "skincare", False, "paid"),  # 2
    ("oc3", "pos", "c1", "2026-03-01 00:00", 30.0, 0.0, False, "skincare", False, "refunded"),
    ("od1", "wechat", "d1", "2024-12-01 10:00", 500.0, 0.0, False, "fragrance", False, "paid"),  # 455
    ("od2", "wechat", "d1", "2026-04-15 10:00", 80.0, 0.0, False, "fragrance", False, "paid"),  # after
    ("of1", "douyin", "g1", "2025-08-01 10:00", 500.0, 0.0, False, "makeup", False, "paid"),  # 212
    ("oi1", "tmall", "g2", "2025-11-01 10:00", 70.0, 0.0, True, "snacks", False, "paid"),  # 120
    ("oi2", "tmall", "g2", "2026-01-01 10:00", 70.0, 0.0, False, "snacks", False, "paid"),  # 59
    ("oi3", "tmall", "g2", "2026-03-01 00:00", 10.0, 0.0, False, "snacks", False, "paid"),  # at cutoff
    ("og1", "app", "g_late", "2026-03-10 10:00", 25.0, 0.0, False, "snacks", False, "paid"),
]
INTERACTIONS = [
    # channel, account_id, occurred_at, event
    ("app", "a1", "2026-02-28 10:00", "visit"),  # 1 day
    ("tmall", "a1t", "2026-02-24 10:00", "visit"),  # 5
    ("app", "a1", "2026-02-19 10:00", "click"),  # 10
    ("app", "a1", "2026-02-09 10:00", "checkin"),  # 20
    ("app", "a1", "2025-11-21 10:00", "visit"),  # 100
    ("app", "a1", "2026-03-01 00:00", "checkin"),  # at the cutoff: not read
    ("app", "e1", "2026-02-01 10:00", "visit"),  # 28
    *[("pos", "c1", f"2026-02-{day} 10:00", "visit") for day in (20, 21, 22)],  # C: 3 visits, no check-in
    *[("tmall", "g2", f"2026-02-{day} 10:00", "click") for day in (20, 21, 22)],  # I: 3 clicks, no order
]
# Everything here happens at or after the cutoff; x_late links to member A through phone p1.
LATER = {
    "accounts": [
        ("app", "x_late", "p1", None, "c9", "2026-03-05", "m", 1970, "Sichuan", "Chengdu"),
        ("app", "new2", None, None, None, "2026-03-02", "f", 1999, None, None),
    ],
    "loyalty": [("c9", "2026-03-06", "gold", 9999.0)],
    "orders": [
        ("ox1", "app", "x_late", "2026-03-07 10:00", 1000.0, 0.0, True, "toys", True, "paid"),
        ("on1", "app", "new2", "2026-03-03 10:00", 10.0, 0.0, False, "toys", False, "paid"),
        ("oa9", "app", "a1", "2026-03-01 00:00", 77.0, 7.0, True, "toys", False, "paid"),
        ("oe1", "app", "e1", "2026-03-01 08:00", 12.0, 0.0, False, "toys", False, "refunded"),
    ],
    "interactions": [
        ("app", "new2", "2026-03-04 10:00", "click"),
        ("app", "e1", "2026-03-02 10:00", "checkin"),
        ("tmall", "a1t", "2026-03-01 00:00", "visit"),
    ],
}
KEYS = {
    "A": "app:a1",
    "B": "jd:b1",
    "C": "pos:c1",
    "D": "wechat:d1",
    "E": "app:e1",
    "F": "douyin:g1",
    "H": "app:h1",
    "I": "tmall:g2",
}


def _raw(name: str, rows: list[tuple]) -> RawTable:
    columns = [c for c in TABLES[name].column_names if name != "orders" or c != "store_id"]
    return RawTable.of(pd.DataFrame(rows, columns=columns, dtype=object), name, first_row_number=1)


def make_warehouse(tables: dict[str, list[tuple]]) -> Warehouse:
    data = validate({name: _raw(name, rows) for name, rows in tables.items()}, pd.Timestamp("2026-12-31"))
    assert data.rejects.empty, data.rejects
    wh = data.warehouse
    unify(wh)
    return wh


def base_tables() -> dict[str, list[tuple]]:
    return {"accounts": ACCOUNTS, "loyalty": LOYALTY, "orders": ORDERS, "interactions": INTERACTIONS}


def member_ids(wh: Warehouse) -> dict[str, str]:
    mm = wh.df("SELECT channel || ':' || account_id AS key, member_id FROM member_map")
    by_key = dict(zip(mm["key"], mm["member_id"], strict=True))
    return {letter: by_key[key] for letter, key in KEYS.items()}


@pytest.fixture(scope="module")
def wh() -> Warehouse:
    return make_warehouse(base_tables())


@pytest.fixture(scope="module")
def ids(wh: Warehouse) -> dict[str, str]:
    return member_ids(wh)


@pytest.fixture(scope="module")
def feats(wh: Warehouse, ids: dict[str, str]) -> pd.DataFrame:
    frame = build_features(wh, AS_OF)
    letters = {member: letter for letter, member in ids.items()}
    return frame.set_index(frame["member_id"].map(letters))


def days_to_cutoff(day: str) -> int:
    return (AS_OF - date.fromisoformat(day)).days


def check(feats: pd.DataFrame, column: str, expected: dict[str, object]) -> None:
    """Compare one column for the given members; None means null, floats to 1e-9."""
    for letter, want in expected.items():
        got = feats.at[letter, column]
        if want is None:
            assert pd.isna(got), f"{column}[{letter}] = {got!r}, expected null"
        elif isinstance(want, float):
            assert got == pytest.approx(want, abs=1e-9), f"{column}[{letter}] = {got!r}, expected {want!r}"
        else:
            assert got == want, f"{column}[{letter}] = {got!r}, expected {want!r}"


def test_shape_population_and_columns(feats: pd.DataFrame, ids: dict[str, str]) -> None:
    assert list(feats.columns) == list(FEATURE_COLUMNS)
    assert sorted(feats.index) == sorted(ids)  # G is only known after the cutoff
    assert feats["member_id"].is_monotonic_increasing
    assert (feats["as_of"] == pd.Timestamp(AS_OF)).all()
    assert str(feats["orders_30d"].dtype) == "Int64"
    assert str(feats["is_member"].dtype) == "boolean"


def test_recency_frequency_monetary_windows(feats: pd.DataFrame) -> None:
    check(
        feats, "days_since_last_purchase", {"A": 9, "B": 90, "C": 2, "D": 455, "E": None, "F": 212, "I": 59}
    )
    check(feats, "days_since_first_purchase", {"A": 638, "B": 90, "C": 5, "E": None})
    check(feats, "has_purchased", {"A": True, "E": False, "H": False, "F": True})
    assert feats.at["A", "first_purchase_at"] == pd.Timestamp("2024-06-01")
    # A: 9, 45, 151, 304 and 638 days back (the 999 refund is ignored)
    check(feats, "orders_30d", {"A": 1, "B": 0, "C": 2, "E": 0})
    check(feats, "revenue_30d", {"A": 100.0, "B": 0.0, "C": 60.0, "E": 0.0})
    check(feats, "orders_90d", {"A": 2, "B": 1, "I": 1})
    check(feats, "revenue_90d", {"A": 150.0, "B": 40.0, "I": 70.0})
    check(feats, "orders_180d", {"A": 3, "I": 2, "F": 0})
    check(feats, "revenue_180d", {"A": 350.0, "I": 140.0})
    check(feats, "orders_365d", {"A": 4, "D": 0, "F": 1})
    check(feats, "revenue_365d", {"A": 500.0, "D": 0.0, "F": 500.0})
    check(feats, "orders_total", {"A": 5, "D": 1, "E": 0})
    check(feats, "revenue_total", {"A": 580.0, "D": 500.0, "E": 0.0})
    check(feats, "avg_order_value", {"A": 116.0, "C": 30.0, "E": None})


def test_window_includes_exactly_w_days_back(wh: Warehouse, ids: dict[str, str]) -> None:
    """D's order is on 2024-12-01: 30 days before 2024-12-31 it is in orders_30d, 31 days it is not."""
    at_30 = build_features(wh, "2024-12-31").set_index("member_id").loc[ids["D"]]
    at_31 = build_features(wh, "2025-01-01").set_index("member_id").loc[ids["D"]]
    assert (at_30["orders_30d"], at_31["orders_30d"], at_31["orders_90d"]) == (1, 0, 1)


def test_breadth_channel_shares_and_promotion_usage(feats: pd.DataFrame) -> None:
    check(feats, "category_count_365d", {"A": 3, "C": 1, "D": 0})
    check(feats, "spend_share_app_365d", {"A": 0.6, "C": 0.0, "D": None, "E": None})
    check(feats, "spend_share_tmall_365d", {"A": 0.4, "I": 1.0})
    check(feats, "spend_share_pos_365d", {"C": 1.0, "A": 0.0})
    for channel in CHANNELS:
        assert feats.loc["A", f"spend_share_{channel}_365d"] >= 0
    check(feats, "coupon_order_share_365d", {"A": 0.25, "C": 0.5, "I": 0.5, "D": None})
    check(feats, "promo_order_share_365d", {"A": 0.25, "C": 1.0, "B": 0.0})
    check(feats, "discount_rate_365d", {"A": 10 / 510, "C": 8 / 68, "B": 0.0, "D": None})
    check(feats, "gift_order_share_365d", {"A": 0.25, "C": 0.0, "D": None})


def test_refunds_are_excluded_but_counted(feats: pd.DataFrame) -> None:
    check(feats, "refunded_orders_365d", {"A": 1, "C": 0})  # C's refund is at the cutoff: not read
    check(feats, "revenue_30d", {"A": 100.0})  # not 1099


def test_interactions_per_window(feats: pd.DataFrame) -> None:
    # A: 1, 5, 10, 20 (checkin) and 100 days back; the check-in at the cutoff is not read
    for column, want in {
        "interactions_30d": 4,
        "interactions_90d": 4,
        "interactions_180d": 5,
        "interactions_365d": 5,
        "checkins_30d": 1,
    }.items():
        check(feats, column, {"A": want})
    check(feats, "interactions_30d", {"E": 1, "B": 0})
    check(feats, "checkins_30d", {"E": 0})
    check(feats, "days_since_last_interaction", {"A": 1})


def test_static_profile_and_tenure(feats: pd.DataFrame) -> None:
    check(feats, "gender", {"A": "f", "B": "m", "F": None})
    check(feats, "birth_year", {"A": 1990, "D": None})
    check(feats, "age", {"A": 36, "B": 41, "D": None})
    # A: a1t is the latest account with a province; D: d2 has no registered_at so counts as oldest
    check(feats, "province", {"A": "Shanghai", "C": None, "D": "Jiangsu"})
    check(feats, "city", {"A": "Shanghai", "B": "Beijing", "D": "Shenzhen"})
    check(feats, "registration_channel", {"A": "app", "D": "wechat", "F": "douyin", "I": "tmall"})
    check(
        feats,
        "tenure_days",
        {"A": days_to_cutoff("2024-01-10"), "C": 120, "F": 212, "H": days_to_cutoff("2026-01-20")},
    )


def test_loyalty_membership_tier_and_points(feats: pd.DataFrame) -> None:
    check(feats, "is_member", {"A": True, "C": True, "H": True, "B": False, "F": False})
    check(feats, "tier", {"A": "silver", "C": "normal", "H": "silver", "B": None})  # A: latest card c4
    check(feats, "points_balance", {"A": 300.0, "H": 10.0, "B": None})


def test_card_enrolled_after_cutoff_is_not_membership(wh: Warehouse, ids: dict[str, str]) -> None:
    before = build_features(wh, "2026-02-15").set_index("member_id").loc[ids["H"]]  # enrolled that day
    assert not before["is_member"]
    assert pd.isna(before["tier"])


def test_lifecycle_stage(feats: pd.DataFrame) -> None:
    check(
        feats,
        "lifecycle_stage",
        {"A": "active", "B": "silent", "D": "lost", "E": "prospect", "F": "sleeping", "I": "active"},
    )


@pytest.mark.parametrize(
    ("days", "stage"),
    [(63, "active"), (64, "silent"), (126, "silent"), (127, "sleeping"), (365, "sleeping"), (366, "lost")],
)
def test_lifecycle_stage_boundaries(wh: Warehouse, ids: dict[str, str], days: int, stage: str) -> None:
    as_of = date(2024, 12, 1) + timedelta(days=days)  # D's only order before 2026-04 is 2024-12-01
    row = build_features(wh, as_of).set_index("member_id").loc[ids["D"]]
    assert (row["days_since_last_purchase"], row["lifecycle_stage"]) == (days, stage)


def test_customer_type(feats: pd.DataFrame) -> None:
    check(
        feats,
        "customer_type",
        {"A": "loyal", "B": "new", "C": "new", "D": "returning", "E": "prospect", "I": "returning"},
    )


def test_customer_type_new_window_boundary(wh: Warehouse, ids: dict[str, str]) -> None:
    day_90 = build_features(wh, "2025-03-01").set_index("member_id").loc[ids["D"]]  # 90 days after
    day_91 = build_features(wh, "2025-03-02").set_index("member_id").loc[ids["D"]]
    short = build_features(wh, "2025-03-01", new_window_days=30).set_index("member_id").loc[ids["D"]]
    assert (day_90["customer_type"], day_91["customer_type"], short["customer_type"]) == (
        "new",
        "returning",
        "returning",
    )


def test_activity_level(feats: pd.DataFrame) -> None:
    # 3+ interactions in 30 days plus a check-in (A) or an order (C) is active; without either (I) it is
    # not; B and E did something in 180 days; D, F and H did nothing
    check(feats, "activity_level", {"A": "active", "C": "active", "I": "moderate"})
    check(feats, "activity_level", {"B": "moderate", "E": "moderate"})
    check(feats, "activity_level", {"D": "inactive", "F": "inactive", "H": "inactive"})


def test_promotion_sensitivity(feats: pd.DataFrame) -> None:
    check(
        feats,
        "promotion_sensitivity",
        {"C": "fanatic", "I": "sensitive", "A": "neutral", "B": "indifferent", "D": None, "E": None},
    )


def test_rfm_scores_and_segments(feats: pd.DataFrame) -> None:
    # six buyers; recency D 455 > F 212 > B 90 > I 59 > A 9 > C 2 -> ceil(5k/6) = 1, 2, 3, 4, 5, 5
    check(feats, "r_score", {"D": 1, "F": 2, "B": 3, "I": 4, "A": 5, "C": 5, "E": None})
    # orders_365d D 0, B 1, F 1 (tie), C 2, I 2 (tie), A 4
    check(feats, "f_score", {"D": 1, "B": 3, "F": 3, "C": 5, "I": 5, "A": 5})
    # revenue_365d D 0, B 40, C 60, I 140, A 500 and F 500 (tie)
    check(feats, "m_score", {"D": 1, "B": 2, "C": 3, "I": 4, "A": 5, "F": 5})
    # means 3.33, 3.67, 3.33: high = above the mean
    check(
        feats,
        "rfm_segment",
        {
            "A": "important_value",
            "I": "important_value",
            "C": "general_value",
            "F": "important_retention",
            "B": "general_retention",
            "D": "general_retention",
            "E": None,
        },
    )


def test_rfm_score_equal_to_the_mean_is_low(wh: Warehouse, ids: dict[str, str]) -> None:
    """On 2025-01-01 the buyers are A (1 order, 80, 214 days) and D (1 order, 500, 31 days).

    Scores: r A 3, D 5 (mean 4); f both 5 (a tie, mean 5); m A 3, D 5 (mean 4).
    """
    frame = build_features(wh, "2025-01-01").set_index("member_id")
    rows = frame.loc[[ids["A"], ids["D"]], ["r_score", "f_score", "m_score", "rfm_segment"]]
    assert rows.to_numpy().tolist() == [
        [3, 5, 3, "general_retention"],
        [5, 5, 5, "important_development"],
    ]


def test_frequency_value_quadrant(feats: pd.DataFrame) -> None:
    # 365-day revenue 40, 60, 140, 500, 500 -> 80th percentile 500: A and F are high value ("at or above")
    check(
        feats,
        "frequency_value_quadrant",
        {
            "A": "high_freq_high_value",
            "F": "low_freq_high_value",
            "C": "high_freq_low_value",
            "I": "high_freq_low_value",
            "B": "low_freq_low_value",
            "D": None,
            "E": None,
        },
    )


def test_absent_interactions_and_loyalty_give_nulls(ids: dict[str, str]) -> None:
    wh = make_warehouse({"accounts": ACCOUNTS, "orders": ORDERS})
    frame = build_features(wh, AS_OF).set_index("member_id")
    for column in [f"interactions_{w}d" for w in WINDOWS] + [
        "checkins_30d",
        "days_since_last_interaction",
        "is_member",
        "tier",
        "points_balance",
    ]:
        assert frame[column].isna().all(), column
    activity = frame["activity_level"].rename(index={m: letter for letter, m in ids.items()})
    # no "active" without interaction data: A is moderate; E (no order in 180d) is inactive
    assert activity[["A", "B", "D", "E"]].tolist() == ["moderate", "moderate", "inactive", "inactive"]


@pytest.mark.parametrize(
    ("horizon", "buyers"),
    [(30, {"B", "I"}), (45, {"B", "I"}), (46, {"B", "I", "D"})],
)
def test_repurchase_labels(wh: Warehouse, ids: dict[str, str], horizon: int, buyers: set[str]) -> None:
    """I buys exactly at the cutoff (counts); D on 2026-04-15 10:00 (day 45); C's is a refund."""
    labels = repurchase_labels(wh, AS_OF, horizon_days=horizon)
    assert list(labels.columns) == ["member_id", "as_of", "horizon_days", "repurchased"]
    assert labels["member_id"].tolist() == build_features(wh, AS_OF)["member_id"].tolist()
    assert (labels["horizon_days"] == horizon).all()
    letters = {member: letter for letter, member in ids.items()}
    assert set(labels.loc[labels["repurchased"], "member_id"].map(letters)) == buyers


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_features_streams_features_and_labels_to_a_file(
    wh: Warehouse, feats: pd.DataFrame, tmp_path, suffix: str
) -> None:
    path = tmp_path / f"features{suffix}"
    write_features(wh, AS_OF, path, label_horizon=46)
    written = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(written.columns) == [*FEATURE_COLUMNS, "repurchased"]
    assert written["member_id"].tolist() == build_features(wh, AS_OF)["member_id"].tolist()
    labels = repurchase_labels(wh, AS_OF, horizon_days=46)
    assert written["repurchased"].tolist() == labels["repurchased"].tolist()
    totals = feats.set_index("member_id")["orders_total"]
    assert written["orders_total"].tolist() == totals.loc[written["member_id"]].tolist()


def test_member_audiences(wh: Warehouse, ids: dict[str, str]) -> None:
    audiences = member_audiences(wh, AS_OF).set_index("member_id")["audience"]
    got = {letter: audiences[member] for letter, member in ids.items()}
    assert got == {
        "A": "returning_member",  # first card 2024-02-01
        "B": "new_customer",  # first purchase 2025-12-01 15:00, after cutoff - 90 days
        "C": "new_member",
        "D": "returning_customer",
        "E": "prospect",
        "F": "returning_customer",
        "H": "new_member",  # enrolled, never bought
        "I": "returning_customer",
    }


def test_audience_sales_window(wh: Warehouse) -> None:
    sales = audience_sales(wh, "2026-02-01", "2026-03-02")
    weeks = pd.to_datetime(["2026-01-26", "2026-02-02", "2026-02-09", "2026-02-16", "2026-02-23"])
    assert len(sales) == len(weeks) * len(AUDIENCES)
    assert set(sales["week"]) == set(weeks) and set(sales["audience"]) == set(AUDIENCES)
    busy = sales[sales["orders"] > 0].set_index(["week", "audience"])
    assert busy.to_dict("index") == {
        (pd.Timestamp("2026-02-16"), "returning_member"): {"revenue": 100.0, "orders": 1, "buyers": 1},
        (pd.Timestamp("2026-02-23"), "new_member"): {"revenue": 60.0, "orders": 2, "buyers": 1},
        # I's order exactly at 2026-03-01 00:00 (a Sunday) is inside [start, end)
        (pd.Timestamp("2026-02-23"), "returning_customer"): {"revenue": 10.0, "orders": 1, "buyers": 1},
    }


def test_audience_sales_all_history(wh: Warehouse) -> None:
    sales = audience_sales(wh)
    n_weeks = (pd.Timestamp("2026-04-13") - pd.Timestamp("2024-05-27")).days // 7 + 1
    assert len(sales) == n_weeks * len(AUDIENCES)
    assert sales["week"].dt.day_of_week.eq(0).all()
    totals = sales.groupby("audience")["revenue"].sum().to_dict()
    assert totals == pytest.approx(
        {
            "returning_member": 580.0,  # A, enrolled before every order
            "new_member": 60.0,  # C
            "new_customer": 40.0 + 500.0 + 500.0 + 70.0 + 70.0 + 25.0,  # first orders; I's 2nd within 90d
            "returning_customer": 40.0 + 80.0 + 10.0,  # B and D later; I at the cutoff (121 days after)
        }
    )


def test_no_leakage_from_data_at_or_after_the_cutoff(wh: Warehouse) -> None:
    before = build_features(wh, AS_OF)
    audiences_before = member_audiences(wh, AS_OF)
    tables = base_tables()
    later = make_warehouse({name: tables[name] + LATER[name] for name in tables})
    assert len(later.df("SELECT * FROM members")) > len(wh.df("SELECT * FROM members"))
    pd.testing.assert_frame_equal(build_features(later, AS_OF), before)
    pd.testing.assert_frame_equal(member_audiences(later, AS_OF), audiences_before)


def test_as_of_with_a_time_of_day_is_refused(wh: Warehouse) -> None:
    with pytest.raises(ValueError, match="as_of must be a date"):
        build_features(wh, "2026-03-01 12:00")


def test_column_types_follow_the_catalogue(feats: pd.DataFrame) -> None:
    """The catalogue's JSON type of each column is what the feature table holds."""
    expected = {"number": "numeric", "flag": "boolean", "text": "string", "date": "datetime"}
    checks = {
        "numeric": lambda c: pd.api.types.is_numeric_dtype(c) and not pd.api.types.is_bool_dtype(c),
        "boolean": pd.api.types.is_bool_dtype,
        "string": pd.api.types.is_string_dtype,
        "datetime": pd.api.types.is_datetime64_any_dtype,
    }
    for feature in CATALOGUE:
        want = expected[feature.kind]
        assert checks[want](feats[feature.name]), f"{feature.name}: {feats[feature.name].dtype}, not {want}"


def test_a_subset_of_members_gets_the_same_rows_as_in_the_whole_table(
    wh: Warehouse, ids: dict[str, str]
) -> None:
    """RFM scores rank every member, so a subset's rows must not be re-ranked among the subset alone."""
    whole = build_features(wh, AS_OF)
    wanted = pd.Series([ids["D"], ids["A"], ids["A"], "no-such-member"])
    subset = build_features(wh, AS_OF, members=wanted)
    expected = whole[whole["member_id"].isin(wanted)].reset_index(drop=True)
    pd.testing.assert_frame_equal(subset, expected)
    assert set(subset["r_score"]) == {1, 5}  # ranked among everyone: D lowest, A highest
    assert "feature_subset" not in set(wh.df("SHOW TABLES")["name"])
