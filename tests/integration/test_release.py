"""Releases: the served scores, planning inputs and champions change together, whatever kills a retrain.

Fast tests drive `memberwise.release` against a real MLflow registry with tiny registered models and
stop a switch at each of its steps; the slow test SIGKILLs a real retrain process at those steps and
checks that the service's loader then serves exactly the registry's champions, and that the next plain
retrain repairs everything (runs of the killed retrain marked FAILED).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc import PythonModel

from memberwise import release
from memberwise.errors import MemberwiseError
from memberwise.registry import CHAMPION, PREVIOUS, aliases, configure, model_name, version_by_alias
from memberwise.serving.loading import load_state
from memberwise.settings import Settings
from memberwise.snapshot import SCORE_COLUMNS
from tests.conftest import DEMO_SNAPSHOT_DAY, with_empty_store

SWITCH_STEPS = ("release built", "journal written", "propensity alias moved", "personas alias moved")
# A real process is killed before the switch, right after an alias moved, and after the pointer moved.
KILL_STEPS = ("release built", "propensity alias moved", "pointer switched")


class Tagged(PythonModel):
    """A stand-in registered model: enough for aliases and the loader."""

    def __init__(self, tag: str) -> None:
        self.model = tag

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        return model_input


class Crash(Exception):
    """Stops a switch at a step, like a kill would (the switch has no cleanup to run)."""


def _register(settings: Settings, kind: str, tag: str) -> str:
    configure(settings)
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=Tagged(tag),
            registered_model_name=model_name(kind),
            pip_requirements=[],
        )
    return str(info.registered_model_version)


def _scores(members: int, seed: int) -> pd.DataFrame:
    score = np.random.default_rng(seed).integers(0, 101, members)
    frame = pd.DataFrame({"member_id": [f"m{i}" for i in range(members)], "score": score})
    return frame.assign(
        probability=score / 100, selected=score > 60, reasons=[[]] * members, model_version="x"
    ).assign(**{c: None for c in SCORE_COLUMNS if c not in frame.columns and c != "reasons"})


def _manifest(settings: Settings, models: dict[str, str], scores: pd.DataFrame) -> release.Manifest:
    return release.Manifest(
        release.new_id(settings),
        "test",
        "2026-11-15",
        models,
        60.0,
        len(scores),
        int(scores["selected"].sum()),
        previous=release.current_id(settings),
    )


def _publish(settings: Settings, tag: str, crash_at: str | None = None) -> release.Manifest:
    models = {kind: _register(settings, kind, tag) for kind in ("propensity", "personas")}
    scores = _scores(50, seed=len(tag))
    manifest = _manifest(settings, models, scores)

    def crash_point(step: str) -> None:
        if step == crash_at:
            raise Crash(step)

    with contextlib.suppress(Crash):
        release.publish(settings, manifest, scores, None, crash_point)
    return manifest


def _consistent(settings: Settings) -> dict[str, str]:
    """The champions, after asserting they are exactly the current release's versions."""
    served = release.require_current(settings).manifest.models
    assert aliases(configure(settings)) == served
    return served


@pytest.mark.parametrize("step", SWITCH_STEPS)
def test_an_interrupted_switch_leaves_old_or_new_and_repair_finishes_it(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, step: str
) -> None:
    settings = Settings(home=with_empty_store(tmp_path_factory, tmp_path))
    old = _publish(settings, "old")
    assert _consistent(settings) == old.models
    new = _publish(settings, "new", crash_at=step)
    current = release.require_current(settings)
    assert current.id == old.id  # the pointer has not moved: the service still serves the old release
    release.repair(settings)
    expected = old if step == "release built" else new  # once the journal exists, the switch completes
    assert _consistent(settings) == expected.models
    assert release.require_current(settings).id == expected.id
    assert release.repair(settings) is None  # nothing left to do


def test_rollback_restores_a_whole_release_and_prune_keeps_the_current(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = Settings(home=with_empty_store(tmp_path_factory, tmp_path), releases_kept=2)
    first = _publish(settings, "first")
    with pytest.raises(MemberwiseError, match="nothing to roll back to"):
        release.rollback(settings)
    second = _publish(settings, "second")
    before, after = release.rollback(settings)
    assert (before.id, after.id) == (second.id, first.id)
    assert _consistent(settings) == first.models
    client = configure(settings)
    assert version_by_alias(client, "propensity", PREVIOUS) == second.models["propensity"]
    pd.testing.assert_frame_equal(after.scores(), _scores(50, seed=len("first")))
    _publish(settings, "third")  # keeps 2: the oldest goes
    kept = sorted(p.name for p in release.releases_dir(settings).iterdir() if p.is_dir())
    assert len(kept) == 2 and release.current_id(settings) in kept and first.id not in kept


def test_a_damaged_pointer_is_a_clear_error(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = Settings(home=with_empty_store(tmp_path_factory, tmp_path))
    _publish(settings, "only")
    (release.releases_dir(settings) / release.CURRENT_FILE).write_text("r-gone")
    with pytest.raises(MemberwiseError, match="r-gone.*missing or damaged"):
        release.current(settings)


# ---- a real retrain, killed ------------------------------------------------------------------------------

KILLED_RETRAIN = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from pathlib import Path
    from memberwise.config import OptunaConfig, PropensityConfig, RetrainConfig, ForecastConfig, RNNConfig
    from memberwise.config import BacktestConfig
    from memberwise.pipelines.retrain import retrain
    from memberwise.settings import Settings

    brand, home, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    cfg = RetrainConfig(
        propensity=PropensityConfig(optuna=OptunaConfig(trials=2, timeout_seconds=60)),
        forecast=ForecastConfig(rnn=RNNConfig(epochs=4), backtest=BacktestConfig(origins=1)),
    )

    def die(at):
        if at == step:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = Settings(home=home, snapshot_date=date(2026, 11, 15))
    retrain(brand, settings, cfg, trigger="manual", force=True, crash_point=die)
    """
)


def _retrain(brand: Path, home: Path, step: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", KILLED_RETRAIN, str(brand), str(home), step],
        capture_output=True, text=True, timeout=900, env={**os.environ, "MEMBERWISE_HOME": str(home)},
    )  # fmt: skip


@pytest.mark.slow
def test_a_retrain_killed_at_any_step_leaves_the_service_on_the_registrys_champions(
    demo_brand: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = with_empty_store(tmp_path_factory, tmp_path / "home")
    first = _retrain(demo_brand, home, "never")
    assert first.returncode == 0, first.stderr[-2000:]
    settings = Settings(home=home, snapshot_date=DEMO_SNAPSHOT_DAY)
    published = release.require_current(settings)
    assert published.manifest.uplift is not None  # the demo's campaigns teach uplift: the verdict ships
    assert published.scores()["uplift"].notna().any()
    assert (published.path / release.PURCHASES_FILE).exists()
    assert load_state(settings)[1].uplift_verdict == published.manifest.uplift
    for step in KILL_STEPS:
        before = release.require_current(settings).id
        killed = _retrain(demo_brand, home, step)
        assert killed.returncode == -signal.SIGKILL, (step, killed.stderr[-2000:])
        served_id, state = load_state(settings)  # what a (re)starting service answers from
        served = {"propensity": state.champion.version, **state.snapshot_versions}
        if state.planning is not None:
            served["forecast"] = state.planning.forecast_version
        assert served == aliases(configure(settings)), step  # exactly the registry's champions
        assert served_id == before if step == "release built" else served_id != before, step
        client = configure(settings)
        assert version_by_alias(client, "propensity", CHAMPION) == state.meta.model_version
    last = _retrain(demo_brand, home, "never")  # the next plain retrain: repairs, then publishes
    assert last.returncode == 0, last.stderr[-2000:]
    _consistent(settings)
    client = configure(settings)
    retrain_runs = mlflow.search_runs(
        experiment_names=["memberwise-retrain"], filter_string="attributes.status = 'RUNNING'"
    )
    assert retrain_runs.empty  # every killed retrain was marked FAILED
    failed = mlflow.search_runs(
        experiment_names=["memberwise-retrain"], filter_string="attributes.status = 'FAILED'"
    )
    assert len(failed) == len(KILL_STEPS)
    children = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], filter_string="attributes.status = 'RUNNING'"
    )
    assert not children
