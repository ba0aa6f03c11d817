"""Theory table: the constants of `sast_theory.report` for each group of runs: the input-Lipschitz constant L_x,
the gradient bound G and the smoothness L_theta (a priori and a posteriori), the contraction factor rho and the
state bound U of every layer, the P6 register widths, and whether every assumption held (range over seeds).

    python -m paper_figures.theory_table RUN_DIR... --out DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .measure import FULL, Budget, ensure
from .runs import Run, group
from .section import Section, figure_main, table

NAME = "theory_table"
TITLE = "Theory: the constants of every trained network"


def _value(side: dict[str, Any] | None) -> float | None:
    return None if side is None else side["value"]


def _range(values: list[float | None]) -> str:
    """'a' or 'a .. b' over seeds (3 significant digits); 'inf' where A4 fails; '-' when not defined."""
    if all(v is None for v in values):
        return "-"
    finite = [v for v in values if v is not None]
    text = f"{min(finite):.3g}" if finite else "inf"
    if finite and max(finite) != min(finite):
        text += f" .. {max(finite):.3g}"
    return text + (" (inf for some seed)" if finite and len(finite) < len(values) else "")


def group_stats(runs: list[Run], budget: Budget) -> dict[str, dict[str, Any]]:
    stats = {}
    for label, members in group(runs).items():
        measured = [ensure(run, "theory", budget) for run in members]
        reports = [m["result"] for m in measured]
        rows = {}
        for key in ("L_x", "G", "L_theta"):
            for side in ("a_priori", "a_posteriori"):
                rows[f"{key} ({side.replace('_', ' ')})"] = [_value(r["constants"][key][side]) for r in reports]
        for index, layer in enumerate(reports[0]["layers"]):
            for key, text in (("rho", "contraction rho"), ("state_bound", "state bound U")):
                rows[f"{layer['name']} {text} (a posteriori)"] = [_value(r["layers"][index][key]["a_posteriori"])
                                                                  for r in reports]
        for index, layer in enumerate(reports[0]["statements"].get("P6", {}).get("layers", [])):
            rows[f"{layer['name']} P6 register bits (INT8 formats)"] = [
                float(r["statements"]["P6"]["layers"][index]["bits"]) for r in reports]
        stats[label] = {"rows": rows, "all_hold": [bool(r["all_hold"]) for r in reports],
                        "parameterization": reports[0]["source"]["parameterization"]}
    return stats


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = group_stats(runs, budget)
    labels = list(stats)
    quantities = list(dict.fromkeys(q for s in stats.values() for q in s["rows"]))
    rows = [[q, *(_range(stats[label]["rows"].get(q, [None])) for label in labels)] for q in quantities]
    rows.append(["every assumption holds, both paths agree",
                 *(f"{sum(s['all_hold'])}/{len(s['all_hold'])} seeds" for s in stats.values())])
    body = table(["constant (range over seeds)", *labels], rows)
    body += ("\nA priori constants exist only for the contractive parameterization (they come from its caps); "
             "'-' marks a constant that is not defined for these runs. Computed by `python -m sast_theory.report` "
             "(sympy and an independent numeric path, which must agree to 1e-9).\n")
    return Section(NAME, TITLE, body, [], {"groups": stats})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
