"""Score every member with the champion: score, selection, lifecycle, preferred channel, reasons.

Reasons (TreeSHAP) cost ~100x a prediction, so the served snapshot carries them for the selected
members (the ones campaigns contact), at most `REASONS_IN_SNAPSHOT` of the highest-scored; the
service computes the others on request. A batch export can ask for every member's reasons.

On Spark (`write_spark_scores`) the champion scores on the executors through `mlflow.pyfunc.spark_udf`;
reasons and personas are not computed there (their columns are null).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from memberwise import registry, release
from memberwise.errors import MemberwiseError
from memberwise.features import build_features, preferred_channels, stored_base_features
from memberwise.modeling.personas import PersonaModel
from memberwise.modeling.propensity import PropensityModel
from memberwise.modeling.scores import score_from_probability
from memberwise.settings import Settings
from memberwise.snapshot import SCORE_COLUMNS
from memberwise.warehouse import SqlWarehouse, Warehouse

# TreeSHAP: ~6k rows/s for a small model, ~250 for a 1M-member brand's (20k took 80 s of its retrain).
REASONS_IN_SNAPSHOT = 5_000


def score_members(
    wh: Warehouse,
    as_of: date,
    model: PropensityModel,
    version: str,
    threshold: float,
    reasons_for: Literal["all", "selected"] = "all",
    personas: PersonaModel | None = None,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per member: SCORE_COLUMNS first, then the member's features at as_of.

    `persona` / `persona_id` are null without a personas model, and for members with no recent order.
    Given `features` built with another 'new' window than the model's are rebuilt with the model's.
    """
    new_window_days = model.feature_spec.new_window_days
    if features is None or features.attrs.get("new_window_days") != new_window_days:
        features = build_features(wh, as_of, new_window_days)  # the model's own 'new' window, not settings'
    channels = preferred_channels(wh, as_of)
    probability = model.predict_proba(features)
    score = score_from_probability(probability)
    selected = score > threshold
    reasons: list[list[str]] = [[] for _ in range(len(features))]
    if reasons_for == "all":
        explain = np.ones(len(features), dtype=bool)
    else:
        top = np.argsort(-probability, kind="stable")[:REASONS_IN_SNAPSHOT]
        explain = np.zeros(len(features), dtype=bool)
        explain[top] = True
        explain &= selected
    if explain.any():
        for row, words in zip(np.flatnonzero(explain), model.reasons(features[explain]), strict=True):
            reasons[row] = words
    scores = pd.DataFrame(
        {
            "member_id": features["member_id"],
            "score": score,
            "probability": probability,
            "selected": selected,
            "lifecycle_stage": features["lifecycle_stage"],
            "preferred_channel": channels["preferred_channel"].to_numpy(),
            "persona_id": pd.Series(pd.NA, index=features.index, dtype="Int64"),
            "persona": None,
            "reasons": reasons,
            "model_version": version,
        }
    )
    if personas is not None:
        assigned = personas.assign(features)
        scores["persona_id"], scores["persona"] = assigned["persona_id"], assigned["persona"]
    rest = features.drop(columns=[c for c in SCORE_COLUMNS if c in features.columns])
    return pd.concat([scores, rest], axis=1)


def release_scores(
    wh: Warehouse,
    as_of: date,
    models: dict[str, str],
    threshold: float,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A release's score snapshot: everyone scored by its propensity version, labelled by its personas."""
    personas = registry.load("personas", models["personas"]) if "personas" in models else None
    model = registry.load("propensity", models["propensity"])
    return score_members(wh, as_of, model, models["propensity"], threshold, "selected", personas, features)


def serving_models(settings: Settings) -> dict[str, str]:
    """The versions being served: the current release's, or the registry's champions before any release.

    Points MLflow at the project's registry either way: `registry.load` reads the process-wide registry
    URI, which is otherwise MLflow's default store in the working directory.
    """
    client = registry.configure(settings)
    current = release.current(settings)
    models = current.manifest.models if current else registry.aliases(client)
    if "propensity" not in models:
        raise MemberwiseError("no champion propensity model yet: run `memberwise retrain` first")
    return models


def write_spark_scores(
    wh: SqlWarehouse, as_of: date, version: str, threshold: float, out: Path
) -> tuple[int, int]:
    """Score every member on Spark with propensity `version`; write SCORE_COLUMNS to `out`.

    Returns (members, selected). `reasons`, `persona_id` and `persona` are null: TreeSHAP and the
    personas model run in process only (`memberwise score --engine duckdb`).
    """
    from memberwise.engine.spark import SparkWarehouse
    from memberwise.engine.spark_scoring import score_on_spark

    assert isinstance(wh, SparkWarehouse)
    model: PropensityModel = registry.load("propensity", version)
    with stored_base_features(wh, as_of, model.feature_spec.new_window_days) as sql:
        wh.execute(f"CREATE OR REPLACE TABLE _features AS {sql}")
    uri = f"models:/{registry.model_name('propensity')}/{version}"
    wh.materialise("_scored", score_on_spark(wh.spark, wh.spark.table("_features"), uri))
    wh.put("_channels", preferred_channels(wh, as_of)[["member_id", "preferred_channel"]])
    wh.write(
        f"""SELECT s.member_id, s.score, s.probability, s.score > {float(threshold)} AS selected,
        s.lifecycle_stage, c.preferred_channel, CAST(NULL AS BIGINT) AS persona_id,
        CAST(NULL AS VARCHAR) AS persona, CAST(NULL AS VARCHAR) AS reasons, '{version}' AS model_version
        FROM _scored s LEFT JOIN _channels c ON c.member_id = s.member_id ORDER BY s.member_id""",
        out,
    )
    counts = wh.df(f"SELECT count(*) AS n, count_if(score > {float(threshold)}) AS chosen FROM _scored")
    return int(counts["n"].iloc[0]), int(counts["chosen"].iloc[0])
