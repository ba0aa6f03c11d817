"""THE leaky integrate-and-fire step: the one place where the neuron equations are defined.

THEORY.md sec. 1, for one layer and one time step t, with state (u[t-1], s[t-1]) and input current I[t]:

    u[t] = leak( r(u[t-1], s[t-1]) ) + I[t]          leak(v) = tau * v  (float model)
    s[t] = spike( u[t] - theta )                      spike = phi_beta (surrogate) or H (hard, strict)

The reset uses the PREVIOUS step's potential and spike (as in the SAST papers); the reset map r:
    zero (default, multiplicative):  r = u * (1 - s)
    subtract:                        r = u - theta * s
    none:                            r = u
Initial state u[0] = 0, s[0] = 0.

The float networks, the readout (reset 'none', no spike) and the integer simulator (integer tensors, a
shift-based `leak`, a saturating register) all call `lif_step`; nothing else restates these equations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from sast_core.errors import InputError
from sast_theory.surrogates import RESETS

Map = Callable[[Tensor], Tensor]


class LIFState(NamedTuple):
    membrane: Tensor  # u[t]
    spikes: Tensor  # s[t]


def reset_map(membrane: Tensor, spikes: Tensor, theta: Tensor | float, reset: str) -> Tensor:
    """r(u, s): 'zero' -> u (1 - s); 'subtract' -> u - theta s; 'none' -> u."""
    if reset == "zero":
        return membrane * (1 - spikes)
    if reset == "subtract":
        return membrane - theta * spikes
    if reset == "none":
        return membrane
    raise InputError(f"unknown reset mode {reset!r}; expected one of {', '.join(RESETS)}")


def lif_step(
    state: LIFState,
    current: Tensor,
    *,
    leak: Map,
    theta: Tensor | float,
    reset: str,
    spike: Map | None,
    register: Map | None = None,
) -> LIFState:
    """One step: u = register(leak(r(u_prev, s_prev)) + I); s = spike(u - theta) (zeros if spike is None).

    `register` models a finite membrane register (the integer simulator's saturation); None = exact.
    """
    membrane = leak(reset_map(state.membrane, state.spikes, theta, reset)) + current
    if register is not None:
        membrane = register(membrane)
    spikes = spike(membrane - theta) if spike is not None else torch.zeros_like(membrane)
    return LIFState(membrane, spikes)


def initial_state(current: Tensor) -> LIFState:
    """u[0] = 0, s[0] = 0, shaped like one step of `current`."""
    zeros = torch.zeros_like(current)
    return LIFState(zeros, zeros)


def integrate(
    currents: Tensor,
    *,
    leak: Map,
    theta: Tensor | float,
    reset: str,
    spike: Map | None,
    register: Map | None = None,
) -> tuple[Tensor, Tensor]:
    """Run `lif_step` over the leading time axis of `currents` (T, ...) from the initial state.

    Returns (membranes, spikes), each (T, ...). For the readout pass reset='none', spike=None.
    """
    state = initial_state(currents[0])
    membranes, spikes = [], []
    for current in currents:
        state = lif_step(state, current, leak=leak, theta=theta, reset=reset, spike=spike, register=register)
        if not (state.membrane.requires_grad or state.spikes.requires_grad):
            return _integrate_untracked(currents, state, leak, theta, reset, spike, register)
        membranes.append(state.membrane)
        spikes.append(state.spikes)
    return torch.stack(membranes), torch.stack(spikes)


def _integrate_untracked(currents: Tensor, first: LIFState, leak: Map, theta: Tensor | float, reset: str,
                         spike: Map | None, register: Map | None) -> tuple[Tensor, Tensor]:
    """`integrate` when autograd records nothing (inference, the integer simulator): the same `lif_step` loop,
    writing each step into preallocated (T, ...) outputs instead of stacking a list (about 2x faster)."""
    membranes = first.membrane.new_empty((currents.shape[0], *first.membrane.shape))
    spikes = first.spikes.new_empty((currents.shape[0], *first.spikes.shape))
    membranes[0], spikes[0] = first.membrane, first.spikes
    state = first
    for t in range(1, currents.shape[0]):
        state = lif_step(state, currents[t], leak=leak, theta=theta, reset=reset, spike=spike, register=register)
        membranes[t], spikes[t] = state.membrane, state.spikes
    return membranes, spikes

