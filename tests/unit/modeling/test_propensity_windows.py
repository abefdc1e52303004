"""Training windows for any horizon: labels end by the validation cutoff, spacing and history rules hold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from memberwise.config import WindowsConfig
from memberwise.feature_spec import FeatureSpec
from memberwise.pipelines.propensity_windows import member_unit, training_cutoffs

VALIDATION = date(2026, 8, 18)


@pytest.mark.parametrize(("horizon", "step"), [(28, 28), (90, 45), (180, 90)])
def test_no_training_label_reaches_into_the_validation_window(horizon: int, step: int) -> None:
    cutoffs = training_cutoffs(VALIDATION, FeatureSpec(horizon_days=horizon), WindowsConfig(training=3), None)
    assert cutoffs == []  # no data, no windows
    start = date(2020, 1, 1)
    cutoffs = training_cutoffs(
        VALIDATION, FeatureSpec(horizon_days=horizon), WindowsConfig(training=3), start
    )
    assert len(cutoffs) == 3
    assert cutoffs[0] + timedelta(days=horizon) == VALIDATION  # the newest label period ends at the cutoff
    assert all(c + timedelta(days=horizon) <= VALIDATION for c in cutoffs)
    assert [(a - b).days for a, b in zip(cutoffs, cutoffs[1:], strict=False)] == [step, step]


def test_short_history_keeps_only_windows_with_enough_data_before_them() -> None:
    spec, windows = FeatureSpec(horizon_days=90), WindowsConfig(training=5, min_history_days=90)
    start = VALIDATION - timedelta(days=300)
    cutoffs = training_cutoffs(VALIDATION, spec, windows, start)
    assert cutoffs and all((c - start).days >= 90 for c in cutoffs)
    assert len(cutoffs) < 5


def test_member_hash_is_stable_and_spread() -> None:
    units = member_unit([f"m{i}" for i in range(10_000)])
    assert units.min() >= 0 and units.max() < 1 and abs(units.mean() - 0.5) < 0.02
    assert member_unit(["m42"])[0] == units[42]
