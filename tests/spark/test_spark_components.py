"""Spark connected components label the same partition as scipy's, on graphs of every awkward shape.

The `spark` fixture is the shared session of tests/spark/conftest.py.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from memberwise.engine.graph import smallest_node_components
from memberwise.engine.spark_components import connected_components

pytestmark = pytest.mark.spark


def _expected(src: np.ndarray, dst: np.ndarray) -> dict[int, int]:
    """scipy's partition, each component named by its smallest node."""
    nodes, component = smallest_node_components(src, dst)
    return dict(zip(nodes.tolist(), component.tolist(), strict=True))


def _run(
    spark, src: np.ndarray, dst: np.ndarray, caplog: pytest.LogCaptureFixture
) -> tuple[dict[int, int], int]:
    edges = spark.createDataFrame(
        [(int(s), int(d)) for s, d in zip(src, dst, strict=True)], "src BIGINT, dst BIGINT"
    )
    with caplog.at_level(logging.INFO, logger="memberwise.engine.spark_components"):
        rows = connected_components(spark, edges).collect()
    rounds = int(re.findall(r"after (\d+) rounds", caplog.text)[-1])
    got = {r["node"]: r["component"] for r in rows}
    assert len(got) == len(rows), "one row per node"
    return got, rounds


def _forest() -> tuple[np.ndarray, np.ndarray]:
    """Every awkward shape in one graph (disjoint id ranges): the rounds are the long path's."""
    rng = np.random.default_rng(7)
    path = rng.permutation(3_000)  # visits ids in random order: the worst case for label propagation
    chains = np.arange(2_000).reshape(200, 10) + 10_000  # 200 chains of 10
    # a star whose centre is its largest id
    leaves = rng.choice(np.arange(20_000, 30_000), 500, replace=False)
    pieces = rng.integers(40_000, 44_000, (2, 2_500))  # random sparse: many small components
    loops = np.array([[5, 6, 5, 9, 9, 7], [6, 5, 5, 9, 7, 9]]) + 50_000  # duplicates, reversed, self-loops
    wide = np.array([[2**40 + 3], [2**40 + 1]])  # ids past 32 bits keep their value
    parts = [
        np.stack([path[:-1], path[1:]]),
        np.stack([chains[:, :-1].ravel(), chains[:, 1:].ravel()]),
        np.stack([np.full(500, 35_000), leaves]),
        pieces,
        loops,
        wide,
    ]
    edges = np.concatenate(parts, axis=1)
    return edges[0], edges[1]


def test_same_partition_as_scipy(spark, caplog: pytest.LogCaptureFixture) -> None:
    src, dst = _forest()
    got, rounds = _run(spark, src, dst, caplog)
    assert got == _expected(src, dst)
    print(f"{len(got)} nodes, {len(set(got.values()))} components, converged in {rounds} rounds")
    assert rounds <= 15, "label propagation would need ~1,500 rounds on the long path; large-star far fewer"


def test_no_edges(spark) -> None:
    assert connected_components(spark, spark.createDataFrame([], "src BIGINT, dst BIGINT")).count() == 0
