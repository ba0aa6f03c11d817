"""P4 and P5 as functions of the smoothness constant L (float and sympy), with their scope stated.

P4: | max_{||e|| <= rho} F(theta + e) - F(theta + rho g / ||g||) | <= L rho^2 for F L-smooth on the ball
    B(theta, rho); when ||g|| > L rho also <= L^2 rho^3 / (2 (||g|| - L rho)) (docs/theory.md sec. 6).
P5: stochastic SAST with an INDEPENDENT second minibatch B'_k for the ascent step, eta <= 1 / (4 L):
    (1/K) sum_k E ||grad F(theta_k)||^2 <= 4 (F(theta_0) - F_inf) / (eta K) + 3 L^2 rho^2 + 2 L eta sigma^2,
    with L valid on a convex region C that holds every iterate and every perturbed point of every run. For the
    ball C = B(theta_0, R) with every minibatch gradient below G_max there (local constants), that is
    guaranteed for K <= (R - rho) / (eta G_max) steps (`p5_step_budget`); `p5_path_inside` checks a recorded
    run.
"""

from __future__ import annotations

import math

import sympy as sp

from sast_core.errors import InputError

P5_SCOPE = (
    "P5 covers SAST/SAM whose ascent direction uses an independent minibatch B'_k; the same-batch "
    "SAM variant (ascent and descent on one minibatch) is NOT covered by this statement."
)
L, RHO, ETA, K, GAP, SIGMA2 = sp.symbols("L rho eta K Delta_0 sigma^2", positive=True)


def sam_gap_bound(smoothness: float, rho: float) -> float:
    """P4 right side L rho^2."""
    return smoothness * rho**2


def sast_convergence_bound(smoothness: float, eta: float, steps: int, gap0: float, sigma2: float, rho: float) -> float:
    """P5 right side; requires eta <= 1 / (4 L)."""
    if not 0 < eta <= 1 / (4 * smoothness):
        raise InputError(f"P5 needs 0 < eta <= 1/(4 L) = {1 / (4 * smoothness):.6g}; got eta = {eta}")
    return 4 * gap0 / (eta * steps) + 3 * smoothness**2 * rho**2 + 2 * smoothness * eta * sigma2


def sam_gap_bound_cubic(smoothness: float, rho: float, grad_norm: float) -> float:
    """P4 with the gradient: min(L rho^2, L^2 rho^3 / (2 (||g|| - L rho))) when ||g|| > L rho, else L rho^2.

    `grad_norm` must be a LOWER bound of ||grad F(theta)|| (the bound decreases in it)."""
    base = smoothness * rho**2
    margin = grad_norm - smoothness * rho
    if not margin > 0:
        return base
    return min(base, smoothness**2 * rho**3 / (2 * margin))


def p5_step_budget(radius: float, rho: float, eta: float, grad_max: float) -> int:
    """K_max = floor((R - rho) / (eta G_max)): for K <= K_max steps every iterate stays in B(theta_0, R - rho)
    and every perturbed point in B(theta_0, R), whatever the minibatches (induction: each step moves by
    eta ||g_k|| <= eta G_max, since theta_k + e_k lies in the ball where every minibatch gradient is <= G_max)."""
    if not (radius > rho >= 0 and eta > 0 and grad_max >= 0):
        raise InputError(f"P5 step budget needs R > rho >= 0 and eta > 0; got R = {radius}, rho = {rho}, eta = {eta}")
    if grad_max == 0:
        return 2**62
    return int(math.floor((radius - rho) / (eta * grad_max)))


def p5_path_inside(distances: list[float] | tuple[float, ...], rho: float, radius: float) -> bool:
    """A recorded run stayed where the local L holds: max_k ||theta_k - theta_0|| + rho <= R."""
    return max(distances, default=0.0) + rho <= radius


def sam_gap_expr() -> sp.Expr:
    return L * RHO**2


def sast_convergence_expr() -> sp.Expr:
    return 4 * GAP / (ETA * K) + 3 * L**2 * RHO**2 + 2 * L * ETA * SIGMA2


GRAD = sp.Symbol("g", positive=True)


def sam_gap_cubic_expr() -> sp.Expr:
    """L^2 rho^3 / (2 (||g|| - L rho)), valid when ||g|| > L rho (and always min'ed with L rho^2)."""
    return L**2 * RHO**3 / (2 * (GRAD - L * RHO))
