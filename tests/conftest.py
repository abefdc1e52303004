"""Shared fixtures: small seeded demo brands generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memberwise.data.demo import DemoConfig, generate

DEMO_SNAPSHOT = pd.Timestamp("2026-11-15 23:59:59")


@pytest.fixture(scope="session")
def demo_brand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean 3,000-person brand (Parquet)."""
    out = tmp_path_factory.mktemp("brand")
    generate(DemoConfig(members=3_000, seed=11), out)
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
