"""Loading what the service answers from: the champion, the latest snapshot, personas and planning."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from memberwise import tracking
from memberwise.errors import MemberwiseError
from memberwise.modeling.forecaster import RNNForecaster
from memberwise.modeling.propensity import PropensityModel
from memberwise.pipelines.forecast import load_forecaster
from memberwise.pipelines.personas import load_personas
from memberwise.pipelines.planning import PLANNING_DIR, PlanningInputs, read_planning
from memberwise.serving.state import ServingState
from memberwise.settings import Settings
from memberwise.snapshot import read_snapshot

log = logging.getLogger("memberwise.serving")


@dataclass
class Champion:
    """A registered propensity model version."""

    model: PropensityModel
    version: str


def load_champion(settings: Settings) -> Champion:
    """The model holding the champion alias (resolved once, so the version and weights agree)."""
    client = tracking.configure(settings)
    version = client.get_model_version_by_alias(tracking.PROPENSITY_MODEL, tracking.CHAMPION).version
    return Champion(tracking.load_version(str(version)), str(version))


@dataclass
class Planning:
    """What /gap and /allocate answer from: the champion forecast and the retrain's planning inputs."""

    forecaster: RNNForecaster
    forecast_version: str
    inputs: PlanningInputs


def load_state(settings: Settings) -> ServingState:
    """Load the champion and the latest snapshot (clear errors when either is missing)."""
    try:
        champion = load_champion(settings)
    except Exception as exc:
        raise RuntimeError(
            f"cannot load the champion of '{tracking.PROPENSITY_MODEL}' from {settings.tracking_uri}: {exc} "
            "(train and promote a model first: `memberwise retrain`)"
        ) from exc
    try:
        frame, meta = read_snapshot(settings.snapshot_dir)
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"no score snapshot in {settings.snapshot_dir} (`memberwise retrain` writes one)"
        ) from exc
    personas = load_personas(meta.personas_version) if meta.personas_version else None
    return ServingState(champion, frame, meta, personas, load_planning(settings))


def load_planning(settings: Settings) -> Planning | None:
    """The champion forecast and the saved planning inputs, or None (logged) when either is missing."""
    inputs = read_planning(settings.snapshot_dir / PLANNING_DIR)
    try:
        forecaster, version = load_forecaster(settings)
    except MemberwiseError as err:
        log.warning("/gap and /allocate unavailable: %s", err)
        return None
    if inputs is None:
        log.warning("/gap and /allocate unavailable: no planning inputs (`memberwise retrain` saves them)")
        return None
    return Planning(forecaster, version, inputs)
