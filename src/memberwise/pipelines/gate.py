"""Champion/challenger mechanics every registered model shares: record a verdict.

Each model's own rules (what "good enough" means) live with its pipeline; this module records the verdict
as an MLflow run plus version tags. It never moves `champion`: the versions that serve are published
together, as one release (`memberwise.release`), at the end of a retrain or a manual promotion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from memberwise.settings import Settings
from memberwise.tracking import experiment_id


@dataclass
class GateDecision:
    """The outcome of a gate, with the reasons a marketer or analyst can read."""

    challenger: str
    champion: str | None
    approved: bool
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def serving(self) -> str | None:
        """The version serving after this decision: the challenger if approved, else the champion."""
        return self.challenger if self.approved else self.champion


def decide(
    challenger: str, champion: str | None, failures: list[str], metrics: dict[str, float]
) -> GateDecision:
    """A decision from the failed rules (none = approved)."""
    return GateDecision(
        challenger,
        champion,
        approved=not failures,
        reasons=failures or ["meets every gate rule" + ("" if champion else " (first champion)")],
        metrics=metrics,
    )


def settle(
    client: MlflowClient,
    model_name: str,
    kind: str,
    decision: GateDecision,
    as_of: date,
    trigger: str,
    settings: Settings,
) -> None:
    """Log the decision as a run in the model's experiment and tag the challenger version with it."""
    verdict = "approved" if decision.approved else "rejected"
    with mlflow.start_run(
        experiment_id=experiment_id(settings, kind),
        run_name=f"gate v{decision.challenger}",
        nested=mlflow.active_run() is not None,
        tags={"kind": "gate", "trigger": trigger, "as_of": str(as_of), "decision": verdict},
    ):
        mlflow.log_params({"challenger_version": decision.challenger, "champion_version": decision.champion})
        mlflow.log_metrics({k: float(v) for k, v in decision.metrics.items() if np.isfinite(v)})
        mlflow.log_text("\n".join(decision.reasons), "gate_reasons.txt")
    client.set_model_version_tag(model_name, decision.challenger, "gate", verdict)
    client.set_model_version_tag(model_name, decision.challenger, "gate_reason", "; ".join(decision.reasons))
