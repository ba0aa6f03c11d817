"""Figures (matplotlib, Agg backend) as PNG bytes, written by the command with its other outputs."""

from __future__ import annotations

from sast_models.figures import plt, png_bytes


def settings_split(results: dict) -> str:
    settings = results["settings"]
    return settings["split"] if settings.get("subset", "all") == "all" else f"{settings['split']}/{settings['subset']}"


def accuracy_bars(results: dict) -> bytes:
    """PNG: grouped bars of the accuracy per evaluation mode (x) and method (colour), mean over seeds with sd
    error bars."""
    summary = results["summary"]
    modes = results["settings"]["modes"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(modes), 3.2))
    width = 0.8 / len(summary)
    for k, (method, stats) in enumerate(summary.items()):
        means = [stats["accuracy"][m]["mean"] for m in modes]
        sds = [stats["accuracy"][m]["sd"] for m in modes]
        positions = [i + (k - (len(summary) - 1) / 2) * width for i in range(len(modes))]
        bars = ax.bar(positions, means, width, yerr=sds, capsize=2, label=method)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(range(len(modes)), modes)
    ax.set_ylabel(f"{settings_split(results)} accuracy (%)")
    ax.set_ylim(0, 105)
    settings = results["settings"]
    ax.set_title(f"{settings['data']}: beta={settings['beta']}, rho={settings['rho']}, seeds {settings['seeds']}",
                 fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    return png_bytes(fig, dpi=130, bbox_inches="tight")
