"""Numbers shared by every spiking layer (dense or conv): caps or norms, state interval, kappa, slopes.

A priori: c, omega, bbar are the caps; U = (c S + bbar + taubar r0) / (1 - taubar) (P1); kappa_k over
[-U, U]; slope M1, curvature M2 over R. A posteriori: the certified norms of the weights; per-neuron
invariant intervals (intervals.py) per spike mode, hard and surrogate (P1: reported separately and as their
hull, valid in both modes), the surrogate-mode ones used for slopes;
kappa_k over the hull of the surrogate-mode intervals; per-neuron slopes sup phi' over each interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sast_core.errors import InputError

from .. import calculus, intervals
from ..description import LayerRecord, SpikingRecord
from ..surrogates import reset_offset
from .base import Incoming, Setting


def caps_of(record: LayerRecord) -> tuple[float, float, float]:
    """(c, omega, bbar) = the record's A3 caps; InputError when it has none (plain parameterization)."""
    if record.caps is None:
        raise InputError(f"layer {record.name}: a priori constants need caps (contractive parameterization)")
    return record.caps.inf, record.caps.spectral, record.caps.bias


def spiking_numbers(
    record: SpikingRecord,
    incoming: Incoming,
    setting: Setting,
    c: float,
    bbar: float,
    ranges: tuple[np.ndarray, np.ndarray] | None,
) -> dict[str, Any]:
    """taubar, theta, reset, r0, kappa1, kappa2, slope, curvature (+ per-neuron details a posteriori)."""
    theta, reset = record.theta, record.reset
    r0 = reset_offset(reset, theta)
    if not setting.posterior:
        taubar = record.taubar
        bound = calculus.state_bound(taubar, c * incoming.scale + bbar, r0)
        kappa1, kappa2 = calculus.reset_slope_bounds(setting.surrogate, setting.beta, theta, reset, -bound, bound)
        slope, curvature = calculus.derivative_bounds(setting.surrogate, setting.beta)
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
    tau, surrogate, beta = record.leaks, setting.surrogate, setting.beta
    low, high = ranges
    hard = intervals.invariant_intervals(low, high, tau, reset, surrogate, beta, theta, r0, ("hard",))
    sur = intervals.invariant_intervals(low, high, tau, reset, surrogate, beta, theta, r0, ("surrogate",))
    # each mode's trajectories stay in that mode's invariant interval: their hull holds both (tighter than the
    # invariant interval of the united spike enclosures)
    both = (np.minimum(hard[0], sur[0]), np.maximum(hard[1], sur[1]), hard[2] & sur[2])
    lo, hi = float(sur[0].min()), float(sur[1].max())
    kappa1, kappa2 = calculus.reset_slope_bounds(surrogate, beta, theta, reset, lo, hi)
    slopes = calculus.derivative_sup_on(surrogate, beta, 1, sur[0] - theta, sur[1] - theta)
    curvature = float(calculus.derivative_sup_on(surrogate, beta, 2, sur[0] - theta, sur[1] - theta).max())
    detail = {
        "current_low": low,
        "current_high": high,
        "interval_low": both[0],
        "interval_high": both[1],
        "interval_certified": both[2],
        "surrogate_low": sur[0],
        "surrogate_high": sur[1],
        "hard_low": hard[0],
        "hard_high": hard[1],
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
