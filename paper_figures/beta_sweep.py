"""beta sweep: surrogate and hard-spike accuracy and the transfer gap of each method against the surrogate
sharpness beta (log scale), mean +- sd over seeds; beside it, the largest leak taubar for which the contraction
assumption A4 can hold at that beta: a priori (from the parameterization's caps: what the contractive
parameterization allows) and a posteriori (from each trained network's weights), with the trained tau.

    python -m paper_figures.beta_sweep RUN_DIR... --out DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from sast_models.checkpoint import load_checkpoint
from sast_theory.calculus import largest_feasible_taubar

from .measure import FULL, Budget
from .plots import colour, save_figure, subplots
from .runs import Run, mean_sd
from .section import Section, figure_main, table
from .sweeps import curve, json_ready, other_differences, sweep_rows, sweep_stats

NAME = "beta_sweep"
TITLE = "beta sweep and the contraction-feasible leak"
CURVE_POINTS = 25


def feasibility(runs: list[Run]) -> dict[str, Any]:
    """A priori curve taubar*(beta) for the caps' current bound, and per (method, beta) the a posteriori
    taubar* of the trained weights' first spiking layer (mean_sd over seeds)."""
    net, _ = load_checkpoint(runs[0].checkpoint)
    spec = net.spec
    current = net.current_bounds()[0]
    betas = sorted(float(run.config["beta"]) for run in runs)
    grid = np.geomspace(min(betas) / 1.5, max(betas) * 1.5, CURVE_POINTS)
    prior = [[float(b), largest_feasible_taubar(spec.surrogate, float(b), spec.theta, spec.reset, current)]
             for b in grid]
    posterior: dict[str, dict[float, list[float]]] = {}
    for run in runs:
        trained, _ = load_checkpoint(run.checkpoint)
        bound = trained.contraction_report()[0]["current_bound"]
        beta = float(run.config["beta"])
        posterior.setdefault(run.config["method"], {}).setdefault(beta, []).append(
            largest_feasible_taubar(spec.surrogate, beta, spec.theta, spec.reset, bound))
    at_swept = {b: largest_feasible_taubar(spec.surrogate, b, spec.theta, spec.reset, current) for b in set(betas)}
    return {"current_bound_a_priori": current, "a_priori": prior, "a_priori_at": at_swept,
            "tau": float(runs[0].config["tau"]),
            "a_posteriori": {m: {b: mean_sd(v) for b, v in sorted(cells.items())} for m, cells in posterior.items()}}


def plot(stats: dict, feasible: dict[str, Any], path: Path) -> Path:
    fig, (left, middle, right) = subplots(1, 3, 12.5, 3.5)
    for k, (method, cells) in enumerate(stats.items()):
        values = list(cells)
        curve(left, values, [c["hard"] for c in cells.values()], colour(k), "-", f"{method}, hard spikes")
        curve(left, values, [c["surrogate"] for c in cells.values()], colour(k), "--", f"{method}, surrogate")
        curve(middle, values, [c["gap"] for c in cells.values()], colour(k), "-", method)
        post = feasible["a_posteriori"].get(method, {})
        right.errorbar(list(post), [p["mean"] for p in post.values()], yerr=[p["sd"] for p in post.values()],
                       color=colour(k), marker="o", ms=4, ls="none", capsize=3,
                       label=f"{method}: a posteriori (trained weights)")
    betas, taus = zip(*feasible["a_priori"], strict=True)
    right.plot(betas, taus, color="black", lw=1.3,
               label=f"a priori (caps, I_max = {feasible['current_bound_a_priori']:.3g})")
    right.axhline(feasible["tau"], color="grey", ls=":", lw=1.2, label=f"trained tau = {feasible['tau']:g}")
    for ax in (left, middle, right):
        ax.set_xscale("log")
        ax.set_xlabel("surrogate sharpness beta (log scale)")
    left.set_ylabel("accuracy (%)")
    middle.set_ylabel("transfer gap, surrogate - hard (points)")
    middle.axhline(0, color="black", lw=0.6)
    right.set_ylabel("largest leak taubar with A4 (rho < 1)")
    right.set_ylim(0, 1.0)
    left.legend(loc="lower left", fontsize=7)
    middle.legend(loc="upper right", fontsize=7)
    right.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = sweep_stats(runs, "beta", budget)
    feasible = feasibility(runs)
    rows = sweep_rows(stats)
    for row in rows:
        post = feasible["a_posteriori"].get(row[0], {}).get(float(row[1]))
        prior = feasible["a_priori_at"][float(row[1])]
        row += [f"{prior:.3f}", "-" if post is None else f"{post['mean']:.3f}"]
    body = table(["method", "beta", "seeds", "surrogate acc (%)", "hard acc (%)", "gap (pp)",
                  "largest feasible taubar, a priori", "largest feasible taubar, a posteriori"], rows)
    body += (f"\nA4 holds for a leak below the curve; the networks were trained with tau = {feasible['tau']:g} "
             f"({runs[0].config.get('parameterization')} parameterization).\n")
    differ = other_differences(runs, "beta")
    if differ:
        body += f"\nNote: these runs also differ in {', '.join(differ)}.\n"
    data = {"methods": json_ready(stats), "feasibility": {
        **feasible, "a_posteriori": json_ready(feasible["a_posteriori"]),
        "a_priori_at": {f"{b:g}": v for b, v in feasible["a_priori_at"].items()}}}
    return Section(NAME, TITLE, body, [plot(stats, feasible, out / f"{NAME}.png")], data)


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
