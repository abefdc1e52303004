"""Spark connected components label the same partition as scipy's, on graphs of every awkward shape."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as scipy_components

from memberwise.engine.spark_components import connected_components

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark() -> Iterator:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _expected(src: np.ndarray, dst: np.ndarray) -> dict[int, int]:
    """scipy's labelling, renamed to each component's smallest node (the ids need not be dense)."""
    ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    a, b = inverse[: len(src)], inverse[len(src) :]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    _, label = scipy_components(graph, directed=False)
    smallest = {lab: ids[label == lab].min() for lab in np.unique(label)}
    return {int(node): int(smallest[lab]) for node, lab in zip(ids, label, strict=True)}


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


def _graphs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A long path (the most rounds), and one graph holding every other shape in disjoint id ranges."""
    rng = np.random.default_rng(7)
    path = rng.permutation(3_000)  # visits ids in random order: the worst case for label propagation
    chains = np.arange(2_000).reshape(200, 10) + 10_000  # 200 chains of 10
    leaves = rng.choice(
        np.arange(20_000, 30_000), 500, replace=False
    )  # a star whose centre is its largest id
    pieces = rng.integers(40_000, 44_000, (2, 2_500))  # random sparse: many small components
    loops = np.array([[5, 6, 5, 9, 9, 7], [6, 5, 5, 9, 7, 9]]) + 50_000  # duplicates, reversed, self-loops
    wide = np.array([[2**40 + 3], [2**40 + 1]])  # ids past 32 bits keep their value
    parts = [
        np.stack([chains[:, :-1].ravel(), chains[:, 1:].ravel()]),
        np.stack([np.full(500, 35_000), leaves]),
        pieces,
        loops,
        wide,
    ]
    mixed = np.concatenate(parts, axis=1)
    return {"long path": (path[:-1], path[1:]), "mixed forest": (mixed[0], mixed[1])}


@pytest.mark.parametrize("name", list(_graphs()))
def test_same_partition_as_scipy(spark, name: str, caplog: pytest.LogCaptureFixture) -> None:
    src, dst = _graphs()[name]
    got, rounds = _run(spark, src, dst, caplog)
    assert got == _expected(src, dst)
    print(f"{name}: {len(got)} nodes, converged in {rounds} rounds")


def test_no_edges(spark) -> None:
    assert connected_components(spark, spark.createDataFrame([], "src BIGINT, dst BIGINT")).count() == 0
