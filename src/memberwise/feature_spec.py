"""What defines a model's inputs and label: it is recorded with the registered version and travels with it.

A model is only meaningful on the features and label it was trained on: the label horizon, the window
that makes a customer "new" (`customer_type`) and the day windows of the counts. Training records them
here; the model carries them, the registered version repeats them as tags, and promote and score read
them back from the version, never from the settings or YAML of whatever directory a command runs in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from memberwise.catalogue import WINDOWS

TAG_PREFIX = "feature_spec."


@dataclass(frozen=True)
class FeatureSpec:
    """The settings that define a model's feature table and label."""

    horizon_days: int = 90  # label: a paid order within this many days after the cutoff
    new_window_days: int = 90  # customer_type 'new': first purchase within this many days
    windows: tuple[int, ...] = WINDOWS  # day windows of the windowed counts and sums

    def __post_init__(self) -> None:
        if self.horizon_days < 1 or self.new_window_days < 1:
            raise ValueError(f"horizon_days and new_window_days must be positive: {self}")
        if tuple(self.windows) != WINDOWS:
            # The feature SQL computes WINDOWS only: a spec asking for others could not be reproduced.
            raise ValueError(f"feature windows {self.windows} are not computed here (only {WINDOWS})")

    def as_dict(self) -> dict[str, object]:
        """Plain values (for a release manifest or run params)."""
        return {**asdict(self), "windows": list(self.windows)}

    def tags(self) -> dict[str, str]:
        """The spec as model-version tags (`feature_spec.horizon_days` = '28', ...)."""
        return {
            f"{TAG_PREFIX}horizon_days": str(self.horizon_days),
            f"{TAG_PREFIX}new_window_days": str(self.new_window_days),
            f"{TAG_PREFIX}windows": ",".join(map(str, self.windows)),
        }

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> FeatureSpec | None:
        """The spec recorded in a version's tags, or None when the version carries none."""
        if f"{TAG_PREFIX}horizon_days" not in tags:
            return None
        return cls(
            horizon_days=int(tags[f"{TAG_PREFIX}horizon_days"]),
            new_window_days=int(tags[f"{TAG_PREFIX}new_window_days"]),
            windows=tuple(int(w) for w in tags[f"{TAG_PREFIX}windows"].split(",")),
        )
