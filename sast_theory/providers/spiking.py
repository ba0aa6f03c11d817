"""Numbers shared by every spiking layer (dense or conv): caps or norms, state interval, kappa, slopes.

A priori: c, omega, bbar are the caps; U = (c S + bbar + taubar r0) / (1 - taubar) (P1); kappa_k over
[-U, U]; slope M1, curvature M2 over R. A posteriori: the certified norms of the weights; per-neuron
invariant intervals (intervals.py) in both modes (P1, reported) and in surrogate mode (used for slopes);
kappa_k over the hull of the surrogate-mode intervals; per-neuron slopes sup phi' over each interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import calculus, intervals
from ..errors import InputError
from ..surrogates import reset_offset
from .base import Context, Incoming


def leak_values(record: dict[str, Any], n_out: int) -> np.ndarray:
    """Per-neuron tau (a scalar tau is broadcast)."""
    tau = np.broadcast_to(np.asarray(record["tau"], dtype=float), (n_out,)).copy()
    if tau.size != n_out or np.any(~np.isfinite(tau)) or np.any(tau < 0) or np.any(tau >= 1):
        raise InputError(f"layer {record.get('name')}: tau must be in [0, 1) with one value or n_out values")
    return tau


def caps_of(record: dict[str, Any]) -> tuple[float, float, float]:
    caps = record.get("caps")
    if not caps:
        raise InputError(f"layer {record.get('name')}: a priori constants need caps (contractive parameterization)")
    return float(caps["inf"]), float(caps["spectral"]), float(caps["bias"])


def spiking_numbers(
    record: dict[str, Any],
    incoming: Incoming,
    ctx: Context,
    c: float,
    bbar: float,
    ranges: tuple[np.ndarray, np.ndarray] | None,
) -> dict[str, Any]:
    """taubar, theta, reset, r0, kappa1, kappa2, slope, curvature (+ per-neuron details a posteriori)."""
    theta, reset = float(record["theta"]), str(record["reset"])
    r0 = reset_offset(reset, theta)
    n_out = int(record["n_out"])
    if not ctx.posterior:
        taubar = float(record["taubar"])
        bound = calculus.state_bound(taubar, c * incoming.scale + bbar, r0)
        kappa1, kappa2 = calculus.reset_slope_bounds(ctx.surrogate, ctx.beta, theta, reset, -bound, bound)
        slope, curvature = calculus.derivative_bounds(ctx.surrogate, ctx.beta)
        return dict(
            taubar=taubar,
            theta=theta,
            reset=reset,
            r0=r0,
            kappa1=kappa1,
            kappa2=kappa2,
            slope=slope,
            curvature=curvature,
            detail={},
            slopes=None,
        )
    tau = leak_values(record, n_out)
    low, high = ranges
    both = intervals.invariant_intervals(low, high, tau, reset, ctx.surrogate, ctx.beta, theta, r0)
    sur = intervals.invariant_intervals(low, high, tau, reset, ctx.surrogate, ctx.beta, theta, r0, ("surrogate",))
    lo, hi = float(sur[0].min()), float(sur[1].max())
    kappa1, kappa2 = calculus.reset_slope_bounds(ctx.surrogate, ctx.beta, theta, reset, lo, hi)
    slopes = calculus.derivative_sup_on(ctx.surrogate, ctx.beta, 1, sur[0] - theta, sur[1] - theta)
    curvature = float(calculus.derivative_sup_on(ctx.surrogate, ctx.beta, 2, sur[0] - theta, sur[1] - theta).max())
    detail = {
        "current_low": low,
        "current_high": high,
        "interval_low": both[0],
        "interval_high": both[1],
        "interval_certified": both[2],
        "surrogate_low": sur[0],
        "surrogate_high": sur[1],
        "slopes": slopes,
    }
    return dict(
        taubar=float(tau.max()),
        theta=theta,
        reset=reset,
        r0=r0,
        kappa1=kappa1,
        kappa2=kappa2,
        slope=float(slopes.max()),
        curvature=curvature,
        detail=detail,
        slopes=slopes,
    )
