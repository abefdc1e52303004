"""A big brand's propensity windows are hashed samples drawn in the engine: small, stable, unbiased splits.

The caps are lowered so a 3,000-person brand behaves as a 10M-member one does with the defaults.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from memberwise.config import SplitConfig, WindowsConfig
from memberwise.feature_spec import FeatureSpec
from memberwise.features import build_features, repurchase_labels
from memberwise.pipelines.prepare import prepare
from memberwise.pipelines.propensity_windows import labelled_window, member_unit, validation_window
from memberwise.warehouse import Warehouse
from tests.conftest import fresh_settings

AS_OF = date(2026, 11, 16)
SPEC = FeatureSpec(horizon_days=90, new_window_days=90)


@pytest.fixture(scope="module")
def wh(demo_brand: Path, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return prepare(demo_brand, fresh_settings(tmp_path_factory, "windows-home")).warehouse


def test_capped_validation_window_is_a_stable_hashed_sample(wh: Warehouse) -> None:
    members = int(str(wh.scalar("SELECT count(*) FROM members")))
    whole = validation_window(wh, AS_OF, SPEC, SplitConfig())
    capped = validation_window(wh, AS_OF, SPEC, SplitConfig(), max_members=members // 4)
    again = validation_window(wh, AS_OF, SPEC, SplitConfig(), max_members=members // 4)
    assert len(capped.features) < 0.4 * len(whole.features)
    assert capped.features["member_id"].equals(again.features["member_id"])
    share = (members // 4) / members
    assert (member_unit(capped.features["member_id"]) < share).all()
    # Same rows and labels as the whole window's, for the members kept; the halves stay balanced.
    kept = whole.features["member_id"].isin(capped.features["member_id"]).to_numpy()
    assert kept.sum() == len(capped.features)
    assert np.array_equal(whole.labels[kept], capped.labels)
    assert 0.4 < (capped.part == "holdout").mean() < 0.6


def test_window_features_and_labels_match_the_feature_table(wh: Warehouse) -> None:
    window = validation_window(wh, AS_OF, SPEC, SplitConfig())
    cutoff = window.validation_cutoff
    features = build_features(wh, cutoff, SPEC.new_window_days)
    labels = repurchase_labels(wh, cutoff, SPEC.horizon_days)
    assert window.features.equals(features)
    assert np.array_equal(window.labels, labels["repurchased"].to_numpy(dtype=bool))


def test_older_windows_are_sampled_to_max_train_rows(wh: Warehouse) -> None:
    window = labelled_window(wh, AS_OF, SPEC, SplitConfig(), WindowsConfig(max_train_rows=1_000))
    older = np.isin(window.part, ["train", "early_stop"])
    assert 600 < older.sum() < 1_400
    assert window.labels[older].mean() == pytest.approx(window.labels[~older].mean(), abs=0.15)
