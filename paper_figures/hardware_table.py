"""Hardware table: accuracy with surrogate spikes, hard spikes and the integer deployments INT8 / INT4 / fixed,
SynOps per sample, the P6 register widths and saturation events, per group of runs (mean +- sd over seeds),
with the published numbers beside ours (each with the data it came from).

    python -m paper_figures.hardware_table RUN_DIR... --out DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .configs import data_kind
from .measure import ALL_MODES, FULL, Budget, ensure
from .plots import bar_with_seeds, colour, save_figure, subplots
from .published import SOURCE, published_for
from .runs import Run, fmt, group, mean_sd
from .section import Section, figure_main, table

NAME = "hardware_table"
TITLE = "Deployment: accuracy per mode, SynOps, register widths"
MODE_NAMES = {"surrogate": "surrogate", "hard": "hard", "int8": "INT8", "int4": "INT4", "fixed": "fixed"}


def group_stats(runs: list[Run], budget: Budget) -> dict[str, dict[str, Any]]:
    stats = {}
    for label, members in group(runs).items():
        evaluations = [ensure(run, "evaluation", budget, ALL_MODES)["result"] for run in members]
        modes = {m: mean_sd([e["modes"][m]["accuracy"] for e in evaluations]) for m in ALL_MODES}
        hardware = {m: [e["modes"][m]["hardware"] for e in evaluations] for m in ALL_MODES if m != "surrogate"}
        stats[label] = {
            "accuracy": modes,
            "synops_k": {m: mean_sd([h["synops_total_per_sample"] / 1e3 for h in hw]) for m, hw in hardware.items()},
            "p6_bits": {m: [max(h["formats"][i]["p6_safe_bits"] for h in hw) for i in range(len(hw[0]["formats"]))]
                        for m, hw in hardware.items() if hw[0]["formats"]},
            "register_bits": {m: [f["register_bits"] for f in hw[0]["formats"]] for m, hw in hardware.items()
                              if hw[0]["formats"]},
            "saturation": {m: sum(h["saturation_total"] for h in hw) for m, hw in hardware.items()},
            "silent_layers": {m: sorted({name for h in hw for name in h["silent_layers"]})
                              for m, hw in hardware.items()},
            "data": members[0].config["data"], "n_samples": evaluations[0]["n_samples"],
            "split": f"{evaluations[0]['split']}/{evaluations[0]['subset']}", "seeds": len(members),
        }
    return stats


def published_rows(kind: str) -> list[list[Any]]:
    published = published_for(kind)
    if published is None:
        return []
    rows = []
    for method, numbers in published["methods"].items():
        cells = ["-" if numbers.get(m) is None else f"{numbers[m]:.1f}" for m in ("surrogate", "hard", "int8", "int4")]
        name = f"published SAST, rho {published['rho']:g}" if method == "sast" else f"published {method}"
        rows.append([name, "-", *cells, "-", "-",
                     f"{numbers['synops_int8_k']:.0f}", "-", "-", f"{published['data']} ({SOURCE})"])
    return rows


def plot(stats: dict[str, dict[str, Any]], path: Path) -> Path:
    labels = list(stats)
    width = 0.8 / len(labels)
    fig, ax = subplots(1, 1, 2.0 + 1.4 * len(ALL_MODES), 3.4)
    for k, label in enumerate(labels):
        for i, mode in enumerate(ALL_MODES):
            x = i + (k - (len(labels) - 1) / 2) * width
            bar_with_seeds(ax, x, stats[label]["accuracy"][mode]["values"], width * 0.95, colour(k),
                           label=label if i == 0 else None)
    ax.set_xticks(range(len(ALL_MODES)), [MODE_NAMES[m] for m in ALL_MODES])
    ax.set_xlabel("deployment mode (same weights)")
    ax.set_ylabel("accuracy (%)")
    values = [v for s in stats.values() for a in s["accuracy"].values() for v in a["values"]]
    ax.set_ylim(max(0.0, min(values) - 15), min(100.0, max(values) + 8))
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(labels), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = group_stats(runs, budget)
    head = ["runs", "seeds", *(f"{MODE_NAMES[m]} acc (%)" for m in ALL_MODES), "SynOps/sample hard (k)",
            "SynOps/sample INT8 (k)", "P6 safe bits INT8 (per layer, max over seeds)", "saturation events", "data"]
    rows = []
    for label, s in stats.items():
        bits = "/".join(map(str, s["p6_bits"].get("int8", [])))
        rows.append([label, s["seeds"], *(fmt(s["accuracy"][m]) for m in ALL_MODES), fmt(s["synops_k"]["hard"], 0),
                     fmt(s["synops_k"]["int8"], 0), bits, sum(s["saturation"].values()),
                     f"{s['data']} ({s['n_samples']} samples, {s['split']})"])
    first = next(iter(stats.values()))
    rows += published_rows(data_kind(first["data"]))
    fixed_bits = first["register_bits"].get("fixed", [])
    fixed_need = first["p6_bits"].get("fixed", [])
    body = table(head, rows)
    body += ("\nINT8 / INT4: symmetric per-tensor weights, membranes with 8 fractional bits in the P6-safe register, "
             "Lava's 12-bit multiplicative leak; fixed: 16-bit per-channel weights, a given 32-bit register, shift "
             f"leak. P6 widths of the fixed mode's layers: {'/'.join(map(str, fixed_need))} bits needed vs "
             f"{'/'.join(map(str, fixed_bits))} given (where more are needed, saturation is possible and counted). "
             "SynOps: synaptic operations per sample (input events included). Published rows: the papers' data, "
             "not ours.\n")
    return Section(NAME, TITLE, body, [plot(stats, out / f"{NAME}.png")], {"groups": stats})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
