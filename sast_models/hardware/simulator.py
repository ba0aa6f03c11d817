"""Bit-accurate integer simulator of a deployed network (deploy.py), by the ONE LIF step of neuron.py, in int64
LSB units (docs/hardware.md):

    I[t] = 2^f (Wq s_in[t]) + bq
    u[t] = sat_B( trunc(m r(u[t-1], s[t-1]) / 2^k) + I[t] ),   s[t] = H(u[t] - theta_q)  (strict)

readout: reset 'none', no spike, logits = LSB sum_t u[t] / T. Wq s_in is computed in float32 or float64 on
integer-valued operands, exact because every partial sum stays below 2^24 or 2^53 (the bound R of
docs/hardware.md, checked per layer and batch; refused beyond 2^53).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from sast_core.errors import InputError

from ..layers import dense_currents
from ..neuron import Map, integrate
from ..surrogates import hard_spike
from .deploy import IntLayer, IntNetwork
from .formats import INT_LIMIT

MANTISSA = {torch.float32: 24, torch.float64: 53}


class IntTrace(NamedTuple):
    currents: Tensor  # int64 (T, B, *lif_shape), LSBs
    membranes: Tensor  # int64 u[t] after saturation, LSBs
    spikes: Tensor  # int64 in {0, 1} (zeros for the readout)
    saturation: int  # number of (sample, neuron, step) register updates that were clamped


class SimResult(NamedTuple):
    logits: Tensor  # float64 (B, n_classes)
    layers: list[IntTrace]
    inputs: Tensor  # the checked input (T, B, *first layer's source shape)


class SaturatingRegister:
    """v -> clamp(v, -2^(B-1), 2^(B-1) - 1), counting the clamped entries."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high, self.events = low, high, 0

    def __call__(self, value: Tensor) -> Tensor:
        low, high = torch.aminmax(value)
        if low < self.low or high > self.high:  # one pass in the common case of no saturation
            self.events += int(((value < self.low) | (value > self.high)).sum())
            return value.clamp(self.low, self.high)
        return value


def truncating_leak(numerator: Tensor, k: int) -> Map:
    """v -> trunc(m v / 2^k): tau_q v rounded toward zero (Lava's decay); |m v| < 2^(B - 1 + k) fits int64."""
    return lambda v: torch.div(v * numerator, 2**k, rounding_mode="trunc")


class _Layer:
    """Torch tensors of one IntLayer, prepared once."""

    def __init__(self, layer: IntLayer, device: torch.device) -> None:
        self.spec = layer
        view = layer.channel_view
        self.weight = torch.as_tensor(layer.weight, device=device)
        self.float_weight = {dtype: self.weight.to(dtype) for dtype in MANTISSA}
        self.row_max = int(layer.row_abs_sums().max(initial=0))
        self.weight_max = int(abs(layer.weight).max(initial=0))
        self.bias = torch.as_tensor(layer.bias, device=device).view(view)
        self.bias_max = int(abs(layer.bias).max(initial=0))
        self.theta = torch.as_tensor(layer.theta, device=device).view(view)
        self.leak = truncating_leak(torch.as_tensor(layer.leak_m, device=device), layer.leak_k)
        self.lsb = torch.as_tensor(layer.lsb, device=device).view(view)
        self.exact_float32 = device.type == "cpu"

    def currents(self, inputs: Tensor) -> Tensor:
        """I = 2^f Wq s_in + bq for inputs (T, B, *source_shape) -> int64 (T, B, *lif_shape), exactly."""
        layer = self.spec
        steps, batch = inputs.shape[:2]
        flat = inputs.flatten(0, 1)
        if layer.crop is not None:
            flat = flat[..., : layer.crop[0], : layer.crop[1]]
        low, high = (float(v) for v in torch.aminmax(flat))
        if low < 0 or not math.isfinite(high):
            raise InputError(f"layer {layer.name}: inputs must be finite event counts >= 0 (A1), got "
                             f"values in [{low}, {high}]")
        rows = flat.flatten(1)
        sum_in_place = rows.shape[1] * high < 2 ** MANTISSA[torch.float32] or not rows.is_floating_point()
        mass = float((rows.sum(1) if sum_in_place else rows.sum(1, dtype=torch.float64)).max())
        bound = min(self.row_max * int(high), self.weight_max * int(mass))
        reach = (bound << layer.register.frac) + self.bias_max
        if bound >= 2 ** MANTISSA[torch.float64] or reach >= INT_LIMIT:
            raise InputError(f"layer {layer.name}: synaptic sums up to {bound} exceed exact integer range")
        small = self.exact_float32 and bound < 2 ** MANTISSA[torch.float32]
        dtype = torch.float32 if small else torch.float64
        weight = self.float_weight[dtype]
        if layer.kind == "conv_lif":
            acc = F.conv2d(flat.to(dtype), weight, stride=layer.stride, padding=layer.padding)
        else:
            acc = dense_currents(flat.flatten(1).to(dtype), weight, None)
        currents = acc.to(torch.int64) * 2**layer.register.frac + self.bias
        return currents.view(steps, batch, *layer.lif_shape)

    def run(self, inputs: Tensor) -> IntTrace:
        layer = self.spec
        currents = self.currents(inputs)
        register = SaturatingRegister(layer.register.low, layer.register.high)
        membranes, spikes = integrate(currents, leak=self.leak, theta=self.theta, reset=layer.reset,
                                      spike=hard_spike if layer.spiking else None, register=register)
        return IntTrace(currents, membranes, spikes, register.events)


class IntegerSimulator:
    """x (T, B, *input_shape), integer-valued event counts -> SimResult (logits in float units)."""

    def __init__(self, net: IntNetwork, device: str | torch.device = "cpu") -> None:
        self.net = net
        self.device = torch.device(device)
        self.layers = [_Layer(layer, self.device) for layer in net.layers]

    def __call__(self, x: Tensor) -> SimResult:
        signal = inputs = self.prepare(x)
        traces = []
        for layer in self.layers:
            trace = layer.run(signal)
            traces.append(trace)
            signal = trace.spikes
        readout = self.layers[-1]
        total = traces[-1].membranes.sum(0).to(torch.float64)
        return SimResult(total * readout.lsb / x.shape[0], traces, inputs)

    def prepare(self, x: Tensor) -> Tensor:
        """Check x (finite, integer-valued, right shape) and shape it (T, B, *first layer's input shape)."""
        shape = self.net.input_shape
        if x.dim() < 3 or x.numel() == 0 or x[0, 0].numel() != torch.Size(shape).numel():
            expected = ", ".join(map(str, shape))
            raise InputError(f"input of shape {tuple(x.shape)}: expected (T, B, {expected})")
        if x.is_floating_point() and bool((torch.frac(x).ne(0) & ~torch.isinf(x)).any()):
            # NaN is not integer-valued (frac = NaN); +-inf are left to the A1 range check of the first layer
            raise InputError("the integer simulator needs integer-valued event frames (counts or 0/1)")
        return x.to(self.device).reshape(*x.shape[:2], *self.layers[0].spec.source_shape)
