"""Figures (matplotlib, Agg backend), written atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sast_core.atomic import atomic_write  # noqa: E402


def save_figure(fig, path: Path) -> Path:
    """Save `fig` as PNG to `path` atomically and close it."""
    result = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight"))
    plt.close(fig)
    return result


def accuracy_bars(results: dict, path: Path) -> Path:
    """Grouped bars: accuracy per evaluation mode (x) and method (colour), mean over seeds with sd error bars."""
    summary = results["summary"]
    modes = results["settings"]["modes"].split(",")
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(modes), 3.2))
    width = 0.8 / len(summary)
    for k, (method, stats) in enumerate(summary.items()):
        means = [stats["accuracy"][m]["mean"] for m in modes]
        sds = [stats["accuracy"][m]["sd"] for m in modes]
        positions = [i + (k - (len(summary) - 1) / 2) * width for i in range(len(modes))]
        bars = ax.bar(positions, means, width, yerr=sds, capsize=2, label=method)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(range(len(modes)), modes)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    settings = results["settings"]
    ax.set_title(f"{settings['data']}: beta={settings['beta']}, rho={settings['rho']}, seeds {settings['seeds']}",
                 fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(fig, path)
