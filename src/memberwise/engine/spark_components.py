"""Connected components on Spark, for identity past one machine: large-star / small-star.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014): alternating the two
operations turns every component into a star centred on its smallest node in O(log^2 n) rounds, each
a group-by and a join, so the graph never leaves the cluster. Edges are kept oriented `hi > lo`; each
round's result is checkpointed so the plan does not grow with the number of rounds.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

MAX_ROUNDS = 200  # log^2 of any graph that fits anywhere; reaching it means a bug, not a big graph


def connected_components(spark: SparkSession, edges: DataFrame) -> DataFrame:
    """`node BIGINT, component BIGINT` for every node in `edges` (`src`, `dst`; undirected).

    `component` is the smallest node id of the node's connected component. A self-loop `(n, n)` puts
    `n` in the output as its own component.
    """
    links = edges.select(F.col("src").cast("bigint").alias("a"), F.col("dst").cast("bigint").alias("b"))
    links = links.where(F.col("a").isNotNull() & F.col("b").isNotNull())
    nodes = links.select(F.col("a").alias("node")).union(links.select("b")).distinct()
    oriented = links.select(F.greatest("a", "b").alias("hi"), F.least("a", "b").alias("lo"))
    star = _stars(oriented.where("hi <> lo").distinct())
    return nodes.join(star, nodes["node"] == star["hi"], "left").select(
        "node", F.coalesce("lo", "node").alias("component")
    )


def _stars(edges: DataFrame) -> DataFrame:
    """Alternate large-star and small-star until every component is a star on its smallest node."""
    for round_ in range(1, MAX_ROUNDS + 1):
        edges = _cut(_small_star(_large_star(edges)))
        if _is_star_forest(edges):
            log.info("connected components converged after %d rounds", round_)
            return edges
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def _large_star(edges: DataFrame) -> DataFrame:
    """Every node hands its larger neighbours to the smallest node it knows (itself included)."""
    both_ways = edges.select(F.col("lo").alias("x"), F.col("hi").alias("y")).union(edges.select("hi", "lo"))
    smallest = F.least("x", F.min("y").over(Window.partitionBy("x"))).alias("m")
    return (
        both_ways.select("x", "y", smallest)
        .where("y > x")
        .select(F.col("y").alias("hi"), F.col("m").alias("lo"))
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Every node joins itself and its smaller neighbours to the smallest of them."""
    smallest = edges.select("hi", "lo", F.min("lo").over(Window.partitionBy("hi")).alias("m"))
    pairs = F.array(
        F.struct(F.col("hi"), F.col("m").alias("lo")),
        F.struct(F.col("lo").alias("hi"), F.col("m").alias("lo")),
    )
    return smallest.select(F.inline(pairs)).toDF("hi", "lo").where("hi <> lo").distinct()


def _is_star_forest(edges: DataFrame) -> bool:
    """True when every node has at most one smaller neighbour, and no such neighbour has one of its own."""
    ends = edges.select(F.col("hi").alias("node"), F.lit(1).alias("up"), F.lit(0).alias("down")).union(
        edges.select("lo", F.lit(0), F.lit(1))
    )
    per_node = ends.groupBy("node").agg(F.sum("up").alias("up"), F.max("down").alias("down"))
    return per_node.where("up > 1 OR (up = 1 AND down = 1)").limit(1).count() == 0


def _cut(frame: DataFrame) -> DataFrame:
    """Materialise `frame` and drop its lineage (reliably when a checkpoint directory is set)."""
    if frame.sparkSession.sparkContext.getCheckpointDir():
        return frame.checkpoint(eager=True)
    return frame.localCheckpoint(eager=True)
