"""The scheduled job: validate, unify, train and gate each model, score snapshot, plan; one MLflow run.

Safe to run from cron: a lock file keeps two runs from overlapping; a run whose data fingerprint,
cutoff, config and code match the run behind the current release is skipped (idempotent). Gates only
record verdicts; everything the service reads (scores, planning inputs, the version of every model) is
published at the very end as one release, switched together with the champion aliases
(`memberwise.release`). A crash at any point leaves the old release with the old champions, or the new
with the new; the next run first repairs a half-finished switch and marks the killed run FAILED.
Planning (KPI gap, default budget plan) is reported (tag `plan_status`) without failing the run.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from memberwise import registry, release
from memberwise.config import RetrainConfig
from memberwise.errors import MemberwiseError
from memberwise.features import build_features
from memberwise.locking import RETRAIN_LOCK, exclusive_lock
from memberwise.pipelines.forecast import promote_forecast, train_forecast
from memberwise.pipelines.gate import GateDecision
from memberwise.pipelines.personas import promote_personas, train_personas
from memberwise.pipelines.planning import PlanSummary, plan
from memberwise.pipelines.prepare import Prepared, prepare
from memberwise.pipelines.promote import promote_propensity
from memberwise.pipelines.propensity import train_propensity
from memberwise.pipelines.publish import category_purchases
from memberwise.pipelines.score import release_scores
from memberwise.pipelines.uplift_release import release_uplift
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
    release: str | None = None  # the release this run published
    recovered: list[str] = field(default_factory=list)  # what was repaired after an interrupted run
    uplift: dict[str, Any] | None = None  # the release's uplift verdict (the manifest's `uplift`)


def config_hash(cfg: RetrainConfig) -> str:
    """A short hash of the experiment config, so a config change triggers a real retrain."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:12]


def _already_done(settings: Settings, tags: dict[str, str]) -> str | None:
    """The id of the retrain behind the current release, if it had the same data, cutoff, config and code."""
    current = release.current(settings)
    if current is None or current.manifest.run_id is None:
        return None
    keys = ("data_fingerprint", "as_of", "config_hash", "code_version")
    query = " and ".join(f"tags.{k} = '{tags[k]}'" for k in keys) + " and tags.status = 'success'"
    query += f" and tags.release = '{current.id}'"
    runs = mlflow.search_runs([experiment_id(settings, "retrain")], filter_string=query, max_results=1)
    return None if runs.empty else str(runs.iloc[0]["run_id"])


def retrain(
    data_dir: Path | str,
    settings: Settings,
    cfg: RetrainConfig,
    as_of: date | None = None,
    trigger: str = "scheduled",
    force: bool = False,
    progress: bool = False,
    crash_point: release.CrashPoint | None = None,
) -> RetrainSummary:
    """Run the whole chain once; raise MemberwiseError naming the failed step.

    `crash_point` is called with the name of each publishing step (the crash-safety tests kill there).
    """
    configure(settings)
    with exclusive_lock(settings.home / RETRAIN_LOCK):
        recovered = recover(settings)
        step = "validate + unify"
        try:
            # On Spark, validation and unify scale out; training reads their tables on DuckDB.
            prepared = prepare(data_dir, settings)
            cutoff = as_of or prepared.default_as_of
            tags = run_tags(
                trigger,
                data_fingerprint(prepared.duckdb("retrain")),
                str(cutoff),
                config_hash=config_hash(cfg),
                kind="retrain",
                engine=settings.engine,  # which engine validated and unified (training is DuckDB's)
            )
            done = None if force else _already_done(settings, tags)
            if done:
                log.info("retrain skipped: run %s already covers this data, cutoff, config and code", done)
                return RetrainSummary(done, cutoff, skipped=True, prepared=prepared, recovered=recovered)
            with mlflow.start_run(
                experiment_id=experiment_id(settings, "retrain"),
                run_name=f"retrain {cutoff}",
                tags={**tags, **cfg.source_tags(), "status": "running"},
            ) as parent:
                try:
                    _log_data_step(prepared)
                    wh = prepared.duckdb("retrain")
                    step = "train propensity"
                    trained = train_propensity(wh, cutoff, cfg.propensity, settings, trigger, progress)
                    # Built once, after the propensity windows: a 10M-member frame (~5 GiB) is never held
                    # while those windows are built.
                    step = "features"
                    features = build_features(wh, cutoff, settings.new_window_days)
                    # Python now holds the frame, and personas and the snapshot copy parts of it.
                    wh.leave_room(2 * int(features.memory_usage(deep=True).sum()))
                    step = "train personas"
                    personas = train_personas(wh, cutoff, cfg.personas, settings, trigger, features)
                    step = "train forecast"
                    forecast = train_forecast(wh, cutoff, cfg.forecast, settings, trigger, progress)
                    step = "gate propensity"
                    known = (trained.model_version, trained.holdout_p)
                    decision = promote_propensity(
                        wh, cutoff, cfg.propensity, settings, trigger, trained.window, known
                    )
                    if decision.serving is None:
                        raise MemberwiseError(
                            "no champion to serve: the first model was rejected by the gate: "
                            + "; ".join(decision.reasons)
                        )
                    step = "gate personas"
                    personas_gate = promote_personas(wh, cutoff, cfg.personas, settings, trigger, features)
                    step = "gate forecast"
                    forecast_gate = promote_forecast(settings, cfg.forecast, cutoff, trigger)
                    models = {
                        kind: gate.serving
                        for kind, gate in (
                            ("propensity", decision),
                            ("personas", personas_gate),
                            ("forecast", forecast_gate),
                        )
                        if gate.serving is not None
                    }
                    step = "score snapshot"
                    threshold = cfg.propensity.threshold
                    scores = release_scores(wh, cutoff, models, threshold, features)
                    step = "plan"
                    forecast_version = models.get("forecast")
                    forecaster = (
                        (registry.load("forecast", forecast_version), forecast_version)
                        if forecast_version
                        else None
                    )
                    with child_run("plan", kind="plan"):
                        planned = plan(
                            wh,
                            cutoff,
                            cfg.forecast,
                            cfg.budget,
                            settings,
                            forecaster,
                            scores,
                            trigger,
                        )
                    step = "uplift"
                    uplifted = release_uplift(wh, cutoff, settings, trigger, features, scores, planned)
                    scores, planned = uplifted.scores, uplifted.planned
                    manifest = _manifest(settings, cfg, cutoff, models, scores, parent.info.run_id, trigger)
                    step = "publish release"
                    with category_purchases(wh, cutoff, settings) as purchases:
                        published = release.publish(
                            settings,
                            replace(manifest, uplift=uplifted.verdict),
                            scores,
                            planned.inputs,
                            crash_point,
                            purchases,
                        )
                except Exception:
                    mlflow.set_tags({"status": "failed", "failed_step": step})
                    mlflow.log_text(traceback.format_exc(), "error.txt")
                    raise
                snapshot = published.manifest.snapshot_meta
                mlflow.log_metrics(
                    {"snapshot_members": snapshot.members, "snapshot_selected": snapshot.selected}
                )
                mlflow.set_tags(
                    {
                        "status": "success",
                        "release": published.id,
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
                    published.id,
                    recovered,
                    uplifted.verdict,
                )
        except MemberwiseError as err:
            raise MemberwiseError(f"retrain failed at step '{step}': {err}") from None
        except Exception as err:
            log.debug("retrain failure", exc_info=True)
            raise MemberwiseError(
                f"retrain failed at step '{step}': {type(err).__name__}: {err} "
                "(the served release and champions are unchanged)"
            ) from err


def recover(settings: Settings) -> list[str]:
    """Undo what a killed retrain left behind: finish a half-done release switch, fail its open runs.

    Called with the retrain lock held, so nothing found running is alive. Returns what was done, in words.
    """
    done = [message] if (message := release.repair(settings)) else []
    client = configure(settings)
    stale = mlflow.search_runs(
        [experiment_id(settings, "retrain")],
        filter_string="attributes.status = 'RUNNING'",
        output_format="list",
    )
    for run in stale:
        closed = _fail_run_tree(client, run.info.run_id)
        done.append(f"marked {closed} run(s) of the interrupted retrain {run.info.run_id} FAILED")
    for message in done:
        log.warning("recovery: %s", message)
    return done


def _fail_run_tree(client: MlflowClient, run_id: str) -> int:
    """Mark a run and its still-running descendants (in any experiment) FAILED; return how many."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    children = client.search_runs(experiments, filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    closed = sum(_fail_run_tree(client, child.info.run_id) for child in children)
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_tag(run_id, "status", "failed")
        client.set_tag(run_id, "failed_step", "interrupted (process killed)")
        client.set_terminated(run_id, "FAILED")
        closed += 1
    return closed


def _manifest(
    settings: Settings,
    cfg: RetrainConfig,
    cutoff: date,
    models: dict[str, str],
    scores: pd.DataFrame,
    run_id: str,
    trigger: str,
) -> release.Manifest:
    """The release manifest of this retrain: versions, the label/feature settings and the config used."""
    previous = release.current_id(settings)
    return release.Manifest(
        id=release.new_id(settings),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=str(cutoff),
        models=models,
        threshold=cfg.propensity.threshold,
        members=len(scores),
        selected=int(scores["selected"].sum()),
        run_id=run_id,
        previous=previous,
        trigger=trigger,
        feature_spec=registry.load("propensity", models["propensity"]).feature_spec.as_dict(),
        config=cfg.model_dump(mode="json"),
    )


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
