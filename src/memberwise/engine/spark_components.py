"""Connected components on Spark, for identity past one machine: large-star / small-star.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014): alternating the two
operations turns every component into a star centred on its smallest node in O(log^2 n) rounds, each
two window passes and a distinct, so the graph never leaves the cluster. Edges are kept oriented
`hi > lo`; each round's result is checkpointed so the plan does not grow with the number of rounds.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, Observation, SparkSession, Window
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
    star = _stars(_cut(oriented.where("hi <> lo").distinct()))
    return nodes.join(star, nodes["node"] == star["hi"], "left").select(
        "node", F.coalesce("lo", "node").alias("component")
    )


def _stars(edges: DataFrame) -> DataFrame:
    """Alternate large-star and small-star until every component is a star on its smallest node.

    Each round is one Spark job: it also observes whether its input was already a star forest (a
    fixed point of both operations), so convergence costs one extra round rather than a check per round.
    """
    if edges.isEmpty():  # no rows, no observed metrics: nothing to link
        return edges
    for round_ in range(1, MAX_ROUNDS + 1):
        converged = Observation()
        edges = _cut(_small_star(_large_star(edges, converged)))
        if not converged.get["unsettled"]:
            log.info("connected components converged after %d rounds", round_)
            return edges
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def _large_star(edges: DataFrame, converged: Observation) -> DataFrame:
    """Every node hands its larger neighbours to the smallest node it knows (itself included).

    `converged` counts the edge ends at nodes that keep the input from being a star forest: a node
    with two smaller neighbours, or with a smaller and a larger one.
    """
    both_ways = edges.select(F.col("lo").alias("x"), F.col("hi").alias("y")).union(edges.select("hi", "lo"))
    around = Window.partitionBy("x")
    smaller = F.sum(F.when(F.col("y") < F.col("x"), 1).otherwise(0)).over(around)
    larger = F.sum(F.when(F.col("y") > F.col("x"), 1).otherwise(0)).over(around)
    smallest = F.least("x", F.min("y").over(around)).alias("m")
    unsettled = ((smaller > 1) | ((smaller > 0) & (larger > 0))).alias("unsettled")
    neighbourhoods = both_ways.select("x", "y", smallest, unsettled).observe(
        converged, F.count_if("unsettled").alias("unsettled")
    )
    return neighbourhoods.where("y > x").select(F.col("y").alias("hi"), F.col("m").alias("lo"))


def _small_star(edges: DataFrame) -> DataFrame:
    """Every node joins itself and its smaller neighbours to the smallest of them."""
    smallest = edges.select("hi", "lo", F.min("lo").over(Window.partitionBy("hi")).alias("m"))
    pairs = F.array(
        F.struct(F.col("hi"), F.col("m").alias("lo")),
        F.struct(F.col("lo").alias("hi"), F.col("m").alias("lo")),
    )
    return smallest.select(F.inline(pairs)).toDF("hi", "lo").where("hi <> lo").distinct()


def _cut(frame: DataFrame) -> DataFrame:
    """Materialise `frame` and drop its lineage (reliably when a checkpoint directory is set)."""
    if frame.sparkSession.sparkContext.getCheckpointDir():
        return frame.checkpoint(eager=True)
    return frame.localCheckpoint(eager=True)
