"""Batch scoring on Spark with a registered propensity model, through `mlflow.pyfunc.spark_udf`.

The logged pyfunc (:class:`memberwise.modeling.propensity.PropensityPyfunc`) already returns the
calibrated probability and the 0-100 score by `score_from_probability`, so Spark runs the very code
the service and `memberwise score` run, batch by batch on the executors: one source for both numbers.
Feature columns are cast to the types of the model's signature, as `model_input` does in process
(numbers and flags as double, text as string).
"""

from __future__ import annotations

import mlflow
from mlflow.models import get_model_info
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

PREDICTION = "probability double, score bigint"  # the columns PropensityPyfunc.predict returns


def score_on_spark(spark: SparkSession, features: DataFrame, model_uri: str) -> DataFrame:
    """`features` with `probability` (DOUBLE) and `score` (BIGINT, 0-100) from the model at `model_uri`.

    `model_uri` is any MLflow model URI (`models:/memberwise-propensity@champion`, `runs:/...`); the
    model's Python dependencies must be importable on the executors (`env_manager="local"`).
    """
    signature = get_model_info(model_uri).signature
    if signature is None or signature.inputs is None:
        raise ValueError(f"{model_uri}: the model has no input signature to select its features by")
    inputs = signature.inputs.inputs
    missing = [spec.name for spec in inputs if spec.name not in features.columns]
    if missing:
        raise ValueError(f"{model_uri}: the features lack column(s) {', '.join(map(str, missing))}")
    predict = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local", result_type=PREDICTION)
    record = F.struct(
        *[F.col(f"`{spec.name}`").cast(spec.type.to_spark()).alias(str(spec.name)) for spec in inputs]
    )
    scored = features.drop("probability", "score").withColumn("_prediction", predict(record))
    probability, score = F.col("_prediction.probability"), F.col("_prediction.score")
    return scored.select("*", probability.alias("probability"), score.alias("score")).drop("_prediction")
