"""Hardware modes int8, int4, fixed: the HardwareConfig of each and the runner that deploys a network in one.

- int8 / int4: 8- / 4-bit symmetric per-tensor weights, membrane with f = 8 fractional bits below the weight
  quantum in the P6-safe register of each layer, Lava's 12-bit multiplicative leak m / 2^12.
- fixed: 16-bit per-channel weights ("float-ish"), a given 32-bit register with f = 6, and the shift leak
  1 - 2^-j nearest to the float tau (j <= 12).
`hardware_runner(net, mode, **overrides)` builds a runner x (T, B, ...) -> HardwareTrace with `.logits`,
`.layers` (membranes in float units u = LSB u_int, spikes) and `.stats` (HardwareStats: saturation events,
spikes, rates, SynOps per layer, formats, silent layers). The evaluation registers one mode per entry of
HARDWARE_MODES (sast_models.evaluation.modes); adding a hardware mode = one entry here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from sast_core.errors import InputError
from sast_theory.registers import smallest_safe_bits

from ..describe import describe
from ..networks import LIFNetwork
from .deploy import IntNetwork, deploy
from .formats import HardwareConfig, LeakFormat
from .simulator import IntegerSimulator
from .synops import count_synops, layer_fanout

HARDWARE_MODES: dict[str, HardwareConfig] = {
    "int8": HardwareConfig(weight_bits=8, per_channel=False, frac=8, leak=LeakFormat("mult", 12)),
    "int4": HardwareConfig(weight_bits=4, per_channel=False, frac=8, leak=LeakFormat("mult", 12)),
    "fixed": HardwareConfig(weight_bits=16, per_channel=True, frac=6, register_bits=32,
                            leak=LeakFormat("shift", 12)),
}


@dataclass
class HardwareStats:
    """Summable per-layer counters of one or more batches (add with +), and the formats used."""

    names: list[str]
    spiking: list[bool]
    samples: int
    saturation: list[int]  # clamped register updates
    spikes: list[int]
    neuron_steps: list[int]  # neurons x steps x samples
    synops: list[int]  # synaptic operations (summed over samples)
    formats: list[dict[str, Any]] = field(default_factory=list)

    def __add__(self, other: HardwareStats) -> HardwareStats:
        def add(a: list[int], b: list[int]) -> list[int]:
            return [x + y for x, y in zip(a, b, strict=True)]

        return dataclasses.replace(self, samples=self.samples + other.samples,
                                   saturation=add(self.saturation, other.saturation),
                                   spikes=add(self.spikes, other.spikes),
                                   neuron_steps=add(self.neuron_steps, other.neuron_steps),
                                   synops=add(self.synops, other.synops))

    @property
    def silent_layers(self) -> list[str]:
        """Spiking layers that emitted no spike at all (post-training quantization's classic failure)."""
        return [n for n, s, c in zip(self.names, self.spiking, self.spikes, strict=True) if s and c == 0]

    def to_dict(self) -> dict[str, Any]:
        per = lambda values: dict(zip(self.names, values, strict=True))  # noqa: E731
        rates = [c / n if s else None for c, n, s in zip(self.spikes, self.neuron_steps, self.spiking,
                                                          strict=True)]
        return {"samples": self.samples, "saturation_events": per(self.saturation),
                "saturation_total": sum(self.saturation), "spikes": per(self.spikes),
                "spike_rate": per(rates),
                "synops_per_sample": per([s / max(self.samples, 1) for s in self.synops]),
                "synops_total_per_sample": sum(self.synops) / max(self.samples, 1),
                "silent_layers": self.silent_layers, "formats": self.formats}


class LayerView(NamedTuple):
    membranes: Tensor  # float64, u = LSB u_int (comparable with theta)
    spikes: Tensor  # int64 0/1


class HardwareTrace(NamedTuple):
    logits: Tensor  # float64 (B, n_classes)
    layers: list[LayerView]
    stats: HardwareStats


def layer_formats(net: IntNetwork) -> list[dict[str, Any]]:
    """Per layer: the formats used, P6's bound U_q (LSBs) and the smallest safe register width."""
    return [{**layer.formats(), "p6_bound_lsb": float(bound),
             "p6_safe_bits": smallest_safe_bits(bound, layer.register.frac)}
            for layer, bound in zip(net.layers, net.register_bounds(), strict=True)]


def hardware_runner(net: LIFNetwork, mode: str, **overrides: Any) -> Callable[[Tensor], HardwareTrace]:
    """Runner of `net` deployed in `mode` (a key of HARDWARE_MODES), HardwareConfig fields overridable."""
    if mode not in HARDWARE_MODES:
        raise InputError(f"hardware mode {mode!r}: expected one of {', '.join(HARDWARE_MODES)}")
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(HardwareConfig)})
    if unknown:
        raise InputError(f"hardware mode {mode}: unknown option(s) {', '.join(unknown)}")
    config = dataclasses.replace(HARDWARE_MODES[mode], **overrides)
    deployed = deploy(describe(net), config)
    device = next(net.parameters()).device
    simulator = IntegerSimulator(deployed, device)
    fanouts = [torch.as_tensor(layer_fanout(layer), device=device) for layer in deployed.layers]
    formats = layer_formats(deployed)

    def run(x: Tensor) -> HardwareTrace:
        result = simulator(x)
        sources = [result.inputs, *(trace.spikes for trace in result.layers[:-1])]
        stats = HardwareStats(
            names=[layer.name for layer in deployed.layers],
            spiking=[layer.spiking for layer in deployed.layers],
            samples=x.shape[1], saturation=[trace.saturation for trace in result.layers],
            spikes=[int(trace.spikes.sum()) for trace in result.layers],
            neuron_steps=[trace.spikes.numel() for trace in result.layers],
            synops=[int(count_synops(events, fanout).sum())
                    for events, fanout in zip(sources, fanouts, strict=True)],
            formats=formats)
        views = [LayerView(trace.membranes * layer.lsb, trace.spikes)
                 for trace, layer in zip(result.layers, simulator.layers, strict=True)]
        return HardwareTrace(result.logits, views, stats)

    return run
