"""The promotion gate: a challenger becomes champion only if it is at least as good on fresh members.

Both models score the same fresh holdout (the holdout members of the latest training window, which
the challenger never saw). Rules from the experiment config: minimum AUC, maximum calibration error,
maximum score-distribution shift (PSI) against the champion, and AUC no worse than the champion's.
Every decision is a run in MLflow and a tag on the challenger version; `previous-champion` keeps the
old champion so `rollback` can restore it.
"""

from __future__ import annotations

import logging
from datetime import date

from memberwise.config import PropensityConfig
from memberwise.errors import MemberwiseError
from memberwise.modeling import evaluation
from memberwise.modeling.scores import score_from_probability
from memberwise.pipelines.gate import GateDecision, decide, settle
from memberwise.pipelines.propensity import LabelledWindow, labelled_window
from memberwise.settings import Settings
from memberwise.tracking import (
    CHALLENGER,
    CHAMPION,
    PROPENSITY_MODEL,
    configure,
    load_version,
    version_by_alias,
)
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)


def judge(
    challenger_metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
    psi: float | None,
    cfg: PropensityConfig,
) -> list[str]:
    """The gate rules: an empty list means approved; otherwise each failed rule, in words."""
    gate, failures = cfg.gate, []
    auc, ece = challenger_metrics["val_auc"], challenger_metrics["val_ece"]
    if auc < gate.min_auc:
        failures.append(f"AUC {auc:.3f} is below the minimum {gate.min_auc:.3f}")
    if ece > gate.max_ece:
        failures.append(f"calibration error {ece:.3f} is above the maximum {gate.max_ece:.3f}")
    if champion_metrics is not None:
        best = champion_metrics["val_auc"]
        if auc < best - gate.auc_tolerance:
            failures.append(f"AUC {auc:.3f} is below the champion's {best:.3f}")
    if psi is not None and psi > gate.max_psi:
        failures.append(
            f"score distribution shifted too much from the champion's (PSI {psi:.3f} > {gate.max_psi})"
        )
    return failures


def promote_propensity(
    wh: Warehouse,
    as_of: date,
    cfg: PropensityConfig,
    settings: Settings,
    trigger: str = "manual",
    window: LabelledWindow | None = None,
) -> GateDecision:
    """Evaluate challenger vs champion on the same fresh holdout and move the aliases if approved.

    `window` is the labelled window at `as_of` when the caller already built it (a retrain has).
    """
    client = configure(settings)
    challenger = version_by_alias(client, CHALLENGER)
    if challenger is None:
        raise MemberwiseError("no challenger to promote: train a model first (`memberwise train propensity`)")
    champion = version_by_alias(client, CHAMPION)
    if champion is not None and champion.version == challenger.version:
        return GateDecision(str(challenger.version), str(champion.version), True, ["already champion"])
    holdout, y = (window or labelled_window(wh, as_of, cfg)).take("holdout")
    challenger_p = load_version(str(challenger.version)).predict_proba(holdout)
    metrics = evaluation.classification_metrics(y, challenger_p, cfg.threshold)
    champion_metrics, psi = None, None
    if champion is not None:
        champion_p = load_version(str(champion.version)).predict_proba(holdout)
        champion_metrics = evaluation.classification_metrics(y, champion_p, cfg.threshold)
        psi = evaluation.population_stability_index(
            score_from_probability(champion_p), score_from_probability(challenger_p)
        )
    failures = judge(metrics, champion_metrics, psi, cfg)
    decision = decide(
        str(challenger.version),
        str(champion.version) if champion else None,
        failures,
        {
            **{f"challenger_{k}": v for k, v in metrics.items()},
            **{f"champion_{k}": v for k, v in (champion_metrics or {}).items()},
            **({"score_psi": psi} if psi is not None else {}),
        },
    )
    settle(client, PROPENSITY_MODEL, "propensity", decision, as_of, trigger, settings)
    log.info(
        "gate: v%s %s (%s)",
        challenger.version,
        "approved" if decision.approved else "rejected",
        "; ".join(decision.reasons),
    )
    return decision
