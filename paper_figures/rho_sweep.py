"""rho sweep: SAST's surrogate and hard-spike accuracy and its transfer gap against the SAM radius rho (log
scale), mean +- sd over seeds with every seed shown; the baseline (rho = 0) as a reference band.

    python -m paper_figures.rho_sweep RUN_DIR... --out DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from .measure import FULL, Budget
from .plots import colour, save_figure, subplots
from .runs import Run
from .section import Section, figure_main, table
from .sweeps import curve, json_ready, other_differences, sweep_rows, sweep_stats

NAME = "rho_sweep"
TITLE = "rho sweep"


def plot(stats: dict, path: Path) -> Path:
    fig, (left, right) = subplots(1, 2, 9.0, 3.4)
    swept = {m: cells for m, cells in stats.items() if m != "baseline"}
    for k, (method, cells) in enumerate(swept.items()):
        values = list(cells)
        curve(left, values, [c["hard"] for c in cells.values()], colour(k + 1), "-", f"{method}, hard spikes")
        curve(left, values, [c["surrogate"] for c in cells.values()], colour(k + 1), "--", f"{method}, surrogate")
        curve(right, values, [c["gap"] for c in cells.values()], colour(k + 1), "-", method)
    for cell in stats.get("baseline", {}).values():
        for ax, key, style, text in ((left, "hard", "-", "baseline, hard spikes"),
                                     (left, "surrogate", "--", "baseline, surrogate"),
                                     (right, "gap", "-", "baseline (rho = 0)")):
            mean, sd = cell[key]["mean"], cell[key]["sd"]
            ax.axhline(mean, color=colour(0), ls=style, lw=1.2, label=text)
            ax.axhspan(mean - sd, mean + sd, color=colour(0), alpha=0.12, lw=0)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("SAM radius rho (log scale)")
    left.set_ylabel("accuracy (%)")
    right.set_ylabel("transfer gap, surrogate - hard (points)")
    right.axhline(0, color="black", lw=0.6)
    left.legend(loc="lower left", fontsize=7)
    right.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = sweep_stats(runs, "rho", budget)
    body = table(["method", "rho", "seeds", "surrogate acc (%)", "hard acc (%)", "gap (pp)"], sweep_rows(stats))
    differ = other_differences(runs, "rho")
    if differ:
        body += f"\nNote: these runs also differ in {', '.join(differ)}.\n"
    return Section(NAME, TITLE, body, [plot(stats, out / f"{NAME}.png")], {"methods": json_ready(stats)})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
