"""Corruption robustness: surrogate and hard-spike accuracy of each group of runs under event-level corruptions
of increasing severity (event drop, background-noise events, timestamp jitter, hot pixels, polarity flips;
`sast_models.data.corruptions`), the corrupted events framed exactly as in training; mean +- sd over seeds.

    python -m paper_figures.corruption RUN_DIR... --out DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .measure import FULL, Budget, ensure
from .plots import colour, save_figure, subplots
from .runs import Run, fmt, group, mean_sd
from .section import Section, figure_main, table

NAME = "corruption"
TITLE = "Robustness to event corruptions"
MODES = ("hard", "surrogate")


def group_stats(runs: list[Run], budget: Budget) -> dict[str, dict[str, Any]]:
    stats = {}
    for label, members in group(runs).items():
        results = [ensure(run, "corruption", budget)["result"] for run in members]
        curves = {}
        for name, curve in results[0]["curves"].items():
            points = [[r["curves"][name]["points"][i] for r in results] for i in range(len(curve["points"]))]
            curves[name] = {"axis": curve["axis"], "severity": [p[0]["severity"] for p in points],
                            **{mode: [mean_sd([q[mode] for q in p]) for p in points] for mode in MODES}}
        stats[label] = {"curves": curves, "n_samples": results[0]["n_samples"]}
    return stats


DISPLAY = {"jitter": (1e-3, "timestamp jitter sd (ms)")}  # shown in another unit than the transform's


def plot(stats: dict[str, dict[str, Any]], path: Path) -> Path:
    names = list(next(iter(stats.values()))["curves"])
    columns = 3
    rows = -(-(len(names) + 1) // columns)
    fig, grid = subplots(rows, columns, 3.3 * columns, 2.7 * rows, squeeze=False)
    axes = grid.flatten()
    for ax, name in zip(axes, names, strict=False):
        for k, (label, entry) in enumerate(stats.items()):
            curve = entry["curves"][name]
            positions = range(len(curve["severity"]))
            for mode, style in zip(MODES, ("-", "--"), strict=True):
                ax.errorbar(positions, [p["mean"] for p in curve[mode]], yerr=[p["sd"] for p in curve[mode]],
                            color=colour(k), ls=style, marker="o", ms=3, capsize=2, lw=1.2, label=f"{label}, {mode}")
        scale, axis = DISPLAY.get(name, (1.0, curve["axis"]))
        ax.set_xticks(list(positions), [f"{scale * v:g}" for v in curve["severity"]])
        ax.set_xlabel(axis)
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(name.replace("_", " "))
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[len(names):]:
        ax.axis("off")
    axes[len(names)].legend(handles, labels, loc="center", frameon=False, title="solid: hard, dashed: surrogate")
    fig.tight_layout()
    return save_figure(fig, path)


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = group_stats(runs, budget)
    labels = list(stats)
    first = stats[labels[0]]
    head = ["corruption", "severity", *(f"{label}: {mode} (%)" for label in labels for mode in MODES)]
    rows = []
    for name, curve in first["curves"].items():
        for i, severity in enumerate(curve["severity"]):
            rows.append([curve["axis"], f"{severity:g}",
                         *(fmt(stats[label]["curves"][name][mode][i]) for label in labels for mode in MODES)])
    body = table(head, rows) + (f"\nAccuracy on {first['n_samples']} evaluation samples, corrupted with seed 0 per "
                                "sample; severity 0 is the clean data. Solid: hard spikes, dashed: surrogate.\n")
    return Section(NAME, TITLE, body, [plot(stats, out / f"{NAME}.png")], {"groups": stats})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
