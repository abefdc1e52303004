"""Uplift in a release: each member's predicted uplift of the planned strategy, and whether to rank by it.

After the plan, the retrain learns uplift from the campaign history (`pipelines.uplift`) and judges it on
the latest campaigns. The snapshot gains an `uplift` column (each member's audience's leading planned
strategy) and the manifest the verdict, so /select can rank by uplift when it won. When it won, the
allocator's member lists are re-picked by uplift ("contact those who respond, not those who would buy
anyway"); otherwise they keep the propensity ranking and the verdict says why.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

import pandas as pd

from memberwise.errors import MemberwiseError
from memberwise.pipelines.budget import pick_members
from memberwise.pipelines.planning import PlanSummary
from memberwise.pipelines.uplift import UpliftRun, plan_uplift, train_uplift, unlearnt
from memberwise.settings import Settings
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class ReleaseUplift:
    """The snapshot (with `uplift` when learnt), the planning (contacts re-picked when uplift won)."""

    scores: pd.DataFrame
    planned: PlanSummary
    verdict: dict[str, Any]  # the manifest's `uplift`: asdict(UpliftVerdict), `unlearnt` when none learnt


def release_uplift(
    wh: Warehouse,
    as_of: date,
    settings: Settings,
    trigger: str,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    planned: PlanSummary,
) -> ReleaseUplift:
    """Learn and judge uplift; without a plan or a usable campaign history, the verdict says why not."""
    budget = planned.budget
    if budget is None or budget.allocation.plan.empty:
        problems = "; ".join(p for p in planned.problems if "budget" in p) or "the plan is empty"
        return _unchanged(scores, planned, f"the release has no budget plan to rank members for ({problems})")
    try:
        run = train_uplift(
            wh,
            settings,
            as_of,
            budget.response_window_days,  # the plan's response window, and its touches
            trigger=trigger,
            propensity_version=_served_version(scores),
            touches=budget.touches,
        )
        return _applied(run, features, scores, planned)
    except MemberwiseError as exc:
        return _unchanged(scores, planned, str(exc))
    except Exception as exc:  # noqa: BLE001 - uplift is an add-on: a failure must not cost the release
        log.exception("uplift could not be learnt or applied; the release keeps the propensity ranking")
        return _unchanged(scores, planned, f"learning or applying it failed ({type(exc).__name__}: {exc})")


def _applied(
    run: UpliftRun, features: pd.DataFrame, scores: pd.DataFrame, planned: PlanSummary
) -> ReleaseUplift:
    """The snapshot with each member's planned uplift; contacts re-picked by it when uplift won."""
    assert planned.budget is not None
    plan, members = planned.budget.allocation.plan, planned.budget.members
    uplift = plan_uplift(run.model, features, members, plan)
    by_member = uplift.groupby(level=0).first()
    scored = scores.assign(uplift=scores["member_id"].map(by_member).astype(float))
    log.info("uplift verdict: %s", run.verdict.reason)
    if not run.verdict.uplift_wins:
        return ReleaseUplift(scored, planned, asdict(run.verdict))
    ranked = members.assign(uplift=members["member_id"].map(by_member).fillna(float("-inf")))
    contacts = pick_members(plan, ranked, rank="uplift")
    inputs = replace(planned.inputs, contacts=contacts)
    return ReleaseUplift(scored, replace(planned, inputs=inputs), asdict(run.verdict))


def _unchanged(scores: pd.DataFrame, planned: PlanSummary, why: str) -> ReleaseUplift:
    """No uplift column, propensity-ranked contacts, and a verdict naming why (in the manifest)."""
    verdict = unlearnt(why)
    log.info("uplift verdict: %s", verdict.reason)
    return ReleaseUplift(scores, planned, asdict(verdict))


def _served_version(scores: pd.DataFrame) -> str | None:
    """The propensity version that scored the snapshot: the ranking uplift must beat to be used."""
    versions = scores["model_version"].dropna().unique() if "model_version" in scores.columns else []
    return str(versions[0]) if len(versions) == 1 else None
