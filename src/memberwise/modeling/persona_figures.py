"""Figures an analyst looks at to trust personas: why this k, how they differ, how big and valuable each is.

Pure functions over a fitted PersonaModel; plain matplotlib Figures (logged by the pipeline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from sklearn.decomposition import PCA

from memberwise.modeling.personas import PersonaModel


def k_selection_figure(k_table: pd.DataFrame, chosen: int, min_stability: float) -> Figure:
    """Silhouette and stability (mean ARI across seeds) per k, the chosen k marked."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(k_table["k"], k_table["silhouette"], marker="o", label="silhouette (separation)")
    ax.plot(k_table["k"], k_table["stability"], marker="s", label="stability (mean ARI across seeds)")
    ax.axhline(min_stability, linestyle=":", color="grey", label=f"minimum stability {min_stability}")
    ax.axvline(chosen, linestyle="--", color="C3", label=f"chosen k = {chosen}")
    ax.set(xlabel="k (number of personas)", ylabel="score", title="Choosing k", xticks=k_table["k"])
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower left")
    return fig


def profile_heatmap(model: PersonaModel) -> Figure:
    """Each persona's centroid in scaled units (how far from the typical buyer), annotated."""
    table = model.distinctiveness()
    fig = Figure(figsize=(1.4 * table.shape[1] + 3, 0.7 * table.shape[0] + 2), layout="constrained")
    ax = fig.subplots()
    limit = float(np.abs(table.to_numpy()).max()) or 1.0
    image = ax.imshow(table.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(table.shape[1]), [c.replace("_365d", "").replace("_", " ") for c in table.columns])
    ax.tick_params(axis="x", rotation=35)
    ax.set_yticks(range(table.shape[0]), table.index)
    for (row, col), value in np.ndenumerate(table.to_numpy()):
        ax.text(col, row, f"{value:+.1f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="centroid, scaled units")
    ax.set_title("Persona profiles (red = above the typical buyer, blue = below)")
    return fig


def projection_figure(model: PersonaModel, scaled: np.ndarray, labels: np.ndarray, seed: int = 0) -> Figure:
    """A 2-D PCA projection of (a sample of) buyers, coloured by persona."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(scaled), size=min(5_000, len(scaled)), replace=False)
    pca = PCA(n_components=2, random_state=seed).fit(scaled)
    points = pca.transform(scaled[rows])
    centres = pca.transform(model.centers_)
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    for persona, name in enumerate(model.personas_["name"]):
        mine = labels[rows] == persona
        ax.scatter(points[mine, 0], points[mine, 1], s=6, alpha=0.4, label=name, color=f"C{persona % 10}")
        x, y = centres[persona]
        ax.scatter([x], [y], s=160, marker="X", edgecolor="black", color=f"C{persona % 10}")
    explained = pca.explained_variance_ratio_
    ax.set(
        xlabel=f"PC1 ({explained[0]:.0%} of variance)",
        ylabel=f"PC2 ({explained[1]:.0%} of variance)",
        title="Buyers in two dimensions (PCA), coloured by persona",
    )
    ax.legend(loc="best", fontsize=8, markerscale=3)
    return fig


def size_revenue_figure(personas: pd.DataFrame) -> Figure:
    """Share of buyers and share of 365-day revenue per persona, side by side."""
    fig = Figure(figsize=(8, 0.6 * len(personas) + 2.5), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(personas))
    ax.barh(y - 0.2, personas["member_share"], height=0.4, label="share of buyers")
    ax.barh(y + 0.2, personas["revenue_share"], height=0.4, label="share of 365-day revenue")
    ax.set_yticks(y, personas["name"])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title("Persona size and value")
    ax.legend(loc="lower right")
    return fig
