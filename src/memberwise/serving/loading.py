"""Loading what the service answers from: the current release and the exact model versions it names.

The service reads nothing else: not the aliases (a release pins its versions, which the switch made the
champions), not the pipelines. `watch` notices a newly published release so a running service moves
to it as a whole: the new state is built aside and swapped in one assignment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from memberwise import registry, release
from memberwise.errors import MemberwiseError
from memberwise.locking import RETRAIN_LOCK, exclusive_lock
from memberwise.modeling.propensity import PropensityModel
from memberwise.planning_inputs import PlanningInputs
from memberwise.serving.state import ServingState
from memberwise.settings import Settings

log = logging.getLogger("memberwise.serving")


@dataclass
class Champion:
    """A registered propensity model version."""

    model: PropensityModel
    version: str


@dataclass
class Planning:
    """What /gap and /allocate answer from: the release's forecaster and planning inputs."""

    forecaster: Any  # anything with predict(history, cutoff, horizon) -> week, audience, q10, q50, q90
    forecast_version: str
    inputs: PlanningInputs


def repair_if_idle(settings: Settings) -> None:
    """Finish a switch a killed retrain left half-done, unless a retrain is running (it owns the switch)."""
    try:
        with exclusive_lock(settings.home / RETRAIN_LOCK):
            release.repair(settings)
    except MemberwiseError:
        log.info("a retrain is running: serving the current release as it is")


def load_state(settings: Settings) -> tuple[str, ServingState]:
    """The current release's id and the state built from it (clear errors when there is none)."""
    registry.configure(settings)
    repair_if_idle(settings)
    try:
        current = release.current(settings)
    except MemberwiseError as err:
        raise RuntimeError(str(err)) from None
    if current is None:
        raise RuntimeError(
            f"no release in {release.releases_dir(settings)}: `memberwise retrain` publishes one"
        )
    return current.id, state_of(current)


def state_of(current: release.Release) -> ServingState:
    """Everything the endpoints need, from one release and the versions it names."""
    models = current.manifest.models
    try:
        champion = Champion(registry.load("propensity", models["propensity"]), models["propensity"])
        personas = registry.load("personas", models["personas"]) if "personas" in models else None
    except Exception as exc:
        raise RuntimeError(f"cannot load the models of release {current.id} ({models}): {exc}") from exc
    return ServingState(
        champion,
        current.scores(),
        current.manifest.snapshot_meta,
        personas,
        _planning(current),
        uplift_verdict=current.manifest.uplift,
    )


def _planning(current: release.Release) -> Planning | None:
    """The release's forecaster and planning inputs, or None (logged) when it has either missing."""
    version, inputs = current.manifest.models.get("forecast"), current.planning()
    if version is None or inputs is None:
        missing = "a forecast model" if version is None else "planning inputs"
        log.warning("/gap and /allocate unavailable: release %s has no %s", current.id, missing)
        return None
    return Planning(registry.load("forecast", version), version, inputs)


def newer_release(settings: Settings, serving: str | None) -> str | None:
    """The id of the current release when it differs from the one being served, else None."""
    latest = release.current_id(settings)
    return latest if latest is not None and latest != serving else None
