"""`--engine spark` end to end through the CLI: the same files as `--engine duckdb`.

Each command runs as its own process (one Spark session each, at local[2]), as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from memberwise import registry, tracking
from memberwise.data.demo import DemoConfig, generate
from memberwise.features import build_features, repurchase_labels
from memberwise.modeling.propensity import PropensityModel
from memberwise.pipelines.propensity import register
from memberwise.settings import Settings

pytestmark = pytest.mark.spark

CLI = [sys.executable, "-c", "from memberwise.cli import main; main()"]
SNAPSHOT = ("--snapshot-date", "2026-11-15")


def run(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MEMBERWISE_HOME": str(home),
        "MEMBERWISE_SPARK_MASTER": "local[2]",
        "COLUMNS": "200",
    }
    env.pop("MEMBERWISE_ENGINE", None)
    done = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=600)
    return done


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


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a 1,500-person brand (Parquet), a dirty one (CSV) and a registered champion."""
    home = tmp_path_factory.mktemp("cli-home")
    generate(DemoConfig(members=1_500, seed=4), home / "brand")
    generate(DemoConfig(members=1_000, seed=5, dirty=True, file_format="csv"), home / "dirty")
    from memberwise.pipelines.prepare import prepare

    settings = Settings(home=home, snapshot_date="2026-11-15")
    wh = prepare(home / "brand", settings).warehouse
    features = build_features(wh, "2026-08-18")
    y = repurchase_labels(wh, "2026-08-18", 90)["repurchased"].to_numpy(dtype=bool)
    cal = np.arange(len(features)) % 4 == 0
    model = PropensityModel({"num_threads": 1}, max_rounds=50, seed=0).fit(
        features[~cal], y[~cal], features[cal], y[cal]
    )
    client = tracking.configure(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id(settings, "propensity")):
        version = register(model, features.head(5), settings)
    client.set_registered_model_alias(registry.model_name("propensity"), registry.CHAMPION, version)
    return home


def test_features_on_spark_equal_duckdbs(spark, home: Path) -> None:
    out = {}
    for engine in ("duckdb", "spark"):
        out[engine] = home / f"features-{engine}.parquet"
        args = ("--data", home / "brand", "--as-of", "2026-11-01", "--out", out[engine], *SNAPSHOT)
        _ok(run(home, "features", *args, "--engine", engine))
    expected = pd.read_parquet(out["duckdb"])
    assert len(expected) > 1_000
    assert_frames_match(pd.read_parquet(out["spark"]), expected)
    assert not any((home / "spark").glob("*")), "the Spark work directory is removed at exit"


def test_validate_and_score_on_spark_equal_duckdbs(spark, home: Path) -> None:
    for engine in ("duckdb", "spark"):
        _ok(
            run(
                home,
                "validate",
                "--data",
                home / "dirty",
                "--out",
                home / engine,
                *SNAPSHOT,
                "--engine",
                engine,
            )
        )
    rejects = [pd.read_csv(home / engine / "rejects.csv") for engine in ("duckdb", "spark")]
    assert len(rejects[0]) > 20
    pd.testing.assert_frame_equal(rejects[1], rejects[0])
    reports = [json.loads((home / e / "validation_report.json").read_text()) for e in ("duckdb", "spark")]
    assert reports[1] == reports[0]

    scored = {}
    for engine in ("duckdb", "spark"):
        path = home / f"scores-{engine}.parquet"
        _ok(run(home, "score", "--data", home / "brand", "--out", path, *SNAPSHOT, "--engine", engine))
        scored[engine] = pd.read_parquet(path)
    got, expected = scored["spark"], scored["duckdb"]
    assert got["persona"].isna().all() and got["reasons"].isna().all(), "not computed on Spark"
    same = ["member_id", "score", "probability", "selected", "lifecycle_stage", "preferred_channel"]
    assert expected["selected"].any() and not expected["selected"].all()
    assert_frames_match(got[same], expected[same])
    assert list(got.columns) == list(expected.columns)


def test_retrain_on_spark_stops_at_once_naming_the_step(home: Path) -> None:
    done = run(home, "retrain", "--data", home / "brand", *SNAPSHOT, "--engine", "spark")
    assert done.returncode == 2
    assert "train propensity" in done.stderr and "--engine duckdb" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
