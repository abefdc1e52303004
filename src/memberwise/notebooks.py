"""Shared setup for the review notebooks: make sure the store has champions to review.

On a fresh clone (or in CI) the MLflow store is empty, so each notebook first runs one quick retrain on
a generated demo brand; later notebooks in the same store reuse it.
"""

from __future__ import annotations

from datetime import date

from memberwise import release
from memberwise.config import OptunaConfig, RetrainConfig, load_retrain_config
from memberwise.settings import Settings

DEMO_SNAPSHOT = date(2026, 11, 15)


def quick_configs(trials: int = 8) -> RetrainConfig:
    """The project's configs with a short Optuna search (minutes, not tens of minutes)."""
    configs = load_retrain_config(None)
    optuna = OptunaConfig(trials=trials, timeout_seconds=120)
    return configs.model_copy(update={"propensity": configs.propensity.model_copy(update={"optuna": optuna})})


def ensure_champions(settings: Settings, members: int = 16_000, seed: int = 7) -> Settings:
    """Run a quick demo retrain unless the current release serves every model and has planning inputs."""
    current = release.current(settings)
    complete = current is not None and len(current.manifest.models) == 3
    if complete and current is not None and current.planning() is not None:
        return settings
    from memberwise.data.demo import DemoConfig, generate
    from memberwise.pipelines.retrain import retrain

    brand = settings.demo_dir / "notebook-brand"
    if not (brand / "truth" / "manifest.json").exists():
        generate(DemoConfig(members=members, seed=seed), brand)
    demo_settings = settings.model_copy(update={"snapshot_date": DEMO_SNAPSHOT})
    retrain(brand, demo_settings, quick_configs(), trigger="manual", force=True)
    return demo_settings
