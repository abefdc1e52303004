"""Shared fixtures: small seeded demo brands generated once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from memberwise.data.demo import DemoConfig, generate
from memberwise.settings import Settings

DEMO_SNAPSHOT = pd.Timestamp("2026-11-15 23:59:59")
DEMO_SNAPSHOT_DAY = date(2026, 11, 15)  # the last day of data in every generated demo brand


def fresh_settings(tmp_path_factory: pytest.TempPathFactory, name: str = "home") -> Settings:
    """Settings with an empty MEMBERWISE_HOME (its own MLflow store) and the demo brands' snapshot day."""
    home = with_empty_store(tmp_path_factory, tmp_path_factory.mktemp(name))
    return Settings(home=home, snapshot_date=DEMO_SNAPSHOT_DAY)


def with_empty_store(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Path:
    """`home` holding an empty MLflow store: a copy of one created once per session.

    Creating a SQLite store runs MLflow's schema migrations, ~6 s of disk writes each time; the copy is
    the same empty store. Homes whose test is about a first start (the cron retrain's log, a service with
    nothing to load) are left without one.
    """
    template = tmp_path_factory.getbasetemp() / "empty-mlflow-store" / "mlflow.db"
    if not template.exists():
        from mlflow import MlflowClient

        template.parent.mkdir()
        uri = f"sqlite:///{template}"
        MlflowClient(uri, uri).search_experiments()  # creates and migrates the store, as configure() does
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, home / "mlflow.db")
    return home


BrandOf = Callable[[DemoConfig], Path]


@pytest.fixture(scope="session")
def brand_of(tmp_path_factory: pytest.TempPathFactory) -> BrandOf:
    """The demo brand of a config, generated once per session: modules asking for the same brand share it.

    Read it in place (prepare, read files, pass it to a command); copy it first to change a file.
    """
    made: dict[DemoConfig, Path] = {}

    def brand(cfg: DemoConfig) -> Path:
        if cfg not in made:
            out = tmp_path_factory.mktemp(f"brand-{cfg.profile}-{cfg.members}-{cfg.seed}")
            generate(cfg, out)
            made[cfg] = out
        return made[cfg]

    return brand


@pytest.fixture(scope="session")
def demo_brand(brand_of: BrandOf) -> Path:
    """A clean 3,000-person brand (Parquet)."""
    return brand_of(DemoConfig(members=3_000, seed=11))


@pytest.fixture(scope="session")
def model_brand(brand_of: BrandOf) -> Path:
    """A 6,000-person brand (seed 21): enough history for the personas and forecast quality targets."""
    return brand_of(DemoConfig(members=6_000, seed=21))


@pytest.fixture(scope="session")
def dirty_brand(brand_of: BrandOf) -> Path:
    """A 1,000-person brand (CSV) with known invalid rows of every kind."""
    return brand_of(DemoConfig(members=1_000, seed=5, dirty=True, file_format="csv"))


def tiny_data(**tables: pd.DataFrame):  # noqa: ANN201 - returns ValidatedData
    """Validate hand-written tables (strings or typed values) as if read from files."""
    from memberwise.data.io import RawTable, validate

    raw = {name: RawTable.of(frame, f"{name}.csv", first_row_number=2) for name, frame in tables.items()}
    return validate(raw, DEMO_SNAPSHOT)
