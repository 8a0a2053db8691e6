"""PNG plots of results people look at (matplotlib with the non-interactive Agg backend)."""
from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np

from detector.utils.io import atomic_write_with


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend: files only, never a display."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(figure, path: str | Path, **savefig_options) -> None:
    """Lay out ``figure``, write it to ``path`` atomically (format from the suffix), then close it."""
    figure.tight_layout()
    fmt = Path(path).suffix.lstrip(".") or "png"
    atomic_write_with(path, lambda handle: figure.savefig(handle, format=fmt, **savefig_options))
    pyplot().close(figure)


def plot_confusion_matrix(matrix: np.ndarray, labels: list[str], path: str | Path, title: str = "") -> None:
    """Counts and row percentages; rows are the true class, columns the predicted one."""
    plt = pyplot()
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
    save_figure(figure, path)


def plot_det_and_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "") -> None:
    """DET (normal-deviate axes, ASVspoof style) and ROC side by side, one line per curve.

    ``curves`` maps a label (e.g. a condition) to ``(miss, false_alarm)`` rate arrays.
    """
    plt = pyplot()
    probit = np.vectorize(NormalDist().inv_cdf)

    def clip(rates):
        return np.clip(rates, 1e-4, 1 - 1e-4)   # the probit of 0 or 1 is infinite

    figure, (det, roc) = plt.subplots(1, 2, figsize=(9, 4.2), dpi=110)
    for label, (miss, false_alarm) in curves.items():
        det.plot(probit(clip(false_alarm)), probit(clip(miss)), label=label, linewidth=1.2)
        roc.plot(false_alarm, 1 - miss, label=label, linewidth=1.2)
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95])
    for axis in (det.xaxis, det.yaxis):
        axis.set_ticks(probit(ticks), [f"{100 * t:g}" for t in ticks])
    det.plot(probit(ticks[[0, -1]]), probit(ticks[[0, -1]]), ":", color="grey", linewidth=0.8)
    limits = probit(np.array([0.0005, 0.99]))
    det.set_xlim(*limits)
    det.set_ylim(*limits)
    det.set(xlabel="false alarm rate (%): spoof accepted", ylabel="miss rate (%): bona fide rejected",
            title="DET")
    roc.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    roc.set(xlabel="false alarm rate", ylabel="bona fide acceptance rate", title="ROC", xlim=(0, 1), ylim=(0, 1))
    roc.legend(fontsize=7, loc="lower right")
    figure.suptitle(title, fontsize=9)
    save_figure(figure, path)


def plot_heatmap(values: np.ndarray, rows: list[str], columns: list[str], path: str | Path, title: str = "") -> None:
    """A (rows x columns) table of numbers as a colour map with the values written in the cells."""
    plt = pyplot()
    values = np.asarray(values, float)
    figure, axes = plt.subplots(figsize=(2.2 + 1.3 * len(columns), 1.0 + 0.32 * len(rows)), dpi=110)
    image = axes.imshow(values, cmap="magma_r", aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                  color="white" if value > np.nanmean(values) else "black")
    axes.set_xticks(range(len(columns)), columns, rotation=20, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), rows, fontsize=7)
    figure.colorbar(image, ax=axes, fraction=0.04)
    axes.set_title(title, fontsize=9)
    save_figure(figure, path)


def plot_bars(values: dict[str, float], path: str | Path, title: str = "", ylabel: str = "",
              set_apart: tuple[str, ...] = ()) -> None:
    """One bar per ``{label: value}`` (in order), each value written above its bar; the labels in
    ``set_apart`` (e.g. a pooled total) are drawn grey and hatched."""
    plt = pyplot()
    labels, heights = list(values), np.asarray(list(values.values()), float)
    figure, axes = plt.subplots(figsize=(2.0 + 0.7 * len(labels), 3.6), dpi=110)
    colours = ["lightgrey" if label in set_apart else "tab:blue" for label in labels]
    bars = axes.bar(range(len(labels)), heights, color=colours, edgecolor="black", linewidth=0.6)
    for bar, label in zip(bars, labels):
        bar.set_hatch("//" if label in set_apart else "")
    axes.bar_label(bars, labels=[f"{value:.2f}" for value in heights], fontsize=7, padding=2)
    axes.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    axes.set_ylim(0, max(1.0, float(np.nanmax(heights)) * 1.15) if heights.size else 1.0)
    axes.set(ylabel=ylabel)
    axes.set_title(title, fontsize=9)
    save_figure(figure, path)


def plot_saliency(image: np.ndarray, saliency: np.ndarray, path: str | Path, title: str = "",
                  row_hz: np.ndarray | None = None, row_label: str = "row", rows_top_down: bool = False,
                  time_extent_s: tuple[float, float] = (0.0, 1.0), alpha: float = 0.45) -> None:
    """A front-end picture (``(rows, frames)`` spectrogram in grey over its 1st-99th percentile, or
    ``(rows, columns, 3)`` RGB as it is) beside the same picture under a saliency map ``(rows,
    frames)`` in [0, 1] (jet, ``alpha``).

    Time runs along x over ``time_extent_s`` seconds; rows are labelled with ``row_hz`` (Hz per row)
    where given, else with their index; ``rows_top_down`` draws row 0 at the top (images).
    """
    plt = pyplot()
    rows = image.shape[0]
    low, high = time_extent_s
    extent = (low, high, rows - 0.5, -0.5) if rows_top_down else (low, high, -0.5, rows - 0.5)
    shown = {"aspect": "auto", "origin": "upper" if rows_top_down else "lower", "extent": extent,
             "interpolation": "nearest"}
    # Grey levels over the 1st-99th percentile, so one extreme row (LFCC's c0) does not wash out the rest.
    grey = {} if image.ndim == 3 else {"cmap": "gray", "vmin": np.percentile(image, 1),
                                       "vmax": np.percentile(image, 99)}
    figure, panels = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharey=True)
    for axes in panels:
        axes.imshow(image, **grey, **shown)
        axes.set_xlabel("time (s)")
    overlay = panels[1].imshow(saliency, cmap="jet", alpha=alpha, vmin=0, vmax=1, **shown)
    ticks = np.unique(np.linspace(0, rows - 1, 8).round().astype(int))
    labels = [f"{row_hz[t]:.0f}" for t in ticks] if row_hz is not None else [str(t) for t in ticks]
    panels[0].set_yticks(ticks, labels)
    panels[0].set_ylabel(row_label)
    panels[0].set_title("front-end input", fontsize=9)
    panels[1].set_title("Grad-CAM (layer4) of the score", fontsize=9)
    figure.colorbar(overlay, ax=panels[1], fraction=0.04, label="saliency")
    figure.suptitle(title, fontsize=9)
    save_figure(figure, path)
