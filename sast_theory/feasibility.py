"""Feasibility of A4: the largest leak cap for given (beta, theta, reset, caps), and the feasible (beta, tau)
region as data and as a PNG (matplotlib Agg)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .atomic import atomic_write
from .calculus import largest_feasible_taubar


def feasible_region(
    surrogate: str, theta: float, resets: Sequence[str], current_bound: float, betas: Sequence[float]
) -> dict[str, list[list[float]]]:
    """{reset: [[beta, sup feasible taubar], ...]}: rho(taubar) < 1 exactly for taubar below the curve."""
    return {
        reset: [[float(b), largest_feasible_taubar(surrogate, float(b), theta, reset, current_bound)] for b in betas]
        for reset in resets
    }


def plot_region(region: dict[str, list[list[float]]], path: str | os.PathLike, title: str) -> None:
    """Feasible (beta, taubar) region per reset mode: below each curve A4 holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for reset, points in region.items():
        betas, taus = zip(*points, strict=True)
        ax.plot(betas, taus, marker="o", ms=3, label=f"reset {reset}")
        ax.fill_between(betas, 0, taus, alpha=0.1)
    ax.set_xlabel("surrogate sharpness beta")
    ax.set_ylabel("largest feasible leak cap taubar")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
