"""The scheduled job: validate, unify, train and gate each model, score snapshot, plan; one MLflow run.

Safe to run from cron: a lock file keeps two runs from overlapping; a run whose data fingerprint,
cutoff, config and code match the last successful one is skipped (idempotent); any failure leaves the
champion aliases and the served snapshot exactly as they were (both change only at the very end, and
the snapshot is replaced atomically), exits non-zero and says which step failed. The planning step
(KPI gap, default budget plan) comes last: what it cannot do is reported (tag `plan_status`) without
failing the run, since the models it reads have already passed their gates.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow

from memberwise.config import RetrainConfig
from memberwise.errors import MemberwiseError
from memberwise.features import build_features
from memberwise.pipelines.forecast import promote_forecast, train_forecast
from memberwise.pipelines.gate import GateDecision
from memberwise.pipelines.personas import promote_personas, train_personas
from memberwise.pipelines.planning import PlanSummary, plan
from memberwise.pipelines.prepare import Prepared, prepare
from memberwise.pipelines.promote import promote_propensity
from memberwise.pipelines.propensity import train_propensity
from memberwise.pipelines.score import refresh_snapshot
from memberwise.settings import Settings
from memberwise.snapshot import SnapshotMeta
from memberwise.tracking import (
    child_run,
    code_version,
    configure,
    data_fingerprint,
    experiment_id,
    log_frame,
    run_tags,
)

log = logging.getLogger(__name__)


@dataclass
class RetrainSummary:
    """What a retrain did."""

    run_id: str
    as_of: date
    skipped: bool
    prepared: Prepared
    model_version: str | None = None
    gate: GateDecision | None = None
    snapshot: SnapshotMeta | None = None
    personas_version: str | None = None
    personas_gate: GateDecision | None = None
    forecast_version: str | None = None
    forecast_gate: GateDecision | None = None
    plan: PlanSummary | None = None


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on `path` (released when the process dies, too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise MemberwiseError(
                f"another retrain is running (pid {holder}, lock {path}); not starting"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def config_hash(cfg: RetrainConfig) -> str:
    """A short hash of the experiment config, so a config change triggers a real retrain."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:12]


def _already_done(settings: Settings, tags: dict[str, str]) -> str | None:
    """The id of a successful retrain with the same data, cutoff, config and code, if any."""
    keys = ("data_fingerprint", "as_of", "config_hash", "code_version")
    query = " and ".join(f"tags.{k} = '{tags[k]}'" for k in keys) + " and tags.status = 'success'"
    runs = mlflow.search_runs([experiment_id(settings, "retrain")], filter_string=query, max_results=1)
    return None if runs.empty else str(runs.iloc[0]["run_id"])


def retrain(
    data_dir: Path,
    settings: Settings,
    cfg: RetrainConfig,
    as_of: date | None = None,
    trigger: str = "scheduled",
    force: bool = False,
    progress: bool = False,
) -> RetrainSummary:
    """Run the whole chain once; raise MemberwiseError naming the failed step."""
    configure(settings)
    with exclusive_lock(settings.home / "retrain.lock"):
        step = "validate + unify"
        try:
            prepared = prepare(data_dir, settings)
            cutoff = as_of or prepared.default_as_of
            tags = run_tags(
                trigger,
                data_fingerprint(prepared.warehouse),
                str(cutoff),
                config_hash=config_hash(cfg),
                kind="retrain",
            )
            done = None if force else _already_done(settings, tags)
            if done:
                log.info("retrain skipped: run %s already covers this data, cutoff, config and code", done)
                return RetrainSummary(done, cutoff, skipped=True, prepared=prepared)
            with mlflow.start_run(
                experiment_id=experiment_id(settings, "retrain"),
                run_name=f"retrain {cutoff}",
                tags={**tags, "status": "running"},
            ) as parent:
                try:
                    _log_data_step(prepared)
                    step = "train propensity"
                    trained = train_propensity(
                        prepared.warehouse, cutoff, cfg.propensity, settings, trigger, progress
                    )
                    step = "train personas"
                    features = build_features(prepared.warehouse, cutoff, settings.new_window_days)
                    personas = train_personas(
                        prepared.warehouse, cutoff, cfg.personas, settings, trigger, features
                    )
                    step = "train forecast"
                    forecast = train_forecast(
                        prepared.warehouse, cutoff, cfg.forecast, settings, trigger, progress
                    )
                    step = "gate propensity"
                    decision = promote_propensity(
                        prepared.warehouse, cutoff, cfg.propensity, settings, trigger, trained.window
                    )
                    if not decision.approved and decision.champion is None:
                        raise MemberwiseError(
                            "no champion to serve: the first model was rejected by the gate: "
                            + "; ".join(decision.reasons)
                        )
                    step = "gate personas"
                    personas_gate = promote_personas(
                        prepared.warehouse, cutoff, cfg.personas, settings, trigger, features
                    )
                    step = "gate forecast"
                    forecast_gate = promote_forecast(settings, cfg.forecast, cutoff, trigger)
                    step = "score snapshot"
                    snapshot = refresh_snapshot(
                        prepared.warehouse, cutoff, settings, cfg.propensity.threshold, features
                    )
                    step = "plan"
                    with child_run("plan", kind="plan"):
                        planned = plan(
                            prepared.warehouse, cutoff, cfg.forecast, cfg.budget, settings, trigger
                        )
                except Exception:
                    mlflow.set_tags({"status": "failed", "failed_step": step})
                    mlflow.log_text(traceback.format_exc(), "error.txt")
                    raise
                mlflow.log_metrics(
                    {"snapshot_members": snapshot.members, "snapshot_selected": snapshot.selected}
                )
                mlflow.set_tags(
                    {
                        "status": "success",
                        "model_version": trained.model_version,
                        "gate": "approved" if decision.approved else "rejected",
                        "personas_version": personas.model_version,
                        "personas_gate": "approved" if personas_gate.approved else "rejected",
                        "forecast_version": forecast.model_version,
                        "forecast_gate": "approved" if forecast_gate.approved else "rejected",
                        "plan_status": "; ".join(planned.problems) or "ok",
                    }
                )
                return RetrainSummary(
                    parent.info.run_id,
                    cutoff,
                    False,
                    prepared,
                    trained.model_version,
                    decision,
                    snapshot,
                    personas.model_version,
                    personas_gate,
                    forecast.model_version,
                    forecast_gate,
                    planned,
                )
        except MemberwiseError as err:
            raise MemberwiseError(f"retrain failed at step '{step}': {err}") from None
        except Exception as err:
            log.debug("retrain failure", exc_info=True)
            raise MemberwiseError(
                f"retrain failed at step '{step}': {type(err).__name__}: {err} "
                "(champion and served snapshot unchanged)"
            ) from err


def _log_data_step(prepared: Prepared) -> None:
    """Child run with the contract counts, rejects and identity figures."""
    with child_run("validate + unify", kind="data"):
        counts = prepared.data.counts
        for row in counts.itertuples(index=False):
            mlflow.log_metrics(
                {
                    f"{row.table}_read": row.read,
                    f"{row.table}_accepted": row.accepted,
                    f"{row.table}_rejected": row.rejected,
                }
            )
        log_frame(counts, "validation_counts")
        if not prepared.data.rejects.empty:
            log_frame(prepared.data.rejects, "rejects")
        mlflow.log_metrics(
            {
                "members": prepared.identity.count("members"),
                "accounts": prepared.identity.count("member_map"),
                "hub_identifiers": len(prepared.identity.hubs),
            }
        )
        mlflow.set_tag("code_version", code_version())
