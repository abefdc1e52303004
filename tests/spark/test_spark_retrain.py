"""`retrain --engine spark`: validation and unify on Spark, training on DuckDB from Spark's tables.

The same brand retrained on each engine into its own home must publish the same release: the hand-off
copies the very rows and types a DuckDB-only preparation holds, and training is deterministic, so the
member map, the data fingerprint and every column of the snapshot (scores included) are identical.
The config is cut down to keep the two retrains short; the gate is lenient, since a 1,000-person brand
is not what it judges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from memberwise import registry, release
from memberwise.config import (
    BacktestConfig,
    ForecastConfig,
    GateConfig,
    OptunaConfig,
    PersonasConfig,
    PropensityConfig,
    RetrainConfig,
    RNNConfig,
    WindowsConfig,
)
from memberwise.data.demo import DemoConfig, generate
from memberwise.pipelines.retrain import RetrainSummary, retrain
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse
from tests.conftest import DEMO_SNAPSHOT_DAY

pytestmark = [pytest.mark.spark, pytest.mark.slow]

QUICK = RetrainConfig(
    propensity=PropensityConfig(
        candidates=("rfm_logistic", "lightgbm"),
        threads=1,
        windows=WindowsConfig(training=1),
        optuna=OptunaConfig(trials=1, timeout_seconds=60),
        gate=GateConfig(min_auc=0.5, max_ece=0.5),
    ),
    personas=PersonasConfig(k_min=2, k_max=3, stability_seeds=2, sample=500),
    forecast=ForecastConfig(
        candidates=("snaive", "theta"),
        ensemble_size=2,
        rnn=RNNConfig(epochs=1),
        backtest=BacktestConfig(origins=1),
    ),
)


@dataclass
class Retrained:
    """One engine's retrain of the brand, in its own home."""

    summary: RetrainSummary
    settings: Settings

    def tags(self) -> dict[str, str]:
        return dict(registry.configure(self.settings).get_run(self.summary.run_id).data.tags)


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retrain-brand")
    generate(DemoConfig(members=1_000, seed=12), out)
    return out


@pytest.fixture(scope="module")
def retrained(spark, brand: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Retrained]:  # noqa: ANN001
    """The brand retrained with engine=duckdb and engine=spark (the test session's local[2] Spark)."""
    done = {}
    for engine in ("duckdb", "spark"):
        settings = Settings(
            home=tmp_path_factory.mktemp(f"home-{engine}"),
            snapshot_date=DEMO_SNAPSHOT_DAY,
            engine=engine,
            spark_master="local[2]",
        )
        done[engine] = Retrained(retrain(brand, settings, QUICK, trigger="manual"), settings)
    return done


def test_spark_prepares_and_duckdb_trains(retrained: dict[str, Retrained]) -> None:
    on_spark = retrained["spark"]
    assert not on_spark.summary.skipped and on_spark.summary.release is not None
    assert isinstance(on_spark.summary.prepared.warehouse, Warehouse), "training reads DuckDB"
    work = on_spark.settings.spark_dir
    assert work.is_dir(), "Spark validated and unified in its work directory"
    assert not any(work.iterdir()), "and the Spark tables were removed once handed off"
    assert on_spark.tags()["engine"] == "spark"
    assert retrained["duckdb"].tags()["engine"] == "duckdb"


def test_both_engines_publish_the_same_release(retrained: dict[str, Retrained]) -> None:
    duck, spark = retrained["duckdb"], retrained["spark"]
    assert duck.tags()["data_fingerprint"] == spark.tags()["data_fingerprint"]
    members = duck.summary.prepared.identity
    pd.testing.assert_frame_equal(spark.summary.prepared.identity.member_map, members.member_map)
    assert spark.summary.prepared.identity.count("members") == members.count("members") > 900
    expected = release.require_current(duck.settings).scores().sort_values("member_id", ignore_index=True)
    got = release.require_current(spark.settings).scores().sort_values("member_id", ignore_index=True)
    assert len(expected) == duck.summary.snapshot.members > 900
    assert 0 < expected["selected"].sum() < len(expected)
    assert expected["score"].nunique() > 10
    pd.testing.assert_frame_equal(got, expected)  # training is deterministic: every score is equal


def test_an_unchanged_brand_is_skipped_whichever_engine_prepared_it(
    retrained: dict[str, Retrained], brand: Path
) -> None:
    spark = retrained["spark"]
    again = spark.settings.model_copy(update={"engine": "duckdb"})
    rerun = retrain(brand, again, QUICK, trigger="manual")
    assert rerun.skipped and rerun.run_id == spark.summary.run_id
