"""Connected components in process (scipy), labelled like the Spark version: by the smallest node id."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def smallest_node_components(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every node of the undirected edges `src`-`dst`, and the smallest node id of its component.

    Node ids may be any integers (sparse, huge): they are compacted before scipy sees them.
    """
    nodes, compact = np.unique(np.concatenate([src, dst]).astype(np.int64), return_inverse=True)
    n = len(nodes)
    half = len(src)
    graph = coo_matrix((np.ones(half, dtype=np.int8), (compact[:half], compact[half:])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    smallest = np.full(labels.max() + 1 if n else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, labels, nodes)
    return nodes, smallest[labels]
