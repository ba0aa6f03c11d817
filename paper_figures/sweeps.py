"""What the rho and beta sweeps share: runs grouped by (method, swept value), surrogate / hard accuracy and the
gap per group (mean +- sd over seeds), and the plotting of one such curve with seed spread."""

from __future__ import annotations

from typing import Any

from .measure import Budget, ensure
from .runs import Run, fmt, mean_sd


def sweep_stats(runs: list[Run], key: str, budget: Budget) -> dict[str, dict[float, dict[str, Any]]]:
    """method -> swept value -> {surrogate, hard, gap (mean_sd), seeds}, values ascending."""
    cells: dict[str, dict[float, list[Run]]] = {}
    for run in runs:
        cells.setdefault(run.config["method"], {}).setdefault(float(run.config[key]), []).append(run)
    stats: dict[str, dict[float, dict[str, Any]]] = {}
    for method, by_value in cells.items():
        stats[method] = {}
        for value in sorted(by_value):
            evaluations = [ensure(run, "evaluation", budget, ("surrogate", "hard"))["result"]
                           for run in by_value[value]]
            surrogate = [e["modes"]["surrogate"]["accuracy"] for e in evaluations]
            hard = [e["modes"]["hard"]["accuracy"] for e in evaluations]
            stats[method][value] = {"surrogate": mean_sd(surrogate), "hard": mean_sd(hard),
                                    "gap": mean_sd([s - h for s, h in zip(surrogate, hard, strict=True)]),
                                    "seeds": sorted(run.seed for run in by_value[value])}
    return stats


def other_differences(runs: list[Run], key: str) -> list[str]:
    """Configuration keys other than method, seed and `key` that differ between the runs (should be none)."""
    keys = set().union(*(run.config for run in runs)) - {"method", "seed", "rho", key}
    return sorted(k for k in keys if len({repr(run.config.get(k)) for run in runs}) > 1)


def curve(ax, values: list[float], points: list[dict[str, Any]], colour_: str, style: str, label: str) -> None:
    """Mean with sd error bars, and every seed as a small dot."""
    ax.errorbar(values, [p["mean"] for p in points], yerr=[p["sd"] for p in points], color=colour_, ls=style,
                marker="o", ms=4, capsize=3, lw=1.3, label=label)
    for value, point in zip(values, points, strict=True):
        ax.scatter([value] * len(point["values"]), point["values"], s=6, color=colour_, alpha=0.5, zorder=3)


def sweep_rows(stats: dict[str, dict[float, dict[str, Any]]]) -> list[list[Any]]:
    """Table rows: method, value, seeds, surrogate, hard, gap."""
    return [[method, f"{value:g}", len(cell["seeds"]), fmt(cell["surrogate"]), fmt(cell["hard"]), fmt(cell["gap"])]
            for method, cells in stats.items() for value, cell in cells.items()]


def json_ready(stats: dict[str, dict[float, Any]]) -> dict[str, dict[str, Any]]:
    """The same with string keys."""
    return {method: {f"{value:g}": cell for value, cell in cells.items()} for method, cells in stats.items()}
