"""Pictures of a run and of a model: convergence curves, a confusion matrix, predicted vs
actual; and an optimizer's per-iteration history as a table.

Every figure is drawn here, by ``linfit train --plot``, ``linfit evaluate --plot`` and
``make reproduce`` alike. matplotlib (the ``plot`` extra) is imported only when a figure
is drawn, and figures are rendered by the Agg backend on their own canvas, so pyplot's
global state (its figure list, the session's backend) is never touched. Files are written
atomically, as every linfit output is.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from linfit.errors import OptionError
from linfit.optim import IterationRecord
from linfit.optional import require
from linfit.storage.atomic import atomic_write

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# File endings a plot can be written as, and matplotlib's name for each format.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
HISTORY_COLUMNS = tuple(f.name for f in dataclasses.fields(IterationRecord))
MARKERS_BELOW = 40  # a curve of fewer points gets markers, so a few Newton steps stay visible
ANNOTATE_CLASSES = 30  # a confusion matrix of at most this many classes shows its counts
LABEL_CLASSES = 50  # ... and of at most this many, its class names
SCATTER_POINTS = 20_000  # above this many samples, predicted vs actual is a density (hexbin)
DPI = 100


def require_matplotlib(purpose: str = "drawing plots") -> None:
    """Raise the one-line :class:`~linfit.optional.MissingExtraError` if matplotlib is absent."""
    require("matplotlib", "plot", purpose)


def plot_format(path: str | Path, option: str = "--plot") -> str:
    """matplotlib's format for ``path``, chosen by its ending (.png, .svg or .pdf)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise OptionError(
            f"{option} {path}: give a file name ending in {', '.join(FORMATS)} (got "
            f"{suffix or 'no ending'})"
        )
    return FORMATS[suffix]


def new_figure(**kwargs: Any) -> Figure:
    """A figure on its own Agg canvas (``kwargs`` as ``matplotlib.figure.Figure``)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def figure_bytes(figure: Figure, fmt: str = "png") -> bytes:
    """The figure rendered as ``fmt`` (png, svg or pdf)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=DPI)
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | Path, what: str = "plot") -> None:
    """Write the figure atomically, in the format its file name ends with."""
    image = figure_bytes(figure, plot_format(path))
    atomic_write(path, lambda fh: fh.write(image), binary=True, what=what)


def log_curve(ax: Axes, x: Sequence[float], y: Sequence[float], label: str | None = None) -> bool:
    """``y`` against ``x`` on a log y-axis, leaving out values that are not positive (a log
    scale has no place for them); markers on short curves. False if nothing was drawn."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = y > 0
    if not keep.any():
        return False
    ax.semilogy(
        x[keep],
        y[keep],
        label=label,
        marker="o" if keep.sum() < MARKERS_BELOW else None,
        markersize=3,
    )
    return True


def grid(ax: Axes) -> None:
    """Light major and minor grid lines."""
    ax.grid(True, which="both", alpha=0.3)


def convergence_figure(history: Sequence[IterationRecord], title: str) -> Figure:
    """Objective and max |gradient| of one run, against iterations and against seconds.

    The objective is shown as its gap above the lowest value the run reached, on a log
    scale (so a linear rate is a straight line and a quadratic one bends down); that
    lowest point itself has no gap to show.
    """
    if not history:
        raise ValueError("no iterations to plot")
    nit = [r.nit for r in history]
    elapsed = [r.elapsed for r in history]
    fun = np.array([r.fun for r in history])
    grad = [r.grad_norm for r in history]
    gap = fun - fun.min()
    figure = new_figure(figsize=(10, 7))
    axes = figure.subplots(2, 2, sharex="col", sharey="row")
    for column, (x, xlabel) in enumerate(((nit, "iteration"), (elapsed, "time (s)"))):
        top, bottom = axes[0, column], axes[1, column]
        if not log_curve(top, x, gap):
            top.text(
                0.5,
                0.5,
                "no decrease to show: the run took no steps",
                ha="center",
                va="center",
                transform=top.transAxes,
            )
            top.set_yscale("log")
        log_curve(bottom, x, grad)
        bottom.set_xlabel(xlabel)
        grid(top)
        grid(bottom)
    axes[0, 0].set_ylabel(f"objective − lowest ({fun.min():.6g})")
    axes[1, 0].set_ylabel("max |gradient|")
    figure.suptitle(title)
    return figure


def cv_figure(result: Any, title: str) -> Figure:
    """A cross-validation's mean validation score against ``reg`` (log scale), one
    standard deviation over the folds shaded, the chosen ``reg`` marked; ``result`` a
    :class:`linfit.fitting.cv.CVResult`."""
    figure = new_figure(figsize=(7, 4.5))
    ax = figure.subplots()
    regs, mean, sd = result.regs, result.mean, result.sd
    positive = regs > 0  # a reg of 0 has no place on a log axis
    ax.semilogx(regs[positive], mean[positive], marker="o", markersize=3)
    ax.fill_between(regs[positive], (mean - sd)[positive], (mean + sd)[positive], alpha=0.25)
    ax.axvline(result.best_reg, color="k", linestyle="--", linewidth=1)
    ax.set_xlabel("reg")
    ax.set_ylabel(f"validation {result.metric} (mean ± sd over folds)")
    grid(ax)
    figure.suptitle(f"{title}: best reg {result.best_reg:.3g}")
    return figure


def confusion_figure(matrix: np.ndarray, classes: Sequence[Any], title: str) -> Figure:
    """Counts of true (rows) against predicted (columns) classes, as a heat map."""
    matrix = np.asarray(matrix)
    k = matrix.shape[0]
    side = min(4.0 + 0.45 * k, 16.0)
    figure = new_figure(figsize=(side + 1.2, side))
    ax = figure.subplots()
    image = ax.imshow(matrix, cmap="Blues", interpolation="nearest", vmin=0)
    figure.colorbar(image, ax=ax, label="samples", shrink=0.8)
    if k <= LABEL_CLASSES:
        names = [str(c) for c in classes]
        long = max(map(len, names)) > 3
        ax.set_xticks(range(k), names, rotation=45 if long else 0, ha="right" if long else "center")
        ax.set_yticks(range(k), names)
    if k <= ANNOTATE_CLASSES:
        dark = matrix.max() / 2
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    color="white" if matrix[i, j] > dark else "black",
                    fontsize=9,
                )
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return figure


def prediction_figure(actual: np.ndarray, predicted: np.ndarray, title: str) -> Figure:
    """Predicted against actual values, with the line where they are equal; a density
    (hexbin, log counts) instead of points when there are many samples."""
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if actual.size != predicted.size:
        raise OptionError("--plot draws one predicted value per sample; this model gives several")
    actual, predicted = actual.ravel(), predicted.ravel()
    figure = new_figure(figsize=(6.5, 6))
    ax = figure.subplots()
    if actual.size > SCATTER_POINTS:
        cells = ax.hexbin(actual, predicted, gridsize=60, bins="log", mincnt=1, cmap="viridis")
        figure.colorbar(cells, ax=ax, label="samples")
    else:
        ax.scatter(actual, predicted, s=12, alpha=0.6, edgecolors="none")
    low = float(min(actual.min(), predicted.min()))
    high = float(max(actual.max(), predicted.max()))
    pad = 0.03 * (high - low) or 1.0
    limits = (low - pad, high + pad)
    ax.plot(limits, limits, "--", color="gray", linewidth=1, label="predicted = actual")
    ax.set(xlim=limits, ylim=limits, xlabel="actual", ylabel="predicted", title=title)
    ax.set_aspect("equal")
    ax.legend(loc="upper left")
    grid(ax)
    return figure


def history_frame(history: Sequence[IterationRecord]) -> pd.DataFrame:
    """The per-iteration records as a table: one row per record (the start is row 0),
    columns nit, fun, grad_norm, step, nfev, elapsed."""
    import pandas as pd  # on first use: a command that writes no history skips it

    return pd.DataFrame(
        [dataclasses.astuple(record) for record in history], columns=list(HISTORY_COLUMNS)
    )


def write_history(history: Sequence[IterationRecord], path: str | Path) -> None:
    """Write the per-iteration records as CSV, atomically; floats keep every digit."""
    frame = history_frame(history)
    atomic_write(path, lambda fh: frame.to_csv(fh, index=False), binary=False, what="history file")
