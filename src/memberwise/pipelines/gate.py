"""Champion/challenger mechanics every registered model shares: record a verdict, move aliases, roll back.

Each model's own rules (what "good enough" means) live with its pipeline; this module only records the
verdict as an MLflow run plus version tags, and moves `champion` / `previous-champion` when approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from memberwise.errors import MemberwiseError
from memberwise.settings import Settings
from memberwise.tracking import CHAMPION, PREVIOUS, configure, experiment_id, version_by_alias


@dataclass
class GateDecision:
    """The outcome of a gate, with the reasons a marketer or analyst can read."""

    challenger: str
    champion: str | None
    approved: bool
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


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
    """Log the decision as a run in the model's experiment, tag the version, and move aliases if approved."""
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
    if decision.approved:
        if decision.champion is not None:
            client.set_registered_model_alias(model_name, PREVIOUS, decision.champion)
        client.set_registered_model_alias(model_name, CHAMPION, decision.challenger)


def rollback(settings: Settings, model_name: str) -> tuple[str, str]:
    """Move champion back to previous-champion; returns (from version, to version)."""
    client = configure(settings)
    champion, previous = (
        version_by_alias(client, CHAMPION, model_name),
        version_by_alias(client, PREVIOUS, model_name),
    )
    if champion is None or previous is None:
        raise MemberwiseError(f"nothing to roll back to: {model_name} has no previous champion")
    client.set_registered_model_alias(model_name, CHAMPION, previous.version)
    client.set_registered_model_alias(model_name, PREVIOUS, champion.version)
    client.set_model_version_tag(model_name, champion.version, "rolled_back", "true")
    return str(champion.version), str(previous.version)
