"""A manual promotion publishes a whole release, like a retrain: the approved version and what it changes.

A new propensity or personas champion re-scores (or re-labels) the snapshot from the warehouse at the
release's cutoff; a new forecaster keeps the snapshot and the planning inputs. The other models, the
threshold and the feature spec are carried over from the current release, so the service never serves
a champion that its snapshot was not made with.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from memberwise import release
from memberwise.audience.warehouse import purchases_sql
from memberwise.pipelines.gate import GateDecision
from memberwise.pipelines.score import release_scores
from memberwise.settings import Settings
from memberwise.warehouse import SqlWarehouse, Warehouse

log = logging.getLogger(__name__)


def publish_promotion(
    settings: Settings,
    kind: str,
    decision: GateDecision,
    trigger: str = "manual",
    wh: Warehouse | None = None,
    as_of: date | None = None,
    threshold: float | None = None,
) -> release.Release | None:
    """Publish a release serving the approved challenger of `kind`; None when nothing changes.

    `threshold` applies to a first release; later ones keep the current release's.
    """
    if not decision.approved or decision.challenger == decision.champion:
        return None
    base = release.current(settings)
    models = {**(base.manifest.models if base else {}), kind: decision.challenger}
    scores, cutoff = None, as_of or (date.fromisoformat(base.manifest.as_of) if base else None)
    if kind in ("propensity", "personas"):
        if wh is None or cutoff is None:
            raise ValueError(f"promoting {kind} re-scores the snapshot: it needs the warehouse and a cutoff")
        if "propensity" not in models:
            log.info("personas approved; they are published with the first propensity champion")
            return None
        threshold = base.manifest.threshold if base else threshold if threshold is not None else 60.0
        scores = release_scores(wh, cutoff, models, threshold)
    manifest, frame, planning = release.derive(
        settings, base, models, trigger, scores, str(cutoff) if cutoff else None, threshold
    )
    if scores is not None:
        assert wh is not None and cutoff is not None
        with category_purchases(wh, cutoff, settings) as purchases:
            return release.publish(settings, manifest, frame, planning, purchases=purchases)
    kept = base.path / release.PURCHASES_FILE if base is not None else None
    return release.publish(settings, manifest, frame, planning, purchases=_existing(kept))


@contextmanager
def category_purchases(wh: SqlWarehouse, as_of: date, settings: Settings) -> Iterator[Path]:
    """The release's `PURCHASES_FILE` at the cutoff, written by the engine to a file removed afterwards."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.home, prefix=".purchases-") as folder:
        path = Path(folder) / release.PURCHASES_FILE
        wh.write(purchases_sql(as_of), path)
        yield path


def _existing(path: Path | None) -> Path | None:
    """`path` when that file exists (a release published before audiences ships none)."""
    return path if path is not None and path.exists() else None
