"""Shared fixtures: small seeded demo brands generated once per test session."""

from __future__ import annotations

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
    return Settings(home=tmp_path_factory.mktemp(name), snapshot_date=DEMO_SNAPSHOT_DAY)


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
