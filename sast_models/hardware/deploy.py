"""The deployed network: one call from a network description (describe.py) to integer layers.

Per layer (THEORY.md sec. 1 in the units of formats.py): integer weights Wq (a preceding average pooling
folded in, fold.py), per-channel quantum s and LSB = s 2^-f, bias and threshold in LSBs (the quantizer of
`sast_theory.registers`), leak numerators m over 2^k (formats.discrete_leak), reset mode, and a register of B
bits (given, or the P6-safe width of `sast_theory.registers`). The float network reads u = LSB * u_int.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from sast_theory import registers
from sast_theory.errors import InputError
from sast_theory.registers import quantize_weights, safe_register_bits, to_membrane_units

from .fold import fold_pool
from .formats import MAX_REGISTER_BITS, HardwareConfig, MembraneFormat, discrete_leak


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
        return np.abs(self.weight).reshape(self.weight.shape[0], -1).sum(1)

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


def deploy(description: dict[str, Any], config: HardwareConfig) -> IntNetwork:
    """Quantize a network description (docs/describe_schema.md) into integer layers with `config`."""
    layers: list[IntLayer] = []
    previous: dict[str, Any] | None = None
    for record in description["layers"]:
        weight, scale = quantize_weights(record["weight"], config.weight_bits, config.per_channel)
        stride, padding = int(record.get("stride", 1)), int(record.get("padding", 0))
        source_shape, crop = tuple(record["in_shape"]), None
        if previous is not None and previous.get("pool", 1) > 1:
            folded = fold_pool(weight, tuple(previous["out_shape"]), previous["pool"], stride, padding)
            weight, stride, padding, crop = folded.weight, folded.stride, folded.padding, folded.crop
            scale = scale / folded.scale_divisor
            source_shape = tuple(previous["lif_shape"])
        lif_shape = tuple(record["lif_shape"])
        lsb = scale * 2.0 ** -config.frac
        tau = np.asarray(record["tau"], dtype=np.float64)
        tau = tau.reshape(lif_shape) if tau.ndim else tau
        if np.any((tau < 0) | (tau >= 1)):
            raise InputError(f"layer {record['name']}: leaks must lie in [0, 1)")
        layer = IntLayer(
            name=record["name"], kind=record["type"], weight=weight, stride=stride, padding=padding,
            crop=crop, source_shape=source_shape, lif_shape=lif_shape, scale=scale,
            bias=to_membrane_units(record["bias"], lsb, "rne"),
            theta=to_membrane_units(np.full(len(lsb), record.get("theta", 0.0)), lsb, "floor"),
            leak_m=discrete_leak(tau, config.leak), leak_k=config.leak.k, tau=tau,
            reset=record.get("reset", "none"), spiking=record["type"] != "readout",
            register=MembraneFormat(MAX_REGISTER_BITS, config.frac),
            weight_bits=config.weight_bits, per_channel=config.per_channel,
        )
        bits = config.register_bits
        if bits is None:
            bound = description["input"]["bound"] if not layers else 1.0
            bits = safe_register_bits(layer.state_bound(bound), config.frac, MAX_REGISTER_BITS)
        layers.append(dataclasses.replace(layer, register=MembraneFormat(bits, config.frac)))
        previous = record
    source = description["input"]
    return IntNetwork(tuple(layers), tuple(source["shape"]), float(source["bound"]))
