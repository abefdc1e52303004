"""The one loader of registered models and their aliases.

Every reader (pipelines, CLI, service) loads a model through `load(kind, version)`: a registered version
is immutable, so the loaded object is cached per (registry, kind, version). Aliases say which version is
`champion`, `previous-champion` or `challenger`; only `memberwise.release` moves `champion` (together with
the release pointer), so what the registry calls champion and what the service answers from never differ.
This module imports MLflow and the settings only: the service can use it without the pipelines.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from memberwise.errors import MemberwiseError
from memberwise.settings import Settings

PROPENSITY_MODEL = "memberwise-propensity"
PERSONAS_MODEL = "memberwise-personas"
FORECAST_MODEL = "memberwise-forecast"
MODEL_NAMES = {"propensity": PROPENSITY_MODEL, "personas": PERSONAS_MODEL, "forecast": FORECAST_MODEL}
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous-champion"
_TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "BENTOML_DO_NOT_TRACK": "true"}


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at the project's store (SQLite by default) with telemetry off; return a client."""
    for key, value in _TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return MlflowClient(settings.tracking_uri, settings.tracking_uri)


def model_name(kind: str) -> str:
    """The registered name of a model kind ('propensity', 'personas', 'forecast')."""
    try:
        return MODEL_NAMES[kind]
    except KeyError:
        raise MemberwiseError(f"unknown model kind {kind!r}: one of {', '.join(MODEL_NAMES)}") from None


def version_by_alias(client: MlflowClient, kind: str, alias: str) -> str | None:
    """The version number holding an alias of a model kind, or None."""
    try:
        return str(client.get_model_version_by_alias(model_name(kind), alias).version)
    except MlflowException:
        return None


def aliases(client: MlflowClient, alias: str = CHAMPION) -> dict[str, str]:
    """Kind -> version for every model kind that has `alias`."""
    found = {kind: version_by_alias(client, kind, alias) for kind in MODEL_NAMES}
    return {kind: version for kind, version in found.items() if version is not None}


def version_tags(client: MlflowClient, kind: str, version: str) -> dict[str, str]:
    """The tags of a registered version (the gate verdict, the label and feature spec it was trained with)."""
    return dict(client.get_model_version(model_name(kind), version).tags)


def load(kind: str, version: str) -> Any:
    """The fitted model object (PropensityModel, PersonaModel, forecaster) inside a registered version."""
    return _load(mlflow.get_registry_uri(), kind, str(version))


@lru_cache(maxsize=16)
def _load(registry_uri: str, kind: str, version: str) -> Any:
    pyfunc = mlflow.pyfunc.load_model(f"models:/{model_name(kind)}/{version}")
    return pyfunc.unwrap_python_model().model
