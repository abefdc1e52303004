"""One feature logic, two engines: identity, features, labels and audiences on Spark equal DuckDB's.

Both warehouses hold the same validated tables of a seeded demo brand; everything after validation
runs through the warehouse API (Spark: the DuckDB SQL translated by `engine.dialect`, components by
large-star/small-star). Numbers must agree within 1e-6 relative, everything else exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from memberwise.data.demo import DemoConfig, generate
from memberwise.features import (
    audience_sales,
    build_features,
    member_audiences,
    preferred_channels,
    repurchase_labels,
)
from memberwise.identity import IdentityResult, unify
from memberwise.pipelines.prepare import prepare
from memberwise.settings import Settings
from tests.conftest import DEMO_SNAPSHOT_DAY
from tests.spark.conftest import spark_copy

pytestmark = pytest.mark.spark

AS_OF = "2026-11-16"  # the day after the snapshot: every complete day of data
EARLIER = "2026-06-01"  # a cutoff with a label horizon inside the data


@dataclass
class Pair:
    profile: str
    duck: IdentityResult
    spark: IdentityResult


@pytest.fixture(
    scope="module",
    params=[("demo", 1_500, 11), ("one_channel", 800, 5)],
    ids=lambda p: p[0],
)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, spark) -> Pair:
    """A brand unified by each engine from the same validated tables."""
    profile, members, seed = request.param
    brand = tmp_path_factory.mktemp(f"brand-{profile}")
    generate(DemoConfig(members=members, seed=seed, profile=profile), brand)
    duck = prepare(brand, Settings(snapshot_date=DEMO_SNAPSHOT_DAY)).identity
    on_spark = spark_copy(duck.warehouse, tmp_path_factory.mktemp(f"spark-{profile}"))  # type: ignore[arg-type]
    yield Pair(profile, duck, unify(on_spark))
    on_spark.close()


def _same(spark_frame: pd.DataFrame, duck_frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(spark_frame, duck_frame, check_exact=False, rtol=1e-6, atol=0)


def test_member_map_members_and_hubs_are_identical(pair: Pair) -> None:
    pd.testing.assert_frame_equal(pair.spark.member_map, pair.duck.member_map)
    pd.testing.assert_frame_equal(pair.spark.hubs, pair.duck.hubs)
    _same(pair.spark.members, pair.duck.members)
    if pair.profile == "demo":  # several channels: accounts did link, and a planted hub was caught
        assert pair.duck.count("members") < pair.duck.count("member_map")
        assert not pair.duck.hubs.empty


def test_every_member_feature_row_is_equal(pair: Pair) -> None:
    duck = build_features(pair.duck.warehouse, AS_OF)
    assert len(duck) > 500 and duck["has_purchased"].any()
    _same(build_features(pair.spark.warehouse, AS_OF), duck)


def test_labels_audiences_and_channels_are_equal(pair: Pair) -> None:
    wh_d, wh_s = pair.duck.warehouse, pair.spark.warehouse
    duck_labels = repurchase_labels(wh_d, EARLIER, 90)
    assert 0 < duck_labels["repurchased"].mean() < 1
    _same(repurchase_labels(wh_s, EARLIER, 90), duck_labels)
    _same(member_audiences(wh_s, EARLIER), member_audiences(wh_d, EARLIER))
    _same(preferred_channels(wh_s, EARLIER), preferred_channels(wh_d, EARLIER))
    _same(audience_sales(wh_s), audience_sales(wh_d))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_streams_a_query_to_one_file(pair: Pair, tmp_path: Path, suffix: str) -> None:
    sql = "SELECT * FROM members ORDER BY member_id LIMIT 50"
    written: dict[str, pd.DataFrame] = {}
    for name, wh in (("duck", pair.duck.warehouse), ("spark", pair.spark.warehouse)):
        path = tmp_path / f"{name}{suffix}"
        wh.write(sql, path)
        written[name] = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert len(written["duck"]) == 50
    if suffix == ".parquet":  # DuckDB keeps a nanosecond timestamp where it was given one: values only
        pd.testing.assert_frame_equal(written["spark"], written["duck"], check_dtype=False)
    else:
        assert list(written["spark"]["member_id"]) == list(written["duck"]["member_id"])
