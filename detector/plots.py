"""PNG plots of results people look at (matplotlib with the non-interactive Agg backend)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_confusion_matrix(matrix: np.ndarray, labels: list[str], path: str | Path, title: str = "") -> None:
    """Counts and row percentages; rows are the true class, columns the predicted one."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix)
    fraction = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(4.2, 3.6), dpi=120)
    axes.imshow(fraction, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, f"{count}\n{100 * fraction[i, j]:.1f}%", ha="center", va="center",
                  color="white" if fraction[i, j] > 0.5 else "black")
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
