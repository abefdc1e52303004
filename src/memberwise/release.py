"""Releases: what the service answers from, published atomically together with the champion aliases.

Layout under `<home>/releases/`:

    <id>/manifest.json   model version of every model, as_of, threshold, feature spec, config, run, previous
    <id>/scores.parquet  the score snapshot (SCORE_COLUMNS, then member features)
    <id>/planning/       the planning inputs (weekly sales, KPI targets, budget cells, configs)
    <id>/category_purchases.parquet  last paid order per member and category (audience rule `bought`)
    CURRENT              the id of the release being served (replaced with os.replace)
    SWITCH.json          present only while a switch is under way: {"to": id, "from": id or null}

A release directory is complete before anyone can name it (built under `.staging-*`, then renamed) and
never changes after. Switching is: write SWITCH.json, move the `champion` aliases (and
`previous-champion`), replace CURRENT, delete SWITCH.json. A crash before SWITCH.json exists leaves the
old release and old champions; after it, `repair` (run by the next retrain, rollback or service start,
while no retrain holds the lock) rolls the switch forward, which is idempotent. The service reads only
CURRENT and loads the exact versions its manifest names, so it never answers from a mix.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from memberwise import registry
from memberwise.errors import MemberwiseError
from memberwise.planning_inputs import PlanningInputs, read_planning, write_planning
from memberwise.settings import Settings
from memberwise.snapshot import SCORE_COLUMNS, SnapshotMeta

log = logging.getLogger(__name__)

RELEASES_DIR = "releases"
CURRENT_FILE, SWITCH_FILE, MANIFEST_FILE = "CURRENT", "SWITCH.json", "manifest.json"
SCORES_FILE = "scores.parquet"
# Each member's last paid order per category at the release's cutoff (the audience rule `bought`).
PURCHASES_FILE = "category_purchases.parquet"


@dataclass(frozen=True)
class Manifest:
    """What a release is made of; `models` maps a model kind to its registered version."""

    id: str
    created_at: str
    as_of: str
    models: dict[str, str]
    threshold: float
    members: int
    selected: int
    run_id: str | None = None
    previous: str | None = None
    trigger: str = "scheduled"
    feature_spec: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    uplift: dict[str, Any] | None = None  # the held-out uplift verdict behind the snapshot's `uplift`

    @property
    def snapshot_meta(self) -> SnapshotMeta:
        """The score snapshot's metadata in the shape the service and reports already use."""
        return SnapshotMeta(
            self.as_of,
            self.models["propensity"],
            self.threshold,
            self.members,
            self.selected,
            self.models.get("personas"),
        )


@dataclass(frozen=True)
class Release:
    """A published, immutable release directory."""

    path: Path
    manifest: Manifest

    @property
    def id(self) -> str:
        return self.manifest.id

    def scores(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / SCORES_FILE)

    def planning(self) -> PlanningInputs | None:
        return read_planning(self.path / "planning")


def releases_dir(settings: Settings) -> Path:
    """Where every release, the CURRENT pointer and the switch journal live."""
    return settings.home / RELEASES_DIR


def _write_atomically(path: Path, text: str) -> None:
    """Write a small file so readers see the old or the new content, never a torn one (fsynced)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(settings: Settings, release_id: str) -> Release:
    """A published release by id (MemberwiseError when it does not exist or is damaged)."""
    path = releases_dir(settings) / release_id
    try:
        raw = json.loads((path / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as err:
        raise MemberwiseError(f"release {release_id} in {path.parent} is missing or damaged: {err}") from None
    return Release(path, Manifest(**raw))


def current_id(settings: Settings) -> str | None:
    """The id in CURRENT, or None before the first release."""
    try:
        return (releases_dir(settings) / CURRENT_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def current(settings: Settings) -> Release | None:
    """The release being served, or None before the first one."""
    release_id = current_id(settings)
    return None if release_id is None else read(settings, release_id)


def require_current(settings: Settings) -> Release:
    """The release being served (a clear error before any retrain published one)."""
    release = current(settings)
    if release is None:
        raise MemberwiseError(f"no release in {releases_dir(settings)}: run `memberwise retrain` first")
    return release


def new_id(settings: Settings) -> str:
    """A sortable, unique release id: the UTC time, and a counter if two land in the same second."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base, n = releases_dir(settings), 0
    while (base / (candidate := f"r{stamp}" + (f"-{n}" if n else ""))).exists():
        n += 1
    return candidate


def build(
    settings: Settings,
    manifest: Manifest,
    scores: pd.DataFrame,
    planning: PlanningInputs | None,
    purchases: Path | None = None,
) -> Release:
    """Write a complete release directory (staged, fsynced, then renamed into place); not yet current.

    `purchases` is a Parquet file of `PURCHASES_FILE`'s rows, copied in when given.
    """
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"release scores lack column(s): {', '.join(missing)}")
    base = releases_dir(settings)
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f".staging-{manifest.id}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    scores.to_parquet(staging / SCORES_FILE, index=False)
    if planning is not None:
        write_planning(planning, staging / "planning")
    if purchases is not None:
        shutil.copyfile(purchases, staging / PURCHASES_FILE)
    (staging / MANIFEST_FILE).write_text(json.dumps(asdict(manifest), indent=1, default=str))
    for path in staging.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    os.rename(staging, base / manifest.id)
    _fsync_dir(base)
    return read(settings, manifest.id)


# A hook the crash-safety tests use to stop the process between the steps of a switch (None in use).
CrashPoint = Callable[[str], None]


def switch(settings: Settings, release_id: str, crash_point: CrashPoint | None = None) -> Release:
    """Make a built release current, moving the champion aliases with it (see the module docstring)."""
    target = read(settings, release_id)
    hit = crash_point or (lambda _: None)
    journal = {"to": release_id, "from": current_id(settings)}
    _write_atomically(releases_dir(settings) / SWITCH_FILE, json.dumps(journal))
    hit("journal written")
    _finish(settings, target, hit)
    return target


def _finish(settings: Settings, target: Release, hit: CrashPoint) -> None:
    """Move the aliases to the target's versions, then the pointer, then drop the journal (idempotent)."""
    client = registry.configure(settings)
    for kind, version in target.manifest.models.items():
        _move_champion(client, kind, version)
        hit(f"{kind} alias moved")
    _write_atomically(releases_dir(settings) / CURRENT_FILE, target.id)
    hit("pointer switched")
    (releases_dir(settings) / SWITCH_FILE).unlink(missing_ok=True)


def _move_champion(client: MlflowClient, kind: str, version: str) -> None:
    holder = registry.version_by_alias(client, kind, registry.CHAMPION)
    if holder == version:
        return
    name = registry.model_name(kind)
    if holder is not None:
        client.set_registered_model_alias(name, registry.PREVIOUS, holder)
    client.set_registered_model_alias(name, registry.CHAMPION, version)


def repair(settings: Settings) -> str | None:
    """Roll a half-finished switch forward; return what was done, in words (None when nothing was).

    Call only while no retrain is running (the retrain lock held, or free).
    """
    journal_path = releases_dir(settings) / SWITCH_FILE
    if not journal_path.exists():
        return None
    try:
        journal = json.loads(journal_path.read_text())
        target = read(settings, str(journal["to"]))
    except (ValueError, KeyError, MemberwiseError) as err:
        journal_path.unlink(missing_ok=True)
        return f"dropped an unreadable release switch journal ({err}); the current release stays"
    _finish(settings, target, lambda _: None)
    message = f"completed an interrupted switch to release {target.id} (from {journal.get('from')})"
    log.warning(message)
    return message


def publish(
    settings: Settings,
    manifest: Manifest,
    scores: pd.DataFrame,
    planning: PlanningInputs | None,
    crash_point: CrashPoint | None = None,
    purchases: Path | None = None,
) -> Release:
    """Build a release and make it current with its champions; prune old releases."""
    release = build(settings, manifest, scores, planning, purchases)
    (crash_point or (lambda _: None))("release built")
    switch(settings, release.id, crash_point)
    prune(settings)
    return release


def rollback(settings: Settings) -> tuple[Release, Release]:
    """Make the current release's predecessor current again (models, scores and planning together)."""
    repair(settings)
    now = require_current(settings)
    if now.manifest.previous is None:
        raise MemberwiseError(f"nothing to roll back to: release {now.id} has no previous release")
    if not (releases_dir(settings) / now.manifest.previous / MANIFEST_FILE).exists():
        raise MemberwiseError(
            f"cannot roll back: the previous release {now.manifest.previous} was pruned "
            "(keep more with MEMBERWISE_RELEASES_KEPT)"
        )
    return now, switch(settings, now.manifest.previous)


def prune(settings: Settings) -> list[str]:
    """Delete the oldest releases beyond `settings.releases_kept` (never the current one); return ids."""
    base = releases_dir(settings)
    keep = current_id(settings)
    ids = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    removed = [r for r in ids[: max(0, len(ids) - settings.releases_kept)] if r != keep]
    for release_id in removed:
        shutil.rmtree(base / release_id, ignore_errors=True)
    for staging in base.glob(".staging-*"):  # left by a crash while building
        shutil.rmtree(staging, ignore_errors=True)
    return removed


def derive(
    settings: Settings,
    base: Release | None,
    models: dict[str, str],
    trigger: str,
    scores: pd.DataFrame | None = None,
    as_of: str | None = None,
    threshold: float | None = None,
    **changes: Any,
) -> tuple[Manifest, pd.DataFrame, PlanningInputs | None]:
    """A new release's parts from the current one with some models (and maybe scores) replaced.

    Used by the manual `promote` commands: a promotion publishes a whole release, like a retrain.
    """
    if base is None and scores is None:
        raise MemberwiseError("no release to build on: run `memberwise retrain` first")
    frame = scores if scores is not None else base.scores()  # type: ignore[union-attr]
    prior = base.manifest if base is not None else None
    manifest = Manifest(
        id=new_id(settings),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=as_of or (prior.as_of if prior else ""),
        models={**(prior.models if prior else {}), **models},
        threshold=threshold if threshold is not None else (prior.threshold if prior else 60.0),
        members=len(frame),
        selected=int(frame["selected"].sum()),
        previous=prior.id if prior else None,
        trigger=trigger,
        feature_spec=prior.feature_spec if prior else {},
        config=prior.config if prior else {},
        uplift=prior.uplift if prior is not None and scores is None else None,  # with its snapshot
        **changes,
    )
    return manifest, frame, base.planning() if base is not None else None
