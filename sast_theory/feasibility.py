"""Feasibility of A4: the feasible (beta, taubar) region for given (theta, reset, caps), as data (the report
command draws it)."""

from __future__ import annotations

from collections.abc import Sequence

from .calculus import largest_feasible_taubar


def feasible_region(
    surrogate: str, theta: float, resets: Sequence[str], current_bound: float, betas: Sequence[float]
) -> dict[str, list[list[float]]]:
    """{reset: [[beta, sup feasible taubar], ...]}: rho(taubar) < 1 exactly for taubar below the curve."""
    return {
        reset: [[float(b), largest_feasible_taubar(surrogate, float(b), theta, reset, current_bound)] for b in betas]
        for reset in resets
    }
