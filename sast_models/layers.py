"""LIF layers: an input operator (dense or convolution) feeding the one LIF step of `neuron.py`.

Each layer maps raw parameters to explicit ones ONCE per forward pass (`explicit()`), computes its input
currents for all T steps in one batched op, then integrates them in time with `neuron.integrate`.
Readout = a dense layer that does not spike (reset 'none'): u[t] = tau u[t-1] + W s[t] + b.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sast_theory.errors import InputError

from .neuron import integrate
from .parameterization import Leak, capped_bias, capped_weight
from .surrogates import SpikeFn


class Caps(NamedTuple):
    inf: float
    spectral: float
    bias: float


class Explicit(NamedTuple):
    weight: Tensor
    bias: Tensor
    tau: Tensor


class LayerTrace(NamedTuple):
    currents: Tensor  # I[t], (T, B, *lif_shape)
    membranes: Tensor  # u[t]
    spikes: Tensor  # s[t] (zeros for the readout)
    output: Tensor  # what the next layer sees: spikes (pooled for conv), membranes for the readout


class LIFLayer(nn.Module):
    """Common machinery; subclasses define `kind`, `in_shape`, `lif_shape`, `out_shape` and `operator`."""

    kind = "abstract"

    def __init__(
        self,
        weight_shape: tuple[int, ...],
        fan_in: int,
        lif_shape: tuple[int, ...],
        *,
        theta: float,
        reset: str,
        tau: float,
        taubar: float,
        tau_per_neuron: bool,
        learn_tau: bool,
        caps: Caps | None,
        init_gain: float,
        spiking: bool = True,
    ) -> None:
        super().__init__()
        bound = init_gain / math.sqrt(fan_in)
        self.raw_weight = nn.Parameter(torch.empty(weight_shape).uniform_(-bound, bound))
        self.raw_bias = nn.Parameter(torch.zeros(weight_shape[0]))
        self.leak = Leak(tau, taubar, lif_shape if tau_per_neuron else (), learn_tau)
        self.lif_shape = tuple(lif_shape)
        self.theta = float(theta)
        self.reset = reset if spiking else "none"
        self.caps = caps
        self.spiking = spiking

    def explicit(self) -> Explicit:
        """The explicit (constrained) weight, bias and leak used by this forward pass."""
        if self.caps is None:
            weight, bias = self.raw_weight, self.raw_bias
        else:
            weight = capped_weight(self.raw_weight, self.caps.inf, self.caps.spectral)
            bias = capped_bias(self.raw_bias, self.caps.bias)
        return Explicit(weight, bias, self.leak())

    def operator(self, inputs: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """Input currents W x + b for a flat batch of inputs (N, *in_shape) -> (N, *lif_shape)."""
        raise NotImplementedError

    def pool(self, spikes: Tensor) -> Tensor:
        """Map the spikes (N, *lif_shape) to the layer output (identity unless pooling)."""
        return spikes

    def forward(self, inputs: Tensor, spike: SpikeFn) -> LayerTrace:
        steps, batch = inputs.shape[:2]
        weight, bias, tau = self.explicit()
        currents = self.operator(inputs.flatten(0, 1), weight, bias).view(steps, batch, *self.lif_shape)
        membranes, spikes = integrate(
            currents,
            leak=lambda v: tau * v,
            theta=self.theta,
            reset=self.reset,
            spike=spike if self.spiking else None,
        )
        if not self.spiking:
            return LayerTrace(currents, membranes, spikes, membranes)
        output = self.pool(spikes.flatten(0, 1))
        return LayerTrace(currents, membranes, spikes, output.view(steps, batch, *output.shape[1:]))


class DenseLIF(LIFLayer):
    """Dense LIF layer (or, with spiking=False, the leaky readout): weight (n_out, n_in)."""

    def __init__(self, n_in: int, n_out: int, **kwargs) -> None:
        super().__init__((n_out, n_in), n_in, (n_out,), **kwargs)
        self.in_shape = (n_in,)
        self.out_shape = (n_out,)
        self.kind = "dense_lif" if self.spiking else "readout"

    def operator(self, inputs: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        return F.linear(inputs.flatten(1), weight, bias)


class ConvLIF(LIFLayer):
    """conv (C_out, C_in, k, k), stride, zero padding -> LIF -> k_pool x k_pool average pooling of the spikes."""

    kind = "conv_lif"

    def __init__(
        self, in_shape: tuple[int, int, int], channels: int, kernel: int, stride: int, padding: int, pool: int,
        **kwargs,
    ) -> None:
        c_in, height, width = in_shape
        out_h = (height + 2 * padding - kernel) // stride + 1
        out_w = (width + 2 * padding - kernel) // stride + 1
        if out_h < pool or out_w < pool:
            raise InputError(f"conv block on input {in_shape}: output {out_h}x{out_w} is smaller than pool {pool}")
        super().__init__((channels, c_in, kernel, kernel), c_in * kernel * kernel, (channels, out_h, out_w),
                         **kwargs)
        self.in_shape = tuple(in_shape)
        self.out_shape = (channels, out_h // pool, out_w // pool)
        self.kernel, self.stride, self.padding, self.pool_size = kernel, stride, padding, pool

    def operator(self, inputs: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        return F.conv2d(inputs, weight, bias, stride=self.stride, padding=self.padding)

    def pool(self, spikes: Tensor) -> Tensor:
        return F.avg_pool2d(spikes, self.pool_size) if self.pool_size > 1 else spikes
