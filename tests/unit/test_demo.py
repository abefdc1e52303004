"""The demo brand: deterministic, and its planted truth is really in the data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from memberwise.data.demo import PERSONAS, DemoConfig, generate, true_purchase_probability

TABLE_NAMES = ("accounts", "loyalty", "orders", "interactions", "campaign_touches", "kpi_targets")


def _digest(directory: Path) -> dict[str, str]:
    return {n: hashlib.sha256((directory / f"{n}.parquet").read_bytes()).hexdigest() for n in TABLE_NAMES}


def test_same_seed_same_brand_other_seed_other_brand(tmp_path: Path) -> None:
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        generate(DemoConfig(members=400, seed=seed), tmp_path / name)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["orders"] != _digest(tmp_path / "c")["orders"]


def test_truth_streamed_in_chunks_matches_the_whole_brand_at_once(tmp_path: Path) -> None:
    """Truth is written a chunk of people at a time (so 10M members fit): chunks must not shift ids."""
    generate(DemoConfig(members=1_000, seed=5, chunk_people=300), tmp_path)
    truth = tmp_path / "truth"
    people = pd.read_parquet(truth / "people.parquet")
    assert people["person_id"].tolist() == [f"p{i:07d}" for i in range(1_000)]
    owners = pd.read_parquet(truth / "account_person.parquet")
    accounts = pd.read_parquet(tmp_path / "accounts.parquet")
    assert set(owners["person_id"]) <= set(people["person_id"]) and len(owners) == len(accounts)
    streamed = pd.read_parquet(truth / "purchase_probability.parquet")
    season = pd.read_parquet(truth / "season.parquet")
    as_of, horizon = str(streamed["as_of"].iloc[0].date()), int(streamed["horizon_days"].iloc[0])
    whole = true_purchase_probability(people, season, as_of, horizon)
    assert streamed["person_id"].tolist() == whole["person_id"].tolist()
    assert streamed["p_buy"].to_numpy() == pytest.approx(whole["p_buy"].to_numpy(), rel=1e-12)


def test_truth_lives_beside_the_tables(demo_brand: Path) -> None:
    assert {p.stem for p in demo_brand.glob("*.parquet")} == set(TABLE_NAMES)
    truth = {p.stem for p in (demo_brand / "truth").iterdir()}
    assert {"account_person", "people", "purchase_probability", "uplift", "hubs", "manifest"} <= truth


@pytest.fixture(scope="module")
def person_orders(demo_brand: Path) -> pd.DataFrame:
    orders = pd.read_parquet(demo_brand / "orders.parquet")
    owners = pd.read_parquet(demo_brand / "truth" / "account_person.parquet")
    people = pd.read_parquet(demo_brand / "truth" / "people.parquet")
    return orders.merge(owners, on=["channel", "account_id"]).merge(
        people[["person_id", "persona"]], on="person_id"
    )


def test_personas_behave_differently(person_orders: pd.DataFrame) -> None:
    by = person_orders.groupby("persona")
    aov = by["amount"].mean()
    coupon = by["coupon_used"].mean()
    gift = by["is_gift"].mean()
    pos_share = by["channel"].apply(lambda c: (c == "pos").mean())
    app_share = by["channel"].apply(lambda c: (c == "app").mean())
    assert set(aov.index) == set(PERSONAS)
    assert (
        aov.idxmax() == "gift_store" and gift.idxmax() == "gift_store" and pos_share.idxmax() == "gift_store"
    )
    assert coupon.idxmax() == "deal_hunter" and app_share.idxmax() == "self_app"
    assert aov.idxmin() == "lapsing_low"


def test_promotion_peaks_and_growth(person_orders: pd.DataFrame) -> None:
    weekly = person_orders.set_index("ordered_at")["amount"].resample("W-SUN").sum()
    year_2025 = weekly["2025-01-01":"2025-12-31"]
    assert year_2025["2025-11-03":"2025-11-16"].mean() > 1.5 * year_2025.median()  # Double 11
    assert year_2025["2025-06-09":"2025-06-22"].mean() > 1.2 * year_2025.median()  # 618
    assert weekly["2025"].sum() > 1.2 * weekly["2024"].sum()


def test_planted_purchase_probability_matches_what_happened(
    demo_brand: Path, person_orders: pd.DataFrame
) -> None:
    truth = pd.read_parquet(demo_brand / "truth" / "purchase_probability.parquet")
    as_of, horizon = truth["as_of"].iloc[0], int(truth["horizon_days"].iloc[0])
    paid = person_orders[person_orders["status"] == "paid"]
    window = paid[(paid["ordered_at"] >= as_of) & (paid["ordered_at"] < as_of + pd.Timedelta(days=horizon))]
    bought = truth["person_id"].isin(window["person_id"])
    from sklearn.metrics import roc_auc_score

    # Calibrated, up to the campaign uplift the truth leaves out (a few points at most).
    assert 0 <= bought.mean() - truth["p_buy"].mean() < 0.05
    assert roc_auc_score(bought, truth["p_buy"]) > 0.8
    assert 0.2 < bought.mean() < 0.6  # repurchase is neither rare nor certain


def test_campaign_uplift_matches_planted_truth(demo_brand: Path, person_orders: pd.DataFrame) -> None:
    touches = pd.read_parquet(demo_brand / "campaign_touches.parquet")
    owners = pd.read_parquet(demo_brand / "truth" / "account_person.parquet")
    truth = pd.read_parquet(demo_brand / "truth" / "uplift.parquet")
    touches = touches.merge(owners, on=["channel", "account_id"])
    paid = person_orders[person_orders["status"] == "paid"][["person_id", "ordered_at"]]
    joined = touches.merge(paid, on="person_id", how="left")
    in_window = (joined["ordered_at"] >= joined["touched_at"]) & (
        joined["ordered_at"] < joined["touched_at"] + pd.Timedelta(days=14)
    )
    orders_per_touch = in_window.groupby([joined["campaign_id"], joined["person_id"]]).sum()
    touches = touches.join(orders_per_touch.rename("orders"), on=["campaign_id", "person_id"])
    cell = ["audience", "delivery", "promotion", "communication", "activity"]
    touches = touches.merge(truth, on=cell)
    control_mean = touches[touches["group"] == "control"].groupby("campaign_id")["orders"].mean()
    treated = touches[touches["group"] == "treatment"]
    measured = (treated["orders"] - treated["campaign_id"].map(control_mean)).mean()
    planted = treated["incremental_orders_per_contact"].mean()
    assert measured == pytest.approx(planted, abs=0.4 * planted)
    assert touches["group"].eq("control").mean() == pytest.approx(0.15, abs=0.02)
    assert (touches.loc[touches["group"] == "control", "cost"] == 0).all()


def test_kpi_targets_are_yearly(demo_brand: Path) -> None:
    targets = pd.read_parquet(demo_brand / "kpi_targets.parquet")
    assert targets["period_start"].dt.year.tolist() == [2023, 2024, 2025, 2026]
    assert (targets["target_revenue"] > 0).all()
