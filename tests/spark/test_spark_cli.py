"""The CLI on Spark end to end (`MEMBERWISE_ENGINE=spark`, as `--engine spark`): DuckDB's results.

Each Spark command runs as its own process (one Spark session each, at local[2]), as a user runs it;
the DuckDB results to compare with are computed in process, to keep the JVM starts to three.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from memberwise import registry, tracking
from memberwise.config import load_propensity_config
from memberwise.data.demo import DemoConfig
from memberwise.data.io import ValidatedData, load
from memberwise.features import build_features, repurchase_labels
from memberwise.modeling.propensity import PropensityModel
from memberwise.pipelines.prepare import prepare, snapshot_timestamp
from memberwise.pipelines.propensity import register
from memberwise.pipelines.score import release_scores
from memberwise.settings import Settings
from memberwise.snapshot import SCORE_COLUMNS
from tests.conftest import BrandOf, with_empty_store

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CLI = [sys.executable, "-c", "from memberwise.cli import main; main()"]
SNAPSHOT = ("--snapshot-date", "2026-11-15")


def run(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """One command on Spark (MEMBERWISE_ENGINE, as `--engine spark`), in a process of its own."""
    env = {**os.environ, "MEMBERWISE_HOME": str(home), "COLUMNS": "200"}
    env.update(MEMBERWISE_ENGINE="spark", MEMBERWISE_SPARK_MASTER="local[2]")
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=600)


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr[-3000:]


def assert_frames_match(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns and rows; numbers within 1e-6 relative, everything else equal (nulls included)."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for column in expected.columns:
        a, b = got[column], expected[column]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-6, err_msg=column)
        else:
            assert (a.isna() == b.isna()).all(), column
            assert (a[b.notna()].astype(str) == b[b.notna()].astype(str)).all(), column


@dataclass
class Expected:
    """A home holding a registered champion, the brands, and DuckDB's results computed in process."""

    home: Path
    brand: Path
    dirty: Path
    features: pd.DataFrame
    validated: ValidatedData
    scores: pd.DataFrame


@pytest.fixture(scope="module")
def expected(brand_of: BrandOf, dirty_brand: Path, tmp_path_factory: pytest.TempPathFactory) -> Expected:
    """A 1,500-person brand (Parquet), a dirty one (CSV), a champion, and the DuckDB engine's outputs."""
    home = with_empty_store(tmp_path_factory, tmp_path_factory.mktemp("cli-home"))
    brand = brand_of(DemoConfig(members=1_500, seed=4))
    settings = Settings(home=home, snapshot_date="2026-11-15")
    prepared = prepare(brand, settings)
    wh = prepared.duckdb("test")
    train = build_features(wh, "2026-08-18")
    y = repurchase_labels(wh, "2026-08-18", 90)["repurchased"].to_numpy(dtype=bool)
    cal = np.arange(len(train)) % 4 == 0
    model = PropensityModel({"num_threads": 1}, max_rounds=50, seed=0).fit(
        train[~cal], y[~cal], train[cal], y[cal]
    )
    client = registry.configure(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id(settings, "propensity")):
        version = register(model, train.head(5), settings)
    client.set_registered_model_alias(registry.model_name("propensity"), registry.CHAMPION, version)
    threshold = load_propensity_config(None).threshold
    scores = release_scores(wh, prepared.default_as_of, {"propensity": version}, threshold)
    return Expected(
        home,
        brand,
        dirty_brand,
        build_features(wh, "2026-11-01", settings.new_window_days),
        load(dirty_brand, snapshot_timestamp(settings.snapshot_date)),
        scores[list(SCORE_COLUMNS)],
    )


def test_features_on_spark_equal_duckdbs(spark, expected: Expected) -> None:
    home, out = expected.home, expected.home / "features-spark.parquet"
    _ok(run(home, "features", "--data", expected.brand, "--as-of", "2026-11-01", "--out", out, *SNAPSHOT))
    assert len(expected.features) > 1_000
    assert_frames_match(pd.read_parquet(out), expected.features)
    assert not any((home / "spark").glob("*")), "the Spark work directory is removed at exit"


def test_validate_on_spark_equals_duckdb(spark, expected: Expected) -> None:
    home = expected.home
    _ok(run(home, "validate", "--data", expected.dirty, "--out", home / "report", *SNAPSHOT))
    expected.validated.write_report(home / "duckdb")
    assert len(expected.validated.rejects) > 20
    for name in ("rejects.csv", "validation_report.json"):
        assert (home / "report" / name).read_text() == (home / "duckdb" / name).read_text(), name


def test_score_on_spark_equals_duckdb(spark, expected: Expected) -> None:
    home, out = expected.home, expected.home / "scores-spark.parquet"
    _ok(run(home, "score", "--data", expected.brand, "--out", out, *SNAPSHOT))
    got = pd.read_parquet(out)
    assert list(got.columns) == list(expected.scores.columns)
    assert got["persona"].isna().all() and got["reasons"].isna().all(), "not computed on Spark"
    same = ["member_id", "score", "probability", "selected", "lifecycle_stage", "preferred_channel"]
    assert expected.scores["selected"].any() and not expected.scores["selected"].all()
    assert_frames_match(got[same], expected.scores[same])
