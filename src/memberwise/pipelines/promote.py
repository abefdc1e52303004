"""The promotion gate: a challenger becomes champion only if it is at least as good on fresh members.

Both models score the same fresh holdout (the holdout half of the most recent complete window, which
no candidate trained or was calibrated on), labelled over the challenger's own horizon and with each
model's own feature spec, read from the registered version (never from the YAML of the current
directory). Rules from the experiment config: minimum AUC, maximum calibration error (equal-width and
equal-count bins), maximum score-distribution shift (PSI) against the champion, and AUC no worse than
the champion's. Every decision is a run in MLflow and a tag on the challenger version.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from memberwise import registry
from memberwise.config import PropensityConfig
from memberwise.errors import MemberwiseError
from memberwise.modeling import evaluation
from memberwise.modeling.propensity import PropensityModel
from memberwise.modeling.scores import score_from_probability
from memberwise.pipelines.gate import GateDecision, decide, settle
from memberwise.pipelines.propensity_windows import LabelledWindow, validation_window
from memberwise.settings import Settings
from memberwise.tracking import CHALLENGER, CHAMPION, PROPENSITY_MODEL, configure
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
    adaptive = challenger_metrics.get("val_ece_adaptive", 0.0)
    if adaptive > gate.max_ece:
        failures.append(
            f"calibration error {adaptive:.3f} (equal-count bins) is above the maximum {gate.max_ece:.3f}"
        )
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
    known: tuple[str, np.ndarray] | None = None,
) -> GateDecision:
    """Evaluate challenger vs champion on the same fresh holdout and move the aliases if approved.

    `window` is the labelled window at `as_of` when the caller already built it (a retrain has); it is
    rebuilt when it was built with another spec than the challenger's. `known` is (version, its
    probabilities on that window's holdout) when the caller has them (training computed them): the
    challenger is not predicted again. `cfg` gives the gate rules, the threshold and the member split only.
    """
    client = configure(settings)
    challenger = registry.version_by_alias(client, "propensity", CHALLENGER)
    if challenger is None:
        raise MemberwiseError("no challenger to promote: train a model first (`memberwise train propensity`)")
    champion = registry.version_by_alias(client, "propensity", CHAMPION)
    if champion == challenger:
        return GateDecision(challenger, champion, True, ["already champion"])
    challenger_model = registry.load("propensity", challenger)
    spec = challenger_model.feature_spec
    if window is None or window.spec != spec:
        window, known = validation_window(wh, as_of, spec, cfg.split), None
    holdout, y = window.take("holdout")
    if known is not None and known[0] == challenger and len(known[1]) == len(y):
        challenger_p = known[1]
    else:
        challenger_p = challenger_model.predict_proba(holdout)
    metrics = evaluation.classification_metrics(y, challenger_p, cfg.threshold)
    champion_metrics, psi = None, None
    if champion is not None:
        champion_model = registry.load("propensity", champion)
        champion_p = champion_model.predict_proba(_holdout_for(champion_model, window, wh, as_of, cfg))
        champion_metrics = evaluation.classification_metrics(y, champion_p, cfg.threshold)
        psi = evaluation.population_stability_index(
            score_from_probability(champion_p), score_from_probability(challenger_p)
        )
    failures = judge(metrics, champion_metrics, psi, cfg)
    decision = decide(
        challenger,
        champion,
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
        challenger,
        "approved" if decision.approved else "rejected",
        "; ".join(decision.reasons),
    )
    return decision


def _holdout_for(
    model: PropensityModel, window: LabelledWindow, wh: Warehouse, as_of: date, cfg: PropensityConfig
) -> pd.DataFrame:
    """The window's holdout members as `model` reads them: same members and labels, its own 'new' window."""
    own = model.feature_spec.new_window_days
    if own == window.spec.new_window_days:
        return window.take("holdout")[0]
    spec = replace(window.spec, new_window_days=own)
    return validation_window(wh, as_of, spec, cfg.split).take("holdout")[0]
