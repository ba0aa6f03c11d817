"""P4 and P5 as functions of the smoothness constant L (float and sympy), with their scope stated.

P4: | max_{||e|| <= rho} F(theta + e) - F(theta + rho g / ||g||) | <= L rho^2 for L-smooth F.
P5: stochastic SAST with an INDEPENDENT second minibatch B'_k for the ascent step, eta <= 1 / (4 L):
    (1/K) sum_k E ||grad F(theta_k)||^2 <= 4 (F(theta_0) - F_inf) / (eta K) + 3 L^2 rho^2 + 2 L eta sigma^2.
"""

from __future__ import annotations

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


def sam_gap_expr() -> sp.Expr:
    return L * RHO**2


def sast_convergence_expr() -> sp.Expr:
    return 4 * GAP / (ETA * K) + 3 * L**2 * RHO**2 + 2 * L * ETA * SIGMA2
