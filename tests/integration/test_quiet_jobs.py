"""A scheduled retrain writes a log a person can read: no progress frames, no library chatter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from memberwise.config.files import DEFAULTS_DIR
from memberwise.settings import Settings
from tests.conftest import DEMO_SNAPSHOT_DAY

CLI = [sys.executable, "-c", "from memberwise.cli import main; main()"]
CHATTER = (
    "\r",  # progress-bar frames
    "A new study created",  # Optuna
    "Traceback",
    "Inferred schema contains integer column",  # MLflow's schema hint
    "CloudPickle",  # MLflow's pickling notice
    "training forecaster",  # the forecaster's epoch bar
    "Best trial:",  # Optuna's trials bar
)


@pytest.fixture(scope="module")
def quick_configs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged forecast config with a short training; every other config is the packaged default."""
    directory = tmp_path_factory.mktemp("configs")
    forecast = yaml.safe_load((DEFAULTS_DIR / "forecast.yaml").read_text())
    forecast["rnn"]["epochs"] = 5
    forecast["backtest"]["origins"] = 2
    (directory / "forecast.yaml").write_text(yaml.safe_dump(forecast))
    return directory


@pytest.fixture(scope="module")
def cron_run(demo_brand: Path, quick_configs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`memberwise retrain` as cron runs it: stdout and stderr to files, no terminal anywhere."""
    home = tmp_path_factory.mktemp("quiet-home")
    logs = tmp_path_factory.mktemp("logs")
    env = {**os.environ, "MEMBERWISE_HOME": str(home)}
    args = ["retrain", "--data", str(demo_brand), "--snapshot-date", str(DEMO_SNAPSHOT_DAY)]
    with (logs / "out.log").open("w") as out, (logs / "err.log").open("w") as err:
        result = subprocess.run(
            [*CLI, *args, "--config-dir", str(quick_configs)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, timeout=1800,
        )  # fmt: skip
    return {
        "returncode": result.returncode,
        "stdout": (logs / "out.log").read_text(),
        "stderr": (logs / "err.log").read_text(),
        "home": home,
    }


@pytest.mark.slow
def test_a_cron_retrain_logs_no_bars_and_no_library_chatter(cron_run: dict) -> None:
    assert cron_run["returncode"] == 0, cron_run["stderr"]
    for stream in ("stdout", "stderr"):
        found = [text for text in CHATTER if text in cron_run[stream]]
        assert found == [], (stream, found, cron_run[stream][-3000:])
    assert "retrain" in cron_run["stdout"] and "selected" in cron_run["stdout"]  # the summary is there


@pytest.mark.slow
def test_pruned_trials_are_recorded_as_pruned_not_failed(cron_run: dict) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(Settings(home=cron_run["home"]).tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    trials = client.search_runs(experiments, "tags.kind = 'optuna-trial'", max_results=1000)
    outcome = Counter((run.data.tags.get("state"), run.info.status) for run in trials)
    assert set(outcome) <= {("complete", "FINISHED"), ("pruned", "KILLED")}, outcome
    assert outcome.get(("pruned", "KILLED"), 0) >= 1, outcome  # the default search does prune on this brand
