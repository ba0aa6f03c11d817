"""Evaluation modes: the registry EVALUATION_MODES, mode name -> factory that builds a runner for a network.

A runner maps a time-major input batch x (T, B, ...) to a trace: `.logits` (B, n_classes) and `.layers`, one
entry per layer (the readout last) with `.membranes` and `.spikes` (T, B, ...) in the float network's units
(potentials comparable with theta), and optionally `.stats` (HardwareStats), which `measure` sums. Modes:

- surrogate: the float network, surrogate-forward (`net.trace(x, "surrogate")`, the training forward);
- hard: the float network with hard spikes, same weights, with spike and SynOps counters (no registers);
- int8, int4, fixed: one per entry of `sast_models.hardware.modes.HARDWARE_MODES`, the integer simulator.

Adding a mode = one entry here (a new number format: one entry in HARDWARE_MODES); the evaluation loop and the
commands are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from torch import Tensor

from ..describe import describe
from ..hardware.modes import HARDWARE_MODES, HardwareStats, HardwareTrace, hardware_runner
from ..hardware.synops import hard_synops
from ..networks import LIFNetwork

Runner = Callable[[Tensor], Any]
RunnerFactory = Callable[[LIFNetwork], Runner]


def surrogate_runner(net: LIFNetwork) -> Runner:
    """The float network in surrogate mode (its traces carry no statistics)."""
    return partial(net.trace, mode="surrogate")


def hard_runner(net: LIFNetwork) -> Runner:
    """The float network in hard mode, with spike and SynOps counters (inputs count once per nonzero entry)."""
    description = describe(net)
    names = [layer.name for layer in description.layers]
    spiking = [layer.spiking for layer in description.layers]

    def run(x: Tensor) -> HardwareTrace:
        trace = net.trace(x, "hard")
        synops = hard_synops(description, x, [layer.output for layer in trace.layers])
        stats = HardwareStats(names=names, spiking=spiking, samples=x.shape[1], saturation=[0] * len(names),
                              spikes=[int(layer.spikes.sum()) for layer in trace.layers],
                              neuron_steps=[layer.spikes.numel() for layer in trace.layers],
                              synops=[int(count.sum()) for count in synops])
        return HardwareTrace(trace.logits, list(trace.layers), stats)

    return run


EVALUATION_MODES: dict[str, RunnerFactory] = {
    "surrogate": surrogate_runner,
    "hard": hard_runner,
    **{mode: partial(hardware_runner, mode=mode) for mode in HARDWARE_MODES},
}
