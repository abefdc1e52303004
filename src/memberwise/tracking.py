"""MLflow conventions: one place for experiment names, tags, lineage, figures and registry aliases."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow
import pandas as pd
from matplotlib.figure import Figure
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

import memberwise
from memberwise.registry import (  # noqa: F401 - re-exported: the pipelines' MLflow conventions live here
    CHALLENGER,
    CHAMPION,
    FORECAST_MODEL,
    PERSONAS_MODEL,
    PREVIOUS,
    PROPENSITY_MODEL,
    configure,
)
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)
EXPERIMENTS = {
    "propensity": "memberwise-propensity",
    "personas": "memberwise-personas",
    "forecast": "memberwise-forecast",
    "gap": "memberwise-gap",
    "budget": "memberwise-budget",
    "campaigns": "memberwise-campaigns",
    "uplift": "memberwise-uplift",
    "retrain": "memberwise-retrain",
}


def experiment_id(settings: Settings, kind: str) -> str:
    """Get or create an experiment with an explicit artifact location (never ./mlruns)."""
    client = configure(settings)
    name = EXPERIMENTS[kind]
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = (settings.artifact_root / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


def code_version() -> str:
    """The git commit of the code when run from a checkout, else the package version."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return memberwise.__version__


def data_fingerprint(wh: Warehouse) -> str:
    """A content hash of the validated contract tables (row counts and row hashes), for lineage.

    Computed once per warehouse content (cached on the warehouse until a contract table is replaced).
    """
    if wh.fingerprint is None:
        digest = hashlib.sha256()
        for table in sorted(wh.present):
            count, checksum = wh.con.execute(
                f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {table} t"
            ).fetchall()[0]
            digest.update(f"{table}:{count}:{checksum};".encode())
        wh.fingerprint = digest.hexdigest()[:16]
    return wh.fingerprint


def run_tags(trigger: str, fingerprint: str, as_of: str, **extra: str) -> dict[str, str]:
    """The tags every run carries, so analysts can filter and compare runs."""
    return {
        "trigger": trigger,
        "code_version": code_version(),
        "data_fingerprint": fingerprint,
        "as_of": as_of,
        **extra,
    }


def log_figure(fig: Figure, name: str) -> None:
    """Log a matplotlib figure as figures/<name>.png and free it."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(fig, f"figures/{name}.png")
    plt.close(fig)


def log_frame(frame: pd.DataFrame, name: str) -> None:
    """Log a table as tables/<name>.csv (readable in the MLflow UI's artifact viewer)."""
    mlflow.log_text(frame.to_csv(index=False), f"tables/{name}.csv")


@contextmanager
def child_run(name: str, **tags: str) -> Iterator[mlflow.ActiveRun]:
    """A nested run under the active one, in the same experiment (not MLflow's Default one)."""
    parent = mlflow.active_run()
    experiment = parent.info.experiment_id if parent else None
    with mlflow.start_run(run_name=name, nested=True, experiment_id=experiment, tags=tags) as run:
        yield run


def register_challenger(
    name: str,
    python_model: PythonModel,
    example: pd.DataFrame,
    pip_requirements: list[str],
    params: dict[str, Any] | None = None,
) -> str:
    """Log a pyfunc in the active run, register it under `name`, alias the new version `challenger`.

    The signature comes from the example (and params); requirements are explicit (see STACK-NOTES).
    """
    output = python_model.predict(None, example, params)
    # MLflow prints "Successfully registered / Created version" to stderr itself: one log line instead.
    with contextlib.redirect_stderr(io.StringIO()):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,
            signature=infer_signature(example, output, params),
            input_example=(example, params) if params else example,
            pip_requirements=pip_requirements,
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(name, CHALLENGER, version)
    log.info("registered %s v%s (alias %s)", name, version, CHALLENGER)
    return version
