"""Figure plumbing (matplotlib, Agg backend): a readable default style, one colour per group, seed-spread
markers, and atomic PNG writes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sast_core.atomic import atomic_write_bytes
from sast_models.figures import plt, png_bytes

STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8,
         "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 100}
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")
plt.rcParams.update(STYLE)


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def save_figure(fig, path: Path) -> Path:
    """Save `fig` as PNG to `path` atomically and close it."""
    return atomic_write_bytes(path, png_bytes(fig, dpi=130, bbox_inches="tight"))


def bar_with_seeds(ax, x: float, values: Sequence[float], width: float, colour_: str, label: str | None = None,
                   hatch: str | None = None, text: bool = True) -> None:
    """A bar at the mean, an sd error bar, each seed as a dot, and the mean written above."""
    import statistics

    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    ax.bar(x, mean, width, color=colour_, alpha=0.55 if hatch else 0.8, hatch=hatch, edgecolor=colour_,
           label=label)
    ax.errorbar(x, mean, yerr=sd, color="black", capsize=3, lw=1)
    offsets = [(i - (len(values) - 1) / 2) * width * 0.5 / max(len(values), 1) for i in range(len(values))]
    ax.scatter([x + o for o in offsets], values, s=12, color="black", zorder=3)
    if text:
        top = max(mean + sd, max(values), 0.0)
        ax.annotate(f"{mean:.1f}", (x, top), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7)


def subplots(n_rows: int, n_cols: int, width: float, height: float, **kwargs):
    return plt.subplots(n_rows, n_cols, figsize=(width, height), **kwargs)
