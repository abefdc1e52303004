"""Personas pipeline: features at a cutoff -> PersonaModel -> MLflow run (evidence, figures) -> registry.

The gate is about usability rather than accuracy (there is no label): a challenger must be stable
across seeds and have no persona too small to plan a campaign for. Agreement with the champion (ARI on
today's buyers) is logged so an analyst sees how much the personas moved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import mlflow
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from memberwise import registry
from memberwise.config import PersonasConfig
from memberwise.errors import MemberwiseError
from memberwise.features import build_features
from memberwise.modeling import persona_figures as figures
from memberwise.modeling.personas import (
    INPUT_FEATURES,
    PersonaModel,
    PersonasPyfunc,
    behaviour_matrix,
    is_recent_buyer,
)
from memberwise.pipelines.gate import GateDecision, decide, settle
from memberwise.pipelines.propensity import PIP_REQUIREMENTS
from memberwise.settings import Settings
from memberwise.tracking import (
    CHALLENGER,
    CHAMPION,
    PERSONAS_MODEL,
    configure,
    data_fingerprint,
    experiment_id,
    log_figure,
    log_frame,
    register_challenger,
    run_tags,
)
from memberwise.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class PersonasResult:
    """What a personas training run produced."""

    run_id: str
    model_version: str
    metrics: dict[str, float]
    model: PersonaModel


def persona_metrics(model: PersonaModel) -> dict[str, float]:
    """Stable metric names: the chosen k's evidence, the smallest persona, each persona's size and value."""
    chosen = model.k_table_.set_index("k").loc[model.k_]
    metrics = {
        "k": float(model.k_),
        "silhouette": float(chosen["silhouette"]),
        "stability_ari": float(chosen["stability"]),
        "min_cluster_share": float(model.personas_["member_share"].min()),
        "buyers": float(model.personas_["members"].sum()),
    }
    for row in model.personas_.itertuples():
        metrics[f"member_share_p{row.persona_id}"] = float(row.member_share)
        metrics[f"revenue_share_p{row.persona_id}"] = float(row.revenue_share)
    return metrics


def _log_evidence(model: PersonaModel, features: pd.DataFrame, cfg: PersonasConfig) -> None:
    """Tables and figures: the k comparison, the persona profiles, the projection, sizes and value."""
    log_frame(model.k_table_, "k_selection")
    log_frame(model.personas_, "personas")
    log_figure(figures.k_selection_figure(model.k_table_, model.k_, cfg.min_stability), "k_selection")
    log_figure(figures.profile_heatmap(model), "profile_heatmap")
    buyers = features[is_recent_buyer(features)]
    scaled = model.transform(behaviour_matrix(buyers))
    labels = model.predict(buyers).to_numpy(dtype=int)
    log_figure(figures.projection_figure(model, scaled, labels, cfg.seed), "projection_pca")
    log_figure(figures.size_revenue_figure(model.personas_), "size_and_revenue")
    mlflow.log_text(
        "\n".join(f"{r.persona_id}. {r.name}: {r.description}" for r in model.personas_.itertuples()),
        "personas.txt",
    )


def register(model: PersonaModel, example: pd.DataFrame, settings: Settings) -> str:
    """Log the pyfunc (signature over the features it reads), register it, alias it challenger."""
    client = configure(settings)
    example_input = example[list(INPUT_FEATURES)].astype("float64")
    version = register_challenger(PERSONAS_MODEL, PersonasPyfunc(model), example_input, PIP_REQUIREMENTS)
    names = "; ".join(f"{r.persona_id}: {r.name}" for r in model.personas_.itertuples())
    client.update_model_version(PERSONAS_MODEL, version, description=f"k={model.k_}. {names}")
    return version


def train_personas(
    wh: Warehouse,
    as_of: date,
    cfg: PersonasConfig,
    settings: Settings,
    trigger: str = "manual",
    features: pd.DataFrame | None = None,
) -> PersonasResult:
    """One MLflow run: compare k, fit, describe, log the evidence, register as challenger."""
    configure(settings)
    features = build_features(wh, as_of) if features is None else features
    tags = run_tags(trigger, data_fingerprint(wh), str(as_of))
    with mlflow.start_run(
        experiment_id=experiment_id(settings, "personas"),
        run_name=f"personas as of {as_of}",
        nested=mlflow.active_run() is not None,
        tags={**tags, "kind": "train"},
    ) as run:
        mlflow.log_params({**cfg.model_dump(exclude={"gate"}), "as_of": str(as_of)})
        model = PersonaModel(**cfg.model_dump(exclude={"gate"})).fit(features)
        metrics = persona_metrics(model)
        mlflow.log_metrics(metrics)
        _log_evidence(model, features, cfg)
        buyers = features[is_recent_buyer(features)]
        version = register(model, buyers.head(5), settings)
        mlflow.set_tag("model_version", version)
    log.info("personas v%s: k=%d, %s", version, model.k_, ", ".join(model.personas_["name"]))
    return PersonasResult(run.info.run_id, version, metrics, model)


def judge_personas(metrics: dict[str, float], cfg: PersonasConfig) -> list[str]:
    """The gate rules: an empty list means approved; otherwise each failed rule, in words."""
    failures = []
    if metrics["stability_ari"] < cfg.gate.min_stability:
        failures.append(
            f"personas are unstable across seeds (ARI {metrics['stability_ari']:.2f} "
            f"< {cfg.gate.min_stability:.2f})"
        )
    if metrics["min_cluster_share"] < cfg.gate.min_cluster_share:
        failures.append(
            f"the smallest persona holds {metrics['min_cluster_share']:.1%} of buyers "
            f"(minimum {cfg.gate.min_cluster_share:.1%})"
        )
    return failures


def promote_personas(
    wh: Warehouse,
    as_of: date,
    cfg: PersonasConfig,
    settings: Settings,
    trigger: str = "manual",
    features: pd.DataFrame | None = None,
) -> GateDecision:
    """Judge the challenger; log how far it moved from the champion; move the aliases if approved."""
    client = configure(settings)
    challenger = registry.version_by_alias(client, "personas", CHALLENGER)
    if challenger is None:
        raise MemberwiseError("no personas challenger: run `memberwise train personas` first")
    champion = registry.version_by_alias(client, "personas", CHAMPION)
    if champion == challenger:
        return GateDecision(challenger, champion, True, ["already champion"])
    model = registry.load("personas", challenger)
    metrics = persona_metrics(model)
    if champion is not None:
        features = build_features(wh, as_of) if features is None else features
        buyers = features[is_recent_buyer(features)]
        current = registry.load("personas", champion).predict(buyers).to_numpy(dtype=int)
        metrics["champion_agreement_ari"] = float(
            adjusted_rand_score(current, model.predict(buyers).to_numpy(dtype=int))
        )
    decision = decide(
        challenger,
        champion,
        judge_personas(metrics, cfg),
        metrics,
    )
    settle(client, PERSONAS_MODEL, "personas", decision, as_of, trigger, settings)
    return decision
