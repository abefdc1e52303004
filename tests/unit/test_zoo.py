"""The zoo of demo brands: each profile generates, passes the contract, and plants what it promises."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pytest

from memberwise.data.demo import PROFILES, DemoConfig, generate
from memberwise.data.demo.brand import KPI_STRETCH
from memberwise.pipelines.prepare import prepare
from memberwise.settings import Settings
from tests.conftest import BrandOf

MEMBERS = 3_000
FULL_YEAR_END = "2026-12-31"  # smooth_seasonal is generated to the end of its year


@pytest.fixture(scope="module")
def zoo(brand_of: BrandOf) -> dict[str, Path]:
    """Every profile's brand, shared (read only) with the zoo's training tests."""
    brands = {}
    for name in PROFILES:
        end = {"end": FULL_YEAR_END} if name == "smooth_seasonal" else {}
        brands[name] = brand_of(DemoConfig(members=MEMBERS, seed=11, profile=name, **end))
    return brands


def manifest(brand: Path) -> dict:
    return json.loads((brand / "truth" / "manifest.json").read_text())


def paid_orders(brand: Path) -> pd.DataFrame:
    """Paid orders with the person behind each account (from the truth)."""
    orders = pd.read_parquet(brand / "orders.parquet")
    owners = pd.read_parquet(brand / "truth" / "account_person.parquet")
    return orders[orders["status"] == "paid"].merge(owners, on=["channel", "account_id"])


def repeat_rate(orders: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int) -> float:
    """Share of people with a paid order before `as_of` who buy again within the horizon."""
    before = set(orders.loc[orders["ordered_at"] < as_of, "person_id"])
    window = orders["ordered_at"].between(as_of, as_of + pd.Timedelta(days=horizon_days), inclusive="left")
    return len(before & set(orders.loc[window, "person_id"])) / len(before)


def test_default_profile_is_the_demo_brand_unchanged(tmp_path: Path) -> None:
    cfg = DemoConfig(members=400, seed=3)
    assert (cfg.profile, cfg.start, cfg.end, cfg.truth_as_of, cfg.truth_horizon_days) == (
        "demo", "2023-01-02", "2026-11-15", "2026-08-17", 90,
    )  # fmt: skip
    generate(cfg, tmp_path)
    # Content fingerprints of this brand generated before profiles existed (commit 8ad63d1); orders and
    # loyalty points re-pinned when campaigns began planting member-level uplift (refunded orders).
    before = {"orders": 474094473281374326, "accounts": 5997178243496652932, "loyalty": 13381077578231221987}
    for table, fingerprint in before.items():
        frame = pd.read_parquet(tmp_path / f"{table}.parquet")
        assert int(pd.util.hash_pandas_object(frame, index=False).sum()) == fingerprint, table


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="one_channel.*smooth_seasonal"):
        DemoConfig(profile="furniture")


def test_cli_help_lists_every_profile() -> None:
    from memberwise.cli.data import DemoProfile

    assert get_args(DemoProfile) == tuple(PROFILES)


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_passes_the_contract(zoo: dict[str, Path], name: str, tmp_path: Path) -> None:
    meta = manifest(zoo[name])
    settings = Settings(home=tmp_path, snapshot_date=date.fromisoformat(meta["snapshot_date"]))
    prepared = prepare(zoo[name], settings)
    assert prepared.data.rejects.empty
    assert len(prepared.identity.members) >= MEMBERS * 0.9
    assert meta["profile"]["name"] == name and meta["config"]["profile"] == name
    files = {p.stem for p in zoo[name].glob("*.parquet")}
    assert files == set(PROFILES[name].tables)


def test_manifest_repeat_rate_is_what_the_orders_say(zoo: dict[str, Path]) -> None:
    for name, brand in zoo.items():
        measured = manifest(brand)["repeat_rate"]
        rate = repeat_rate(paid_orders(brand), pd.Timestamp(measured["as_of"]), measured["horizon_days"])
        assert measured["rate"] == pytest.approx(rate, abs=1e-4), name


def test_one_channel_is_an_online_shop_with_orders_only(zoo: dict[str, Path]) -> None:
    brand = zoo["one_channel"]
    assert {p.stem for p in brand.glob("*.parquet")} == {"accounts", "orders", "kpi_targets"}
    accounts = pd.read_parquet(brand / "accounts.parquet")
    orders = pd.read_parquet(brand / "orders.parquet")
    assert set(accounts["channel"]) == set(orders["channel"]) == {"tmall"}
    assert accounts["member_card"].isna().all() and accounts["unionid"].isna().all()


def test_one_cohort_has_one_cohort_and_few_repeaters(zoo: dict[str, Path]) -> None:
    brand = zoo["one_cohort"]
    meta = manifest(brand)
    people = pd.read_parquet(brand / "truth" / "people.parquet")
    start = pd.Timestamp(meta["config"]["start"])
    assert people["acquired_at"].between(start, start + pd.Timedelta(days=60)).all()
    assert meta["repeat_rate"]["horizon_days"] == 90
    assert 0.15 <= meta["repeat_rate"]["rate"] <= 0.21
    orders_per_person = paid_orders(brand).groupby("person_id").size()
    demo_per_person = paid_orders(zoo["demo"]).groupby("person_id").size()
    assert (orders_per_person == 1).mean() > 1.5 * (demo_per_person == 1).mean()  # a tail of one-timers


def test_grocery_buys_often_in_small_baskets(zoo: dict[str, Path]) -> None:
    meta = manifest(zoo["grocery"])
    assert meta["repeat_rate"]["horizon_days"] == 28
    assert 0.40 <= meta["repeat_rate"]["rate"] <= 0.50
    basket = pd.read_parquet(zoo["grocery"] / "orders.parquet")["amount"].median()
    assert basket < 0.3 * pd.read_parquet(zoo["demo"] / "orders.parquet")["amount"].median()


def test_short_history_spans_one_year(zoo: dict[str, Path]) -> None:
    orders = pd.read_parquet(zoo["short_history"] / "orders.parquet")
    span = (orders["ordered_at"].max() - orders["ordered_at"].min()).days
    assert 355 <= span <= 366
    assert manifest(zoo["short_history"])["config"]["start"] == "2025-11-15"


def _after_over_before(brand: Path, stop: pd.Timestamp, weeks: int = 8) -> float:
    at = paid_orders(brand)["ordered_at"]
    width = pd.Timedelta(weeks=weeks)
    return (
        at.between(stop, stop + width, inclusive="left").sum()
        / at.between(stop - width, stop, inclusive="left").sum()
    )


def test_regime_change_drops_the_purchase_rate(zoo: dict[str, Path]) -> None:
    meta = manifest(zoo["regime_change"])
    stop = pd.Timestamp(meta["snapshot_date"]) - pd.Timedelta(days=meta["profile"]["promo_stop_days"])
    # Orders in the 8 weeks after the programme stops, over the 8 weeks before: far below the demo's.
    assert _after_over_before(zoo["regime_change"], stop) < 0.8 * _after_over_before(zoo["demo"], stop)
    # A model trained on a window before the stop expects more repeat buying than the newest window shows.
    as_of, horizon = pd.Timestamp(meta["repeat_rate"]["as_of"]), meta["repeat_rate"]["horizon_days"]
    older = as_of - pd.Timedelta(days=180)

    def drop(brand: Path) -> float:
        orders = paid_orders(brand)
        return repeat_rate(orders, older, horizon) - repeat_rate(orders, as_of, horizon)

    assert drop(zoo["regime_change"]) > drop(zoo["demo"]) + 0.03


def test_smooth_seasonal_follows_its_planted_season(zoo: dict[str, Path]) -> None:
    brand = zoo["smooth_seasonal"]
    weekly = (
        paid_orders(brand)
        .set_index("ordered_at")["amount"]
        .resample("W-MON", label="left", closed="left")
        .sum()
    ).iloc[1:-1]  # whole weeks only
    season = pd.read_parquet(brand / "truth" / "season.parquet").groupby("week_start")["multiplier"].mean()
    season = season.reindex(weekly.index)
    assert len(weekly) >= 150 and not season.isna().any()  # three years

    def detrended(series: pd.Series) -> pd.Series:
        return series / series.rolling(52, center=True).mean()

    both = pd.concat([detrended(weekly), detrended(season)], axis=1).dropna()
    assert np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1] > 0.85


def test_a_brand_to_the_end_of_its_year_has_the_whole_year(zoo: dict[str, Path]) -> None:
    brand = zoo["smooth_seasonal"]
    orders = paid_orders(brand)
    assert orders["ordered_at"].max() >= pd.Timestamp(FULL_YEAR_END) - pd.Timedelta(days=3)
    realised = orders.loc[orders["ordered_at"].dt.year == 2026, "amount"].sum()
    targets = pd.read_parquet(brand / "kpi_targets.parquet").set_index("period_start")["target_revenue"]
    # The last year is complete, so its target is its realised revenue x the stretch, not annualised.
    assert targets[pd.Timestamp("2026-01-01")] == pytest.approx(realised * KPI_STRETCH, abs=500)
