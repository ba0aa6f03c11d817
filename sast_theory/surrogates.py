"""The surrogate spike functions and the reset maps as sympy expressions: the theory's single source.

Every surrogate phi_beta : R -> [0, 1] is smooth, nondecreasing, with phi(0) = 1/2 (THEORY.md A2).
The torch code that runs them lives in `sast_models.surrogates`; a test proves both agree to 1e-12.

Reset maps (THEORY.md sec. 1), with the spike taken at the previous step's potential:
    zero:     r(u) = u * (1 - phi(u - theta))
    subtract: r(u) = u - theta * phi(u - theta)
    none:     r(u) = u
"""

from __future__ import annotations

import functools

import sympy as sp

from sast_core.errors import InputError

z = sp.Symbol("z", real=True)
u = sp.Symbol("u", real=True)
beta = sp.Symbol("beta", positive=True)
theta = sp.Symbol("theta", nonnegative=True)

SURROGATES = ("sigmoid", "arctan")
RESETS = ("zero", "subtract", "none")
SPIKE_MODES = ("surrogate", "hard")  # phi = the surrogate (training) or the strict step H (deployment)


@functools.cache
def surrogate_expr(name: str) -> sp.Expr:
    """phi_beta(z) as a sympy expression in `z` and `beta`."""
    if name == "sigmoid":
        return 1 / (1 + sp.exp(-beta * z))
    if name == "arctan":
        return sp.Rational(1, 2) + sp.atan(sp.pi / 2 * beta * z) / sp.pi
    raise InputError(f"unknown surrogate {name!r}; expected one of {', '.join(SURROGATES)}")


@functools.cache
def reset_expr(reset: str, surrogate: str) -> sp.Expr:
    """r(u) as a sympy expression in `u`, `theta`, `beta` for the given reset mode and surrogate."""
    spike = surrogate_expr(surrogate).subs(z, u - theta)
    if reset == "zero":
        return u * (1 - spike)
    if reset == "subtract":
        return u - theta * spike
    if reset == "none":
        return u
    raise InputError(f"unknown reset mode {reset!r}; expected one of {', '.join(RESETS)}")


def reset_offset(reset: str, theta_value: float) -> float:
    """r0 of THEORY.md P1: |r(u)| <= |u| + r0 for every surrogate with phi <= 1/2 on z <= 0 and for H."""
    if reset not in RESETS:
        raise InputError(f"unknown reset mode {reset!r}; expected one of {', '.join(RESETS)}")
    return theta_value / 2 if reset == "subtract" else 0.0
