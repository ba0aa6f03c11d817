"""Spike functions in torch: the surrogates of `sast_theory.surrogates` (same formulas) and the hard step.

surrogate mode ("surrogate-forward"): the spike IS the smooth surrogate, phi_beta(z) in [0, 1].
hard mode (deployment): H(z) = 1 if z > 0 else 0 -- strict, a potential exactly at threshold does not spike.
A test proves each torch surrogate equals its sympy expression to 1e-12 in float64, derivative included.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from sast_core.errors import InputError
from sast_theory.surrogates import SPIKE_MODES, SURROGATES

SpikeFn = Callable[[Tensor], Tensor]


def sigmoid_surrogate(z: Tensor, beta: float) -> Tensor:
    """phi(z) = 1 / (1 + exp(-beta z))."""
    return torch.sigmoid(beta * z)


def arctan_surrogate(z: Tensor, beta: float) -> Tensor:
    """phi(z) = 1/2 + atan(pi beta z / 2) / pi  (slope beta/2 at 0)."""
    return 0.5 + torch.atan((math.pi / 2 * beta) * z) / math.pi


def hard_spike(z: Tensor) -> Tensor:
    """H(z) = 1 if z > 0 else 0 (strict), in the dtype of z."""
    return (z > 0).to(z.dtype)


_SURROGATE_FNS: dict[str, Callable[[Tensor, float], Tensor]] = {
    "sigmoid": sigmoid_surrogate,
    "arctan": arctan_surrogate,
}
assert set(_SURROGATE_FNS) == set(SURROGATES), "torch and sympy surrogate lists must match"


def spike_function(surrogate: str, beta: float, mode: str) -> SpikeFn:
    """The spike map z -> s for `mode` ('surrogate' uses phi_beta, 'hard' uses the strict step)."""
    if mode == "hard":
        return hard_spike
    if mode != "surrogate":
        raise InputError(f"unknown mode {mode!r}; expected one of {', '.join(SPIKE_MODES)}")
    if surrogate not in _SURROGATE_FNS:
        raise InputError(f"unknown surrogate {surrogate!r}; expected one of {', '.join(SURROGATES)}")
    fn = _SURROGATE_FNS[surrogate]
    return lambda z: fn(z, beta)
