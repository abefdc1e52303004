"""Spark batch scores equal the in-process scores of the same registered model, member for member.

A real PropensityModel is trained on a small demo brand and registered in a temp MLflow store, as the
serving tests do; the `spark` fixture is the shared session of tests/spark/conftest.py.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from memberwise import tracking
from memberwise.data.demo import DemoConfig
from memberwise.engine.spark import portable_arrow
from memberwise.engine.spark_scoring import score_on_spark
from memberwise.features import build_features, repurchase_labels
from memberwise.modeling.propensity import PropensityModel
from memberwise.modeling.scores import score_from_probability
from memberwise.pipelines.propensity import register
from memberwise.registry import PROPENSITY_MODEL
from memberwise.settings import Settings
from tests.conftest import BrandOf, with_empty_store

pytestmark = pytest.mark.spark
TRAIN_AS_OF, SCORE_AS_OF = "2026-08-18", "2026-11-16"


@pytest.fixture(scope="module")
def registered(
    brand_of: BrandOf, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PropensityModel, str, pd.DataFrame]:
    """(model, its registry URI, features to score) for a 1,500-person brand (test_spark_cli's too)."""
    from memberwise.pipelines.prepare import prepare

    home = with_empty_store(tmp_path_factory, tmp_path_factory.mktemp("scoring-home"))
    settings = Settings(home=home, snapshot_date="2026-11-15")
    wh = prepare(brand_of(DemoConfig(members=1_500, seed=4)), settings).warehouse
    features = build_features(wh, TRAIN_AS_OF)
    y = repurchase_labels(wh, TRAIN_AS_OF, 90)["repurchased"].to_numpy(dtype=bool)
    cal = np.arange(len(features)) % 4 == 0
    model = PropensityModel({"num_threads": 1}, max_rounds=100, seed=0).fit(
        features[~cal], y[~cal], features[cal], y[cal]
    )
    tracking.configure(settings)
    with mlflow.start_run(experiment_id=tracking.experiment_id(settings, "propensity")):
        version = register(model, features.head(5), settings)
    return model, f"models:/{PROPENSITY_MODEL}/{version}", build_features(wh, SCORE_AS_OF)


def _on_spark(spark, features: pd.DataFrame):  # noqa: ANN202 - a Spark DataFrame
    return spark.createDataFrame(portable_arrow(pa.Table.from_pandas(features, preserve_index=False)))


def test_spark_scores_equal_in_process_scores(spark, registered) -> None:
    model, uri, features = registered
    expected = model.predict_proba(features)
    assert len(np.unique(np.round(expected, 6))) > 20, "a model that separates members"
    frame = _on_spark(spark, features)
    scored = score_on_spark(spark, frame, uri).select("member_id", "probability", "score").toPandas()
    assert [str(t) for t in scored.dtypes[["probability", "score"]]] == ["float64", "int64"]
    got = scored.set_index("member_id").loc[features["member_id"]]
    assert len(scored) == len(features)
    np.testing.assert_allclose(got["probability"].to_numpy(), expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(got["score"].to_numpy(), score_from_probability(expected))


def test_a_model_input_missing_from_the_features_is_named(spark, registered) -> None:
    _, uri, features = registered
    frame = _on_spark(spark, features.iloc[:3, :2])
    with pytest.raises(ValueError, match="lack column"):
        score_on_spark(spark, frame, uri)
