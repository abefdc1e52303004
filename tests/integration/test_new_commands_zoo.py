"""The newest commands on brands unlike the demo: no campaigns, few campaigns, a release made elsewhere.

Each test plants one situation the zoo sweep met (docs/demo-zoo.md) and checks the command answers it
in one honest line or an honest empty result, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import mlflow

from memberwise import registry
from memberwise.pipelines.score import serving_models
from memberwise.settings import Settings
from tests.conftest import DEMO_SNAPSHOT_DAY
from tests.integration.test_release import _publish


def test_score_loads_the_served_models_from_the_projects_registry(tmp_path: Path) -> None:
    """A fresh `memberwise score` process has MLflow on its default store until something configures it."""
    settings = Settings(home=tmp_path / "home", snapshot_date=DEMO_SNAPSHOT_DAY)
    published = _publish(settings, "served")
    elsewhere = f"sqlite:///{tmp_path / 'cwd-default.db'}"
    mlflow.set_tracking_uri(elsewhere)  # what a new process starts with (MLflow's default store)
    mlflow.set_registry_uri(elsewhere)
    models = serving_models(settings)
    assert models == published.models
    assert registry.load("personas", models["personas"]) == "served"
