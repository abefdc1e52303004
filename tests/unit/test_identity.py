"""Unified members: transitive links, the hub guard, stable ids, merged profiles, planted truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from memberwise.engine.graph import smallest_node_components
from memberwise.identity import unify
from memberwise.pipelines.prepare import prepare
from memberwise.settings import Settings
from tests.conftest import tiny_data


def _accounts(rows: list[tuple]) -> pd.DataFrame:
    columns = ["channel", "account_id", "phone_hash", "unionid", "member_card", "registered_at", "city"]
    return pd.DataFrame(rows, columns=columns)


ACCOUNTS = _accounts(
    [
        ("app", "a1", "ph1", "u1", None, "2024-01-01", "Beijing"),
        ("wechat", "w1", None, "u1", "C1", "2024-03-01", None),
        ("pos", "p1", None, None, "C1", "2024-05-01", "Shanghai"),  # a -> w -> p, transitively
        ("tmall", "t1", "ph1", None, None, None, None),
        ("jd", "j9", None, None, None, "2024-02-01", "Wuhan"),  # a guest: no identifier
    ]
)
ORDERS = pd.DataFrame(
    {
        "order_id": ["o1", "o2"],
        "channel": ["jd", "douyin"],
        "account_id": ["j9", "dy-unknown"],  # the second is an orphan: kept as a guest member
        "ordered_at": ["2023-12-01", "2024-06-01"],
        "amount": ["10", "20"],
        "discount": ["0", "0"],
        "coupon_used": ["false", "false"],
        "category": ["skincare", "skincare"],
        "status": ["paid", "paid"],
    }
)
LOYALTY = pd.DataFrame(
    {"member_card": ["C1"], "enrolled_at": ["2024-03-05"], "tier": ["gold"], "points_balance": ["120"]}
)


def _unify(accounts: pd.DataFrame = ACCOUNTS, limit: int = 20):
    wh = tiny_data(accounts=accounts, orders=ORDERS, loyalty=LOYALTY).warehouse
    return unify(wh, max_accounts_per_identifier=limit)


def _member_of(result, channel: str, account: str) -> str:
    mm = result.member_map.set_index(["channel", "account_id"])["member_id"]
    return mm.loc[(channel, account)]


def test_links_are_transitive_and_guests_stay_alone() -> None:
    result = _unify()
    person = {
        _member_of(result, c, a) for c, a in [("app", "a1"), ("wechat", "w1"), ("pos", "p1"), ("tmall", "t1")]
    }
    assert len(person) == 1
    assert _member_of(result, "jd", "j9") not in person
    assert len(result.members) == 3  # the linked person, the jd guest, the orphan douyin buyer


def test_orphan_event_accounts_become_guest_members() -> None:
    result = _unify()
    orphan = _member_of(result, "douyin", "dy-unknown")
    row = result.members.set_index("member_id").loc[orphan]
    assert row["n_accounts"] == 1 and not row["is_member"]
    assert row["first_seen_at"] == pd.Timestamp("2024-06-01")


def test_merged_profile_takes_most_recent_non_null_value() -> None:
    result = _unify()
    member = result.members.set_index("member_id").loc[_member_of(result, "app", "a1")]
    assert member["city"] == "Shanghai"  # pos account registered last
    assert member["registration_channel"] == "app"
    assert member["is_member"] and member["tier"] == "gold" and member["points_balance"] == 120
    assert member["first_seen_at"] == pd.Timestamp("2024-01-01")
    guest = result.members.set_index("member_id").loc[_member_of(result, "jd", "j9")]
    assert guest["first_seen_at"] == pd.Timestamp("2023-12-01")  # an order before registration


def test_hub_identifier_is_not_used_and_is_reported() -> None:
    hub_rows = [("pos", f"h{i}", "store-phone", None, None, "2024-01-01", None) for i in range(6)]
    accounts = pd.concat([ACCOUNTS, _accounts(hub_rows)], ignore_index=True)
    guarded = _unify(accounts, limit=5)
    assert guarded.hubs[["identifier", "accounts"]].values.tolist() == [["store-phone", 6]]
    assert len({_member_of(guarded, "pos", f"h{i}") for i in range(6)}) == 6
    unguarded = _unify(accounts, limit=6)
    assert unguarded.hubs.empty
    assert len({_member_of(unguarded, "pos", f"h{i}") for i in range(6)}) == 1


def test_member_ids_are_stable_across_reruns_and_row_order() -> None:
    first = _unify().member_map
    shuffled = _unify(ACCOUNTS.sample(frac=1.0, random_state=3)).member_map
    key = ["channel", "account_id"]
    pd.testing.assert_frame_equal(
        first.sort_values(key, ignore_index=True), shuffled.sort_values(key, ignore_index=True)
    )


def _pairs(labels: pd.Series) -> int:
    sizes = labels.value_counts()
    return int((sizes * (sizes - 1) // 2).sum())


def test_recovers_planted_people(demo_brand: Path) -> None:
    prepared = prepare(demo_brand, Settings(snapshot_date="2026-11-15"))
    truth = pd.read_parquet(demo_brand / "truth" / "account_person.parquet")
    joined = prepared.identity.member_map.merge(truth, on=["channel", "account_id"], validate="one_to_one")
    assert len(joined) == len(truth)
    both = _pairs(joined.groupby(["member_id", "person_id"]).ngroup())
    precision = both / _pairs(joined["member_id"])
    recall = both / _pairs(joined["person_id"])
    assert precision >= 0.99, precision
    assert recall >= 0.98, recall
    planted_hubs = set(pd.read_parquet(demo_brand / "truth" / "hubs.parquet")["identifier"])
    assert set(prepared.identity.hubs["identifier"]) == planted_hubs


def test_components_are_labelled_by_their_smallest_node() -> None:
    """Sparse, huge ids; a chain reached from its far end; a self-loop; the label is the smallest id."""
    big = 10**15
    src = np.array([big + 3, big + 2, 7, 42, 5], dtype=np.int64)
    dst = np.array([big + 2, 9, 8, 42, 7], dtype=np.int64)
    nodes, component = smallest_node_components(src, dst)
    labels = dict(zip(nodes.tolist(), component.tolist(), strict=True))
    assert labels == {5: 5, 7: 5, 8: 5, 9: 9, big + 2: 9, big + 3: 9, 42: 42}
    empty_nodes, empty_components = smallest_node_components(np.array([], np.int64), np.array([], np.int64))
    assert len(empty_nodes) == len(empty_components) == 0
