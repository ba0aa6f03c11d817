"""A4: the largest one-step contraction factor |u[t] - u'[t]| / |u[t-1] - u'[t-1]| (per neuron, surrogate mode,
same input currents) vs rho_l of every spiking layer.

Measured on (a) the data trajectories, each restarted at t0 from a different state drawn in the neuron's
a posteriori surrogate-mode interval and run on with the same currents, and (b) a projected pair ascent over
two states in that interval (the current cancels: the quotient is |tau (r(u) - r(u'))| / |u - u'|). The hardware
modes (int8, int4, fixed) measure the network with the deployed weights, biases and leaks (surrogate spikes)
against its own a posteriori rho_l.
"""

from __future__ import annotations

import math
import sys

import torch
from torch import Tensor

from sast_models.neuron import LIFState, lif_step
from sast_models.surrogates import spike_function

from . import attacks, theory
from .cli import QUANTIZED_MODES, Check, Setup, witness_of
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


def trajectories(setup: Setup, index: int, step: OneStep, low: Tensor, high: Tensor) -> tuple[float, dict]:
    """Largest per-step ratio of two trajectories with the data's currents, the second restarted at t0; and the
    neuron and state pair where it was reached."""
    with torch.no_grad():
        trace = setup.net.trace(setup.x, "surrogate").layers[index]
        currents, u = trace.currents.flatten(2), trace.membranes.flatten(2)
        best, where = 0.0, {"neuron": 0, "u": 0.0, "u2": 1.0}
        for t0 in range(currents.shape[0] - 1):
            width = (high - low).expand_as(u[t0])
            other = low + width * torch.rand(u[t0].shape, generator=setup.generator, dtype=u.dtype)
            a, b = u[t0], other
            for t in range(t0 + 1, currents.shape[0]):
                a2, b2 = step(a, currents[t]), step(b, currents[t])
                ratio = (a2 - b2).abs() / (a - b).abs()
                ratio = torch.where(torch.isfinite(ratio), ratio, torch.zeros_like(ratio))
                if float(ratio.max()) > best:
                    k = int(ratio.argmax())
                    sample_index, neuron = divmod(k, ratio.shape[1])
                    best = float(ratio.max())
                    pair = float(a[sample_index, neuron]), float(b[sample_index, neuron])
                    where = {"neuron": neuron, "u": pair[0], "u2": pair[1]}
                a, b = a2, b2
    return best, where


def _layer_rows(setup: Setup, mode: str, index: int, rhos, intervals) -> list[Row]:
    step = OneStep(setup, index)
    low = torch.as_tensor(intervals[index].low)
    high = torch.as_tensor(intervals[index].high)
    name = f"{mode} L{index + 1} rho" if mode != "surrogate" else f"L{index + 1} rho"
    value, where = trajectories(setup, index, step, low, high)
    rows = [Row(f"{name}, data trajectories from two states", value, rhos[index].prior, rhos[index].posterior,
                "data currents, second state uniform in the interval",
                replay=witness_of("contraction", "states", mode=mode, layer=index, **where))]
    width = (high - low).repeat(STATE_PAIRS)
    base = low.repeat(STATE_PAIRS)
    u = base + width * torch.rand(width.shape, generator=setup.generator, dtype=width.dtype)
    u2 = (u + 0.01 * width).clamp(max=high.repeat(STATE_PAIRS))
    found, partner = attacks.ascend_pairs(step.flat_quotient, u.unsqueeze(0), u2.unsqueeze(0), base,
                                          base + width, setup.steps, lr=0.02 * float(width.mean()))
    best = int(found.value.argmax())
    neuron, a, b = best % len(low), float(found.point[0, best]), float(partner[0, best])
    rows.append(Row(f"{name}, state-pair ascent", float(found.value[best]), rhos[index].prior, rhos[index].posterior,
                    f"neuron {neuron}: u = {a:.4g}, u' = {b:.4g}",
                    replay=witness_of("contraction", "states", mode=mode, layer=index, neuron=neuron, u=a, u2=b)))
    return rows


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("contraction", "A4", {**setup.settings, "modes": list(modes)})
    for mode in modes:
        if setup.expired() and result.rows:
            result.skipped.append(f"mode {mode}")
            continue
        net_setup = setup.quantized(mode) if mode in QUANTIZED_MODES else setup
        rhos = theory.contraction_bounds(net_setup.description)
        intervals = theory.state_bounds(net_setup.description, "surrogate")
        spiking = [i for i, layer in enumerate(net_setup.net.layers) if layer.spiking]
        for index in setup.bar(spiking, f"{mode} layers"):
            if setup.expired() and result.rows:
                result.skipped.append(f"{mode} layer {index + 1}")
                continue
            result.rows += _layer_rows(net_setup, mode, index, rhos, intervals)
    result.notes.append("rho_l bounds the one-step contraction of every neuron while both states stay in the "
                        "state interval (A4); surrogate spikes (hardware modes: the deployed weights and leaks)")
    return result


def replay_states(setup: Setup, witness) -> tuple[float, float | None]:
    """|tau_i (r(u) - r(u'))| / |u - u'| for the witness's neuron, and rho_l."""
    params = witness.params
    net_setup = setup.quantized(params["mode"]) if params["mode"] in QUANTIZED_MODES else setup
    step = OneStep(net_setup, params["layer"])
    n = math.prod(net_setup.net.layers[params["layer"]].lif_shape)
    u, u2 = torch.zeros(1, n, dtype=torch.float64), torch.zeros(1, n, dtype=torch.float64)
    u[0, params["neuron"]], u2[0, params["neuron"]] = params["u"], params["u2"]
    with torch.no_grad():
        value = float(step.flat_quotient(u, u2)[params["neuron"]])
    rho = theory.contraction_bounds(net_setup.description)[params["layer"]]
    bounds = [b for b in (rho.prior, rho.posterior) if b is not None]
    return value, min(bounds) if bounds else None


REPLAY = {"states": replay_states}
MODES = ("surrogate", *QUANTIZED_MODES)
CHECK = Check("contraction", "A4", "one-step contraction of two trajectories vs rho_l", MODES, MODES, measure,
              budget=20.0)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
