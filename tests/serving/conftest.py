"""A real memberwise service for the serving tests: demo brand -> model in a temp MLflow registry ->
score snapshot -> `bentoml serve` in a subprocess, built once per session."""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests

from memberwise import registry, release, tracking
from memberwise.config import BacktestConfig, ForecastConfig, RNNConfig, load_budget_config
from memberwise.data.demo import DemoConfig, generate
from memberwise.features import build_features, repurchase_labels
from memberwise.modeling.personas import PersonaModel
from memberwise.modeling.propensity import PropensityModel
from memberwise.pipelines import personas as personas_pipeline
from memberwise.pipelines.forecast import train_forecast
from memberwise.pipelines.planning import plan
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.propensity import register
from memberwise.pipelines.publish import category_purchases
from memberwise.pipelines.score import score_members
from memberwise.serving import launch
from memberwise.settings import Settings
from memberwise.snapshot import SCORE_COLUMNS
from tests.conftest import with_empty_store

REPO = Path(__file__).resolve().parents[2]
API_KEY = "test-key"
THRESHOLD = 50.0
TRAIN_AS_OF, SCORE_AS_OF = "2026-08-18", "2026-11-16"
READY_TIMEOUT_S = 120


@dataclass
class Served:
    """The running service and what it was built from."""

    url: str
    key: str
    model: PropensityModel
    version: str
    snapshot: pd.DataFrame  # as written (SCORE_COLUMNS + features)
    features: pd.DataFrame  # features at SCORE_AS_OF, in snapshot order
    statuses_before_ready: list[str]
    log: Path
    personas: PersonaModel
    personas_version: str

    @property
    def versions(self) -> dict[str, str]:
        """The model versions every snapshot answer names."""
        return {"propensity": self.version, "personas": self.personas_version}

    def post(self, path: str, body: object = None, key: str | None = API_KEY, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return requests.post(f"{self.url}{path}", json=body, headers=headers, timeout=60, **kwargs)


def _train_and_register(home: Path) -> tuple[PropensityModel, str, pd.DataFrame, PersonaModel, str]:
    """Demo brand -> propensity and personas champions -> served snapshot (the pipeline's own code).

    Returns the model, its version, the snapshot as written (SCORE_COLUMNS + features), the personas and
    their version.
    """
    brand = home / "brand"
    generate(DemoConfig(members=1500, seed=3), brand)
    settings = Settings(home=home, snapshot_date="2026-11-15")
    wh = prepare(brand, settings).warehouse
    features = build_features(wh, TRAIN_AS_OF)
    labels = repurchase_labels(wh, TRAIN_AS_OF, 90)
    y = labels["repurchased"].to_numpy(dtype=bool)
    cal = np.arange(len(features)) % 4 == 0  # a member split: every 4th member calibrates
    # One LightGBM thread: OpenMP spin-waits make a 2-thread fit ~30x slower on a busy 2-core machine.
    model = PropensityModel({"num_threads": 1}, max_rounds=200, seed=0).fit(
        features[~cal], y[~cal], features[cal], y[cal]
    )
    tracking.configure(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id(settings, "propensity")):
        version = register(model, features.head(5), settings)
    score_features = build_features(wh, SCORE_AS_OF)
    personas = PersonaModel().fit(score_features)
    with mlflow.start_run(experiment_id=tracking.experiment_id(settings, "personas")):
        personas_version = personas_pipeline.register(personas, score_features.head(5), settings)
    snapshot = score_members(
        wh, date.fromisoformat(SCORE_AS_OF), model, version, THRESHOLD, "selected", personas, score_features
    )
    selected = int(snapshot["selected"].sum())
    # A quick forecaster (the gate is tested elsewhere), the planning inputs, then one release of all.
    quick = ForecastConfig(rnn=RNNConfig(epochs=8), backtest=BacktestConfig(origins=1))
    forecast = train_forecast(wh, date.fromisoformat(SCORE_AS_OF), quick, settings)
    forecaster = (registry.load("forecast", forecast.model_version), forecast.model_version)
    planned = plan(
        wh, date.fromisoformat(SCORE_AS_OF), quick, load_budget_config(None), settings, forecaster, snapshot
    )
    assert not planned.problems, planned.problems
    models = {"propensity": version, "personas": personas_version, "forecast": forecast.model_version}
    manifest = release.Manifest(
        release.new_id(settings), "test", SCORE_AS_OF, models, THRESHOLD, len(snapshot), selected
    )
    with category_purchases(wh, date.fromisoformat(SCORE_AS_OF), settings) as purchases:
        release.publish(settings, manifest, snapshot, planned.inputs, purchases=purchases)
    return model, version, snapshot, personas, personas_version


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`bentoml serve` from the repository root on a free port, in its own process group."""
    return launch.start(env, log, cwd=REPO)


stop_server = launch.stop


def server_env(home: Path, bentoml_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMBERWISE_", "MLFLOW_TRACKING"))}
    env.update(
        MEMBERWISE_HOME=str(home),
        BENTOML_HOME=str(bentoml_home),
        BENTOML_DO_NOT_TRACK="true",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        **extra,
    )
    return env


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


Built = tuple[Path, PropensityModel, str, pd.DataFrame, pd.DataFrame, PersonaModel, str]


@pytest.fixture(scope="session")
def serving_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    home = with_empty_store(tmp_path_factory, tmp_path_factory.mktemp("serving-home"))
    previous_uri = mlflow.get_tracking_uri()
    try:
        model, version, snapshot, personas, personas_version = _train_and_register(home)
    finally:
        mlflow.set_tracking_uri(previous_uri)
    features = snapshot.drop(columns=[c for c in SCORE_COLUMNS if c not in ("member_id", "lifecycle_stage")])
    yield home, model, version, snapshot, features, personas, personas_version


@pytest.fixture(scope="session")
def served(serving_home: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home, model, version, snapshot, features, personas, personas_version = serving_home
    bentoml_home = tmp_path_factory.mktemp("bentoml-home")
    log = home / "server.log"
    proc, url = start_server(server_env(home, bentoml_home, MEMBERWISE_API_KEY=API_KEY), log)
    try:
        try:
            statuses = launch.wait_ready(proc, url, READY_TIMEOUT_S)
        except launch.ServerNotReady as err:
            pytest.fail(f"{err}:\n{log_tail(log)}")
        built = (model, version, snapshot, features, statuses, log, personas, personas_version)
        yield Served(url, API_KEY, *built)
    finally:
        stop_server(proc)


def feature_records(features: pd.DataFrame) -> list[dict]:
    """Feature rows as JSON-ready records (dates as ISO text, NA as null)."""
    records = []
    for row in features.to_dict(orient="records"):
        record = {}
        for key, value in row.items():
            if (
                value is None
                or value is pd.NA
                or value is pd.NaT
                or (isinstance(value, float) and math.isnan(value))
            ):
                record[key] = None
            elif isinstance(value, pd.Timestamp):
                record[key] = value.isoformat()
            elif isinstance(value, np.generic):
                record[key] = value.item()
            else:
                record[key] = value
        records.append(record)
    return records


def assert_client_error(response: requests.Response, field: str | None = None) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict) and body.get("error"), body
    if field is not None:
        assert field in body["error"], body
    return body
