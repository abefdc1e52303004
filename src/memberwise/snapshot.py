"""The served score snapshot: every member's score, selection, channel, reasons and features at as_of.

Written atomically (temp file + rename) so a failed retrain never leaves a half-written snapshot,
and the service always reads a complete one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SNAPSHOT_FILE = "latest.parquet"
META_FILE = "latest.json"
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


def write_snapshot(frame: pd.DataFrame, meta: SnapshotMeta, directory: Path) -> Path:
    """Replace the snapshot in `directory` atomically; `reasons` is a list of strings per member."""
    directory.mkdir(parents=True, exist_ok=True)
    missing = [c for c in SCORE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"snapshot lacks column(s): {', '.join(missing)}")
    tmp = directory / f".{SNAPSHOT_FILE}.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, directory / SNAPSHOT_FILE)
    tmp_meta = directory / f".{META_FILE}.tmp"
    tmp_meta.write_text(json.dumps(meta.__dict__, indent=2))
    os.replace(tmp_meta, directory / META_FILE)
    return directory / SNAPSHOT_FILE


def read_snapshot(directory: Path) -> tuple[pd.DataFrame, SnapshotMeta]:
    """The latest snapshot and its metadata (FileNotFoundError when no retrain has produced one)."""
    frame = pd.read_parquet(directory / SNAPSHOT_FILE)
    meta = SnapshotMeta(**json.loads((directory / META_FILE).read_text()))
    return frame, meta
