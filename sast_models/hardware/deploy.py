"""The deployed network: one call from a network description (sast_theory.description) to integer layers.

Per layer (THEORY.md sec. 1 in the units of docs/hardware.md): integer weights Wq (a preceding average pooling
folded in, fold.py), per-channel quantum s and LSB = s 2^-f, bias and threshold in LSBs (quantize.py), leak
numerators m over 2^k (formats.discrete_leak), reset mode, and a register of B bits: given, or the P6-safe
width of `sast_theory.registers` computed on these very layers (`IntNetwork.register_bounds`, the one P6
computation of the toolkit: the evaluation and the theory report read it from here). The float network reads
u = LSB * u_int.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from sast_core.errors import InputError
from sast_theory import registers
from sast_theory.description import NetworkDescription
from sast_theory.norms import row_abs_sums
from sast_theory.registers import safe_register_bits

from .fold import operator_after
from .formats import MAX_REGISTER_BITS, HardwareConfig, MembraneFormat, discrete_leak
from .quantize import quantize_weights, to_membrane_units


@dataclass(frozen=True)
class IntLayer:
    """One deployed layer. Per-channel arrays have shape (n_channels,); leaks () or lif_shape."""

    name: str
    kind: str  # "dense_lif" | "conv_lif" | "readout"
    weight: np.ndarray  # int64: dense (n_out, n_in) on the flat cropped input; conv (C_out, C_in, kh, kw)
    stride: int
    padding: int
    crop: tuple[int, int] | None  # spatial crop of the previous layer's spikes (its pooling folded here)
    source_shape: tuple[int, ...]  # per-sample shape of what the previous stage emits (before the crop)
    lif_shape: tuple[int, ...]
    scale: np.ndarray  # float64 weight quantum s per output channel
    bias: np.ndarray  # int64 LSBs per output channel
    theta: np.ndarray  # int64 LSBs per output channel (0 for the readout)
    leak_m: np.ndarray  # int64 numerators: tau_q = m / 2^leak_k
    leak_k: int
    tau: np.ndarray  # the float model's leak, for the report
    reset: str
    spiking: bool
    register: MembraneFormat
    weight_bits: int
    per_channel: bool

    @property
    def lsb(self) -> np.ndarray:
        """The membrane LSB per output channel in float units: s 2^-f."""
        return self.scale * 2.0 ** -self.register.frac

    @property
    def channel_view(self) -> tuple[int, ...]:
        """Shape that broadcasts a per-channel array over the membrane: (C, 1, 1) for conv, (n,) for dense."""
        return (-1,) + (1,) * (len(self.lif_shape) - 1)

    def row_abs_sums(self) -> np.ndarray:
        """sum_j |Wq_ij| per output channel (a conv: over the whole kernel; padding only removes terms)."""
        return row_abs_sums(self.weight)

    def state_bound(self, input_bound: float) -> Fraction:
        """THEORY.md P6's U_q of this layer in LSBs, exactly (inputs in [0, input_bound]; sast_theory.registers)."""
        return registers.state_bound(self.row_abs_sums(), self.bias, self.leak_m, self.leak_k,
                                     self.register.frac, input_bound)

    def tau_q(self) -> np.ndarray:
        return self.leak_m / 2.0**self.leak_k

    def formats(self) -> dict[str, Any]:
        """The formats used, for reports: weights, register, leak (float tau vs discrete tau_q)."""
        tau, tau_q = np.broadcast_arrays(self.tau, self.tau_q())
        return {"layer": self.name, "weight_bits": self.weight_bits, "per_channel": self.per_channel,
                "register_bits": self.register.bits, "frac": self.register.frac, "leak_k": self.leak_k,
                "tau": [float(tau.min()), float(tau.max())],
                "tau_q": [float(tau_q.min()), float(tau_q.max())],
                "max_leak_error": float(np.abs(tau - tau_q).max(initial=0.0)),
                "theta_lsb": [int(self.theta.min()), int(self.theta.max())] if self.spiking else None,
                "reset": self.reset}


@dataclass(frozen=True)
class IntNetwork:
    layers: tuple[IntLayer, ...]
    input_shape: tuple[int, ...]
    input_bound: float  # X of A1 (the count frames' largest value)

    def input_bounds(self) -> tuple[float, ...]:
        """S of every layer's inputs: X for the first, 1 after (binary spikes)."""
        return (self.input_bound,) + (1.0,) * (len(self.layers) - 1)

    def register_bounds(self) -> list[Fraction]:
        """P6's U_q of every layer in LSBs (sast_theory.registers.state_bound on the deployed integers)."""
        return [layer.state_bound(bound) for layer, bound in zip(self.layers, self.input_bounds(), strict=True)]


def deploy(description: NetworkDescription, config: HardwareConfig) -> IntNetwork:
    """Quantize a network description into integer layers with `config`."""
    if not description.has_weights:
        raise InputError("deployment needs a description with weights (a checkpoint), not an a priori one")
    layers: list[IntLayer] = []
    previous = None
    for record, input_bound in zip(description.layers, description.input_bounds(), strict=True):
        weight, scale = quantize_weights(record.weight, config.weight_bits, config.per_channel)
        operator = operator_after(weight, record, previous)  # integers replicated, k^-2 into the quantum
        scale = scale / operator.divisor
        lsb = scale * 2.0 ** -config.frac
        tau = record.tau.reshape(record.lif_shape) if record.per_neuron_tau else record.tau
        layer = IntLayer(
            name=record.name, kind=record.kind, weight=operator.weight, stride=operator.stride,
            padding=operator.padding, crop=operator.crop, source_shape=operator.source_shape,
            lif_shape=record.lif_shape, scale=scale,
            bias=to_membrane_units(record.bias, lsb, "rne"),
            theta=to_membrane_units(np.full(len(lsb), record.theta), lsb, "floor"),
            leak_m=discrete_leak(tau, config.leak), leak_k=config.leak.k, tau=tau,
            reset=record.reset, spiking=record.spiking,
            register=MembraneFormat(MAX_REGISTER_BITS, config.frac),
            weight_bits=config.weight_bits, per_channel=config.per_channel,
        )
        bits = config.register_bits
        if bits is None:
            bits = safe_register_bits(layer.state_bound(input_bound), config.frac, MAX_REGISTER_BITS)
        layers.append(dataclasses.replace(layer, register=MembraneFormat(bits, config.frac)))
        previous = record
    return IntNetwork(tuple(layers), description.input_shape, description.input_bound)


def dequantized(description: NetworkDescription, config: HardwareConfig) -> NetworkDescription:
    """The description with the deployed values in float units: weights s Wq (as `deploy` quantizes them, in the
    original layout: the folded operator of `deploy` is s Wq composed with the pooling), biases LSB bq, leaks
    tau_q; theta stays (the integer comparison is exactly u > theta). Plain: no caps (Q(W) may exceed them)."""
    deployed = deploy(description, config)
    records = []
    for record, layer in zip(description.layers, deployed.layers, strict=True):
        weight, scale = quantize_weights(record.weight, config.weight_bits, config.per_channel)
        view = (-1,) + (1,) * (weight.ndim - 1)
        tau_q = np.broadcast_to(layer.tau_q(), record.lif_shape).reshape(-1) if record.per_neuron_tau \
            else float(np.max(layer.tau_q()))
        records.append(dataclasses.replace(record, weight=weight * scale.reshape(view), bias=layer.bias * layer.lsb,
                                           tau=tau_q, taubar=float(np.max(layer.tau_q())), caps=None))
    return dataclasses.replace(description, parameterization="plain", layers=tuple(records))
