"""Shared fixtures: small seeded demo brands generated once per test session."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def demo_brand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean 3,000-person brand (Parquet)."""
    out = tmp_path_factory.mktemp("brand")
    generate(DemoConfig(members=3_000, seed=11), out)
    return out


@pytest.fixture(scope="session")
def model_brand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6,000-person brand (seed 21): enough history for the personas and forecast quality targets."""
    out = tmp_path_factory.mktemp("model-brand")
    generate(DemoConfig(members=6_000, seed=21), out)
    return out


@pytest.fixture(scope="session")
def dirty_brand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000-person brand (CSV) with known invalid rows of every kind."""
    out = tmp_path_factory.mktemp("dirty")
    generate(DemoConfig(members=1_000, seed=5, dirty=True, file_format="csv"), out)
    return out


def tiny_data(**tables: pd.DataFrame):  # noqa: ANN201 - returns ValidatedData
    """Validate hand-written tables (strings or typed values) as if read from files."""
    from memberwise.data.io import RawTable, validate

    raw = {name: RawTable.of(frame, f"{name}.csv", first_row_number=2) for name, frame in tables.items()}
    return validate(raw, DEMO_SNAPSHOT)
