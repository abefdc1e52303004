"""Without a snapshot date the cutoff follows the data, not the calendar: exports run days after they end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from memberwise.data.demo import DemoConfig
from memberwise.errors import MemberwiseError
from memberwise.pipelines.prepare import default_cutoff, prepare
from memberwise.settings import Settings
from tests.conftest import DEMO_SNAPSHOT_DAY, BrandOf


@pytest.fixture(scope="module")
def brand(brand_of: BrandOf) -> Path:
    return brand_of(DemoConfig(members=300, seed=5))


def test_the_cutoff_is_the_day_after_the_last_order(brand: Path, tmp_path: Path) -> None:
    # The demo's orders end on DEMO_SNAPSHOT_DAY; today (the default snapshot) is later.
    assert date.today() > DEMO_SNAPSHOT_DAY
    prepared = prepare(brand, Settings(home=tmp_path))
    assert prepared.default_as_of == date(2026, 11, 16)


def test_a_snapshot_date_given_wins(brand: Path, tmp_path: Path) -> None:
    prepared = prepare(brand, Settings(home=tmp_path, snapshot_date=date(2026, 12, 31)))
    assert prepared.default_as_of == date(2027, 1, 1)
    prepared = prepare(brand, Settings(home=tmp_path, snapshot_date=date(2026, 10, 1)))
    assert prepared.default_as_of == date(2026, 10, 2)


def test_no_valid_order_is_one_clear_error(brand: Path, tmp_path: Path) -> None:
    prepared = prepare(brand, Settings(home=tmp_path))
    wh = prepared.duckdb("test")
    wh.execute("DELETE FROM orders")
    with pytest.raises(MemberwiseError, match="no valid orders"):
        default_cutoff(wh, None)
