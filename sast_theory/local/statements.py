"""The local constants as report entries: L_theta, G, P4 and P5 on each ball, next to a priori / a posteriori.

P4 at SAM radius rho = R needs F smooth on B(theta_0, R): L rho^2 (and the cubic form, which needs a measured
lower bound of ||grad F(theta_0)||: the verification check supplies it). P5 with SAM radius rho < R: eta <= 1/(4L),
the step budget K_max = floor((R - rho) / (eta G_max)) inside which every run provably stays in the ball, the
certified sigma^2 <= mean G_i^2 / |B|, F(theta_0) - F_inf <= mean of the loss upper bounds, and the three terms
of the right-hand side at eta = 1/(4L), K = K_max.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import theorems
from .constants import LocalConstants, local_constants
from .network import LocalNetwork


def p5_terms(local: LocalConstants, rho: float, batch: int, target: float | None = None) -> dict[str, Any]:
    """P5 with the local L of the ball: the largest step, the guaranteed step budget, the right-hand side; with
    a `target` (e.g. a measured ||grad F(theta_0)||^2), the steps K the right side needs to fall below it at
    eta = 1/(4L) (None when the K-free terms already exceed it)."""
    smooth = local.smoothness
    out: dict[str, Any] = {"rho": rho, "batch_size": batch, "applies": bool(local.radius > rho)}
    if not out["applies"] or not math.isfinite(smooth) or smooth <= 0:
        return out
    eta = 1.0 / (4.0 * smooth)
    sigma2 = local.sigma2(batch)
    gap0 = float(np.mean(local.loss))
    budget = theorems.p5_step_budget(local.radius, rho, eta, local.gradient_per_sample)
    out.update(eta_max=eta, sigma2_certified=sigma2, F0_minus_Finf_upper=gap0, step_budget=budget)
    terms = {"sam": 3 * smooth**2 * rho**2, "noise": 2 * smooth * eta * sigma2}
    if budget >= 1:
        terms["optimization"] = 4 * gap0 / (eta * budget)
        out["rhs"] = theorems.sast_convergence_bound(smooth, eta, budget, gap0, sigma2, rho)
    out["terms"] = terms
    if target is not None:
        room = target - terms["sam"] - terms["noise"]
        out["target"] = target
        out["steps_needed"] = math.ceil(4 * gap0 / (eta * room)) if room > 0 else None
        out["vacuous"] = not (room > 0 and out["steps_needed"] <= budget)
    return out


def local_section(net: LocalNetwork, x: np.ndarray, y: np.ndarray, radii: tuple[float, ...], sam_rho: float,
                  batch: int, progress=None) -> list[dict[str, Any]]:
    """One entry per ball radius R: the local constants and P4 (rho = R) and P5 (rho = sam_rho < R)."""
    rows = []
    for radius in radii:
        local = local_constants(net, x, y, radius, progress=progress)
        rows.append({
            **local.summary(),
            "P4": {"rho": radius, "L_rho2": theorems.sam_gap_bound(local.smoothness, radius),
                   "cubic_symbolic": str(theorems.sam_gap_cubic_expr()),
                   "note": "cubic form: min(L rho^2, L^2 rho^3 / (2 (||g|| - L rho))) with a measured ||g||"},
            "P5": p5_terms(local, sam_rho, batch),
        })
    return rows
