"""Bounds: every bound that `verification.all` checks against the largest value its data and adversarial searches
found, a priori (from the parameterization's caps) and a posteriori (from the weights), on a log scale, one
colour per group of runs; with the ratio bound / empirical (the tightness).

    python -m paper_figures.bounds RUN_DIR... --out DIR

The rows come from whatever checks `verification.all` runs, so new checks appear by themselves (the convergence
and transfer certificates have their own section, paper_figures.certificates).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .measure import FULL, Budget, ensure
from .plots import colour, save_figure, subplots
from .runs import Run, group
from .section import Section, figure_main, table

NAME = "bounds"
TITLE = "Bounds against measured values"
CERTIFICATE_CHECKS = {"convergence": "P5, SAST's convergence rate (verification.check_convergence)",
                      "transfer": "P7, per-sample deployment certificates (verification.check_transfer)"}
MARKERS = {"bound_a_priori": ("^", "a priori bound"), "bound_a_posteriori": ("s", "a posteriori bound"),
           "empirical": ("o", "measured (data + adversarial search)")}


def plottable(row: dict[str, Any]) -> bool:
    """A claimed bound with a positive measured value (log scale)."""
    bound = [row[k] for k in ("bound_a_priori", "bound_a_posteriori") if row.get(k) is not None]
    return bool(row.get("bound_claimed", True) and bound and (row.get("empirical") or 0) > 0)


def short(row: dict[str, Any]) -> str:
    text = re.sub(r"\s*\((neuron \d+|power iteration \(lower estimate\))\)", "", row["quantity"])
    label = f"{row['check']}: {text}"
    return label if len(label) <= 60 else label[:57] + "..."


def group_rows(runs: list[Run], budget: Budget, keep: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """label -> {rows of the first run that `keep` keeps, whether each held in every run, passed, ...}."""
    stats = {}
    for label, members in group(runs).items():
        results = [ensure(run, "verification", budget) for run in members]
        first = results[0]["result"]
        rows = [row for row in first["rows"] if keep(row)]
        holds: dict[int, list[bool]] = {}  # by row position: every run runs the same checks in the same order
        for result in results:
            for position, row in enumerate(result["result"]["rows"]):
                holds.setdefault(position, []).append(bool(row["holds"]))
        kept = [position for position, row in enumerate(first["rows"]) if keep(row)]
        stats[label] = {"rows": rows, "seed": members[0].seed, "n_runs": len(members),
                        "holds": [holds[position] for position in kept],
                        "passed": all(r["result"]["passed"] for r in results),
                        "not_checked": first.get("not_checked", {})}
    return stats


def plot(stats: dict[str, Any], path: Path) -> Path | None:
    quantities = list(dict.fromkeys(short(row) for entry in stats.values() for row in entry["rows"]
                                    if plottable(row)))
    if not quantities:
        return None
    fig, ax = subplots(1, 1, 9.0, 1.2 + 0.26 * len(quantities))
    offset = 0.32 / max(len(stats), 1)
    for k, entry in enumerate(stats.values()):
        for row in entry["rows"]:
            if not plottable(row):
                continue
            y = quantities.index(short(row)) + (k - (len(stats) - 1) / 2) * offset
            values = [row[key] for key in MARKERS if row.get(key) is not None]
            ax.plot([min(values), max(values)], [y, y], color=colour(k), lw=0.8, alpha=0.6)
            for key, (marker, _) in MARKERS.items():
                if row.get(key) is not None:
                    ax.plot(row[key], y, marker=marker, color=colour(k), ms=5, ls="none",
                            mfc="white" if key == "empirical" else colour(k))
    ax.set_xscale("log")
    ax.set_yticks(range(len(quantities)), quantities)
    ax.invert_yaxis()
    ax.set_xlabel("value (each quantity in its own unit; log scale)")
    shown = [key for key in MARKERS if any(row.get(key) is not None for e in stats.values() for row in e["rows"]
                                           if plottable(row))]
    handles = [ax.plot([], [], marker=MARKERS[key][0], color="grey", ls="none",
                       mfc="white" if key == "empirical" else "grey")[0] for key in shown]
    handles += [ax.plot([], [], color=colour(k), lw=3)[0] for k in range(len(stats))]
    ax.legend(handles, [MARKERS[key][1] for key in shown] + [f"{label} (seed {e['seed']})"
                                                             for label, e in stats.items()],
              loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def rows_table(stats: dict[str, Any]) -> str:
    head = ["runs", "check", "quantity", "a priori", "a posteriori", "measured", "ratio", "holds (all seeds)"]
    body = []
    for label, entry in stats.items():
        for row, holds in zip(entry["rows"], entry["holds"], strict=True):
            body.append([label, row["check"], row["quantity"], *(_g(row.get(k)) for k in
                         ("bound_a_priori", "bound_a_posteriori", "empirical", "ratio")),
                         f"{'yes' if all(holds) else 'NO'} ({sum(holds)}/{len(holds)})"])
    return table(head, body)


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = group_rows(runs, budget, lambda row: row.get("check") not in CERTIFICATE_CHECKS)
    image = plot(stats, out / f"{NAME}.png")
    verdict = "; ".join(f"{label}: {'every bound held' if e['passed'] else 'A BOUND WAS VIOLATED'} "
                        f"({e['n_runs']} run(s))" for label, e in stats.items())
    not_checked = {k: v for e in stats.values() for k, v in e["not_checked"].items()}
    body = f"{verdict}.\n\n" + rows_table(stats)
    if not_checked:
        body += "\nNot checked by this version of `verification.all`: " + "; ".join(
            f"{k} ({v})" for k, v in not_checked.items()) + ".\n"
    return Section(NAME, TITLE, body, [image] if image else [], {"groups": stats})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
