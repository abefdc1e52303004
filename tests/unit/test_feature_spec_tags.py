"""The feature spec round-trips through version tags and refuses what the feature SQL cannot compute."""

from __future__ import annotations

import pytest

from memberwise.catalogue import WINDOWS
from memberwise.feature_spec import FeatureSpec
from memberwise.modeling.propensity import PropensityModel


def test_tags_round_trip() -> None:
    spec = FeatureSpec(horizon_days=28, new_window_days=30)
    tags = spec.tags()
    assert tags["feature_spec.horizon_days"] == "28"
    assert FeatureSpec.from_tags({**tags, "gate": "approved"}) == spec
    assert FeatureSpec.from_tags({"gate": "approved"}) is None
    assert spec.as_dict() == {"horizon_days": 28, "new_window_days": 30, "windows": list(WINDOWS)}


@pytest.mark.parametrize("kwargs", [{"horizon_days": 0}, {"new_window_days": -1}, {"windows": (7, 30)}])
def test_invalid_specs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FeatureSpec(**kwargs)  # type: ignore[arg-type]


def test_the_model_carries_its_spec() -> None:
    model = PropensityModel(horizon_days=28, new_window_days=30)
    assert model.feature_spec == FeatureSpec(horizon_days=28, new_window_days=30)
    del model.new_window_days  # a model pickled before the spec existed was trained on 90 days
    assert model.feature_spec.new_window_days == 90
