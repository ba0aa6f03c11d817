"""Transfer gap: surrogate vs hard-spike accuracy of each group of runs (baseline, SAST, compute-matched
baseline), mean +- sd over seeds with every seed shown, and the gap surrogate - hard in points.

    python -m paper_figures.transfer_gap RUN_DIR... --out DIR

`phenomenon(baseline, sast)` is the demo's acceptance: the baseline's gap minus SAST's is at least two pooled
standard deviations of the gaps, and SAST's hard-spike accuracy is above the baseline's.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

from .measure import FULL, Budget, ensure
from .plots import bar_with_seeds, colour, save_figure, subplots
from .runs import Run, fmt, group, mean_sd, pooled_sd
from .section import Section, figure_main, table

NAME = "transfer_gap"
TITLE = "Transfer gap: surrogate vs hard spikes"


def group_stats(runs: list[Run], budget: Budget) -> dict[str, dict[str, Any]]:
    """label -> surrogate, hard and gap (mean_sd over seeds), the seeds and the evaluated samples."""
    stats = {}
    for label, members in group(runs).items():
        evaluations = [ensure(run, "evaluation", budget, ("surrogate", "hard"))["result"] for run in members]
        surrogate = [e["modes"]["surrogate"]["accuracy"] for e in evaluations]
        hard = [e["modes"]["hard"]["accuracy"] for e in evaluations]
        stats[label] = {"surrogate": mean_sd(surrogate), "hard": mean_sd(hard),
                        "gap": mean_sd([s - h for s, h in zip(surrogate, hard, strict=True)]),
                        "seeds": [run.seed for run in members], "n_samples": evaluations[0]["n_samples"],
                        "split": f"{evaluations[0]['split']}/{evaluations[0]['subset']}"}
    return stats


def phenomenon(baseline: dict[str, Any], sast: dict[str, Any]) -> dict[str, Any]:
    """Gap difference in pooled sds, and whether SAST's hard accuracy beats the baseline's (>= 2 and True)."""
    difference = baseline["gap"]["mean"] - sast["gap"]["mean"]
    pooled = pooled_sd(baseline["gap"], sast["gap"])
    in_sds = difference / pooled if pooled > 0 else None  # None: no spread (one seed, or equal gaps)
    hard_better = sast["hard"]["mean"] > baseline["hard"]["mean"]
    separated = difference > 0 if in_sds is None else in_sds >= 2
    return {"gap_difference_pp": difference, "pooled_sd_pp": pooled, "difference_in_pooled_sd": in_sds,
            "sast_hard_above_baseline": hard_better, "shown": bool(separated and hard_better)}


def plot(stats: dict[str, dict[str, Any]], path: Path) -> Path:
    labels = list(stats)
    fig, (left, right) = subplots(1, 2, 3.2 + 2.2 * len(labels), 3.4, gridspec_kw={"width_ratios": [2, 1]})
    for i, label in enumerate(labels):
        bar_with_seeds(left, i - 0.2, stats[label]["surrogate"]["values"], 0.38, colour(i), hatch="//",
                       label="surrogate spikes" if i == 0 else None)
        bar_with_seeds(left, i + 0.2, stats[label]["hard"]["values"], 0.38, colour(i),
                       label="hard spikes" if i == 0 else None)
        bar_with_seeds(right, i, stats[label]["gap"]["values"], 0.6, colour(i))
    for ax in (left, right):
        ax.set_xticks(range(len(labels)), [textwrap.fill(label, 16) for label in labels])
    low = min(min(s["hard"]["values"] + s["surrogate"]["values"]) for s in stats.values())
    high = max(max(s["hard"]["values"] + s["surrogate"]["values"]) for s in stats.values())
    left.set_ylim(max(0.0, low - 15), min(100.0, high + 6))
    left.set_ylabel("accuracy (%)")
    left.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False)
    gaps = [g for s in stats.values() for g in s["gap"]["values"]]
    right.set_ylim(min(0.0, min(gaps)) * 1.2 - 0.5, max(0.0, max(gaps)) * 1.15 + 1.0)
    right.axhline(0, color="black", lw=0.8)
    right.set_ylabel("surrogate - hard accuracy (points)")
    right.set_title("transfer gap")
    fig.suptitle("bars: mean over seeds, dots: single seeds, whiskers: sd", fontsize=8, y=1.0)
    fig.tight_layout()
    return save_figure(fig, path)


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = group_stats(runs, budget)
    rows = [[label, len(s["seeds"]), fmt(s["surrogate"]), fmt(s["hard"]), fmt(s["gap"])] for label, s in stats.items()]
    first = next(iter(stats.values()))
    body = table(["runs", "seeds", "surrogate acc (%)", "hard acc (%)", "gap (pp)"], rows)
    body += f"\nMean +- sd over seeds on {first['n_samples']} samples ({first['split']} split/subset).\n"
    return Section(NAME, TITLE, body, [plot(stats, out / f"{NAME}.png")], {"groups": stats})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
