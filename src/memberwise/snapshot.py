"""The served score snapshot's shape: every member's score, selection, channel, reasons and features.

It lives inside a release (`memberwise.release`), which is published atomically with its champions.
"""

from __future__ import annotations

from dataclasses import dataclass

# The columns the service answers from; the member feature columns follow them in the file.
SCORE_COLUMNS = (
    "member_id", "score", "probability", "selected", "lifecycle_stage", "preferred_channel", "persona_id",
    "persona", "reasons", "model_version",
)  # fmt: skip


@dataclass(frozen=True)
class SnapshotMeta:
    """What produced the snapshot."""

    as_of: str
    model_version: str
    threshold: float
    members: int
    selected: int
    personas_version: str | None = None  # the personas model behind `persona` (None: no personas yet)
