"""A4: the largest one-step contraction factor |u[t] - u'[t]| / |u[t-1] - u'[t-1]| (per neuron, surrogate mode,
same input currents) vs rho_l of every spiking layer.

Measured on (a) the data trajectories, each restarted at t0 from a different state drawn in the neuron's
a posteriori surrogate-mode interval and run on with the same currents, and (b) a projected pair ascent over
two states in that interval (the current cancels: the quotient is |tau (r(u) - r(u'))| / |u - u'|).
"""

from __future__ import annotations

import sys

import torch
from torch import Tensor

from sast_models.neuron import LIFState, lif_step
from sast_models.surrogates import spike_function

from . import attacks, theory
from .cli import Check, Setup
from .report import CheckResult, Row

STATE_PAIRS = 64  # state pairs per neuron in the ascent


class OneStep:
    """The layer's LIF step in surrogate mode, its state being u (the spike is phi(u - theta))."""

    def __init__(self, setup: Setup, index: int) -> None:
        layer = setup.net.layers[index]
        self.tau = layer.explicit().tau.detach().reshape(-1)
        self.theta, self.reset = layer.theta, layer.reset
        self.spike = spike_function(setup.net.spec.surrogate, setup.net.spec.beta, "surrogate")

    def __call__(self, u: Tensor, current: Tensor) -> Tensor:
        state = LIFState(u, self.spike(u - self.theta))
        return lif_step(state, current, leak=lambda v: self.tau * v, theta=self.theta, reset=self.reset,
                        spike=self.spike).membrane

    def flat_quotient(self, u: Tensor, u2: Tensor) -> Tensor:
        """|tau (r(u) - r(u'))| / |u - u'| per entry, flattened (states (1, K n): one 'sample' per entry)."""
        u, u2 = u.reshape(-1, self.tau.numel()), u2.reshape(-1, self.tau.numel())
        zero = torch.zeros_like(u)
        gap = (u - u2).abs().clamp_min(torch.finfo(u.dtype).tiny)
        return ((self(u, zero) - self(u2, zero)).abs() / gap).reshape(-1)


def trajectories(setup: Setup, index: int, step: OneStep, low: Tensor, high: Tensor) -> float:
    """Largest per-step ratio of two trajectories with the data's currents, the second restarted at t0."""
    with torch.no_grad():
        trace = setup.net.trace(setup.x, "surrogate").layers[index]
        currents, u = trace.currents.flatten(2), trace.membranes.flatten(2)
        best = 0.0
        for t0 in range(currents.shape[0] - 1):
            width = (high - low).expand_as(u[t0])
            other = low + width * torch.rand(u[t0].shape, generator=setup.generator, dtype=u.dtype)
            a, b = u[t0], other
            for t in range(t0 + 1, currents.shape[0]):
                a2, b2 = step(a, currents[t]), step(b, currents[t])
                ratio = (a2 - b2).abs() / (a - b).abs()
                finite = ratio[torch.isfinite(ratio)]
                best = max(best, float(finite.max()) if finite.numel() else 0.0)
                a, b = a2, b2
    return best


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("contraction", "A4", {**setup.settings, "modes": list(modes)})
    rhos = theory.contraction_bounds(setup.description)
    intervals = theory.state_bounds(setup.description, "surrogate")
    spiking = [i for i, layer in enumerate(setup.net.layers) if layer.spiking]
    for index in setup.bar(spiking, "layers"):
        step = OneStep(setup, index)
        low = torch.as_tensor(intervals[index].low)
        high = torch.as_tensor(intervals[index].high)
        name = f"L{index + 1} rho"
        value = trajectories(setup, index, step, low, high)
        result.rows.append(Row(f"{name}, data trajectories from two states", value, rhos[index].prior,
                               rhos[index].posterior, "data currents, second state uniform in the interval"))
        width = (high - low).repeat(STATE_PAIRS)
        base = low.repeat(STATE_PAIRS)
        u = base + width * torch.rand(width.shape, generator=setup.generator, dtype=width.dtype)
        u2 = (u + 0.01 * width).clamp(max=high.repeat(STATE_PAIRS))
        found, partner = attacks.ascend_pairs(step.flat_quotient, u.unsqueeze(0), u2.unsqueeze(0), base,
                                              base + width, setup.steps, lr=0.02 * float(width.mean()))
        best = int(found.value.argmax())
        witness = (f"neuron {best % len(low)}: u = {float(found.point[0, best]):.4g}, "
                   f"u' = {float(partner[0, best]):.4g}")
        result.rows.append(Row(f"{name}, state-pair ascent", float(found.value[best]), rhos[index].prior,
                               rhos[index].posterior, witness))
    result.notes.append("rho_l bounds the one-step contraction of every neuron while both states stay in the "
                        "state interval (A4); surrogate mode only")
    return result


CHECK = Check("contraction", "A4", "one-step contraction of two trajectories vs rho_l", ("surrogate",),
              ("surrogate",), measure)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
