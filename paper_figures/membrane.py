"""Near-threshold membrane mass: histograms of u - theta of the first spiking layer over the evaluation set,
surrogate and hard spikes, one curve per group of runs (all seeds pooled), and the fraction of potentials with
|u - theta| < band per group. Potentials near threshold are where a surrogate spike and a hard spike differ
most, so a smaller near-threshold mass is why a network's transfer gap closes.

    python -m paper_figures.membrane RUN_DIR... --out DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .measure import FULL, Budget, ensure
from .plots import colour, save_figure, subplots
from .runs import Run, fmt, group, mean_sd, scaled
from .section import Section, figure_main, table

NAME = "membrane"
TITLE = "Near-threshold membrane mass"
MODES = ("surrogate", "hard")


def group_stats(runs: list[Run], budget: Budget) -> dict[str, dict[str, Any]]:
    stats = {}
    for label, members in group(runs).items():
        results = [ensure(run, "membrane", budget)["result"] for run in members]
        entry: dict[str, Any] = {"edges": results[0]["edges"], "band": results[0]["band"], "modes": {}}
        for mode in MODES:
            layers = []
            for index in range(len(results[0]["modes"][mode])):
                parts = [r["modes"][mode][index] for r in results]
                total = sum(p["total"] for p in parts)
                counts = np.sum([p["counts"] for p in parts], axis=0)
                layers.append({"density": (counts / total).tolist(), "below": sum(p["below"] for p in parts) / total,
                               "above": sum(p["above"] for p in parts) / total,
                               "near": mean_sd([p["near_threshold_fraction"] for p in parts])})
            entry["modes"][mode] = layers
        stats[label] = entry
    return stats


def plot(stats: dict[str, dict[str, Any]], path: Path) -> Path:
    fig, axes = subplots(1, len(MODES), 4.2 * len(MODES), 3.4, sharey=True)
    first = next(iter(stats.values()))
    edges = np.asarray(first["edges"])
    centres, band = (edges[:-1] + edges[1:]) / 2, first["band"]
    for ax, mode in zip(axes, MODES, strict=True):
        for k, (label, entry) in enumerate(stats.items()):
            layer = entry["modes"][mode][0]
            density = np.asarray(layer["density"]) / np.diff(edges)
            ax.step(centres, np.where(density > 0, density, np.nan), where="mid", color=colour(k), lw=1.2,
                    label=f"{label}: {100 * layer['near']['mean']:.2f}% within +-{band:g}")
        ax.axvspan(-band, band, color="grey", alpha=0.25, lw=0)
        ax.axvline(0, color="black", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("u - theta, first spiking layer (membrane units)")
        ax.set_title(f"{mode} spikes")
        ax.legend(loc="lower left", fontsize=7)
    axes[0].set_ylabel("density (fraction of potentials per unit)")
    fig.tight_layout()
    return save_figure(fig, path)


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = group_stats(runs, budget)
    first = next(iter(stats.values()))
    band, edges = first["band"], first["edges"]
    rows = []
    for label, entry in stats.items():
        for index in range(len(entry["modes"]["surrogate"])):
            cells = [fmt(scaled(entry["modes"][m][index]["near"], 100), 2) for m in MODES]
            below = 100 * entry["modes"]["hard"][index]["below"]
            rows.append([label, f"spiking layer {index + 1}", *cells, f"{below:.1f}"])
    head = ["runs", "layer", f"surrogate: % with abs(u - theta) < {band:g}", f"hard: % with abs(u - theta) < {band:g}",
            f"hard: % below u - theta = {edges[0]:g} (off the plot)"]
    body = table(head, rows) + ("\nThe shaded band is abs(u - theta) < band, where surrogate and hard spikes disagree "
                                "most; mean +- sd over seeds.\n")
    return Section(NAME, TITLE, body, [plot(stats, out / f"{NAME}.png")], {"groups": stats})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
