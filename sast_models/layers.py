"""LIF layers: an input operator (dense or convolution) feeding the one LIF step of `neuron.py`.

Each layer maps raw parameters to explicit ones ONCE per forward pass (`explicit()`), computes its input
currents for all T steps in one batched op, then integrates them in time with `neuron.integrate`.
Readout = a dense layer that does not spike (reset 'none'): u[t] = tau u[t-1] + W s[t] + b.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sast_core.errors import InputError
from sast_theory.description import Caps, ConvLIFRecord, DenseLIFRecord, LayerRecord, ReadoutRecord
from sast_theory.geometry import conv_output_size

from .neuron import integrate
from .parameterization import Leak, capped_bias, capped_weight
from .surrogates import SpikeFn


class Explicit(NamedTuple):
    weight: Tensor
    bias: Tensor
    tau: Tensor


class SamOffset:
    """Additive offsets (e_W, e_b) on a layer's explicit weight and bias (explicit-space SAM, perturbation.py);
    every forward pass records the unperturbed explicit (W, b) it used in `base`, detached."""

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        self.weight, self.bias = weight, bias
        self.base: tuple[Tensor, Tensor] | None = None


class LayerTrace(NamedTuple):
    currents: Tensor  # I[t], (T, B, *lif_shape)
    membranes: Tensor  # u[t]
    spikes: Tensor  # s[t] (zeros for the readout)
    output: Tensor  # what the next layer sees: spikes (pooled for conv), membranes for the readout


class LIFLayer(nn.Module):
    """Common machinery; subclasses define `kind`, `in_shape`, `lif_shape`, `out_shape`, `operator` and
    `record` (the layer's entry in the network description)."""

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
        self._explicit_cache: tuple[tuple, Explicit] | None = None
        self.sam_offset: SamOffset | None = None  # set while explicit-space SAM perturbs W, b (perturbation.py)

    def explicit(self) -> Explicit:
        """The explicit (constrained) weight, bias and leak used by this forward pass.

        Without autograd (inference, evaluation) the result is reused while no raw tensor has changed: the key
        holds each raw tensor's storage address and version counter, which every in-place update (optimizer
        step, SAM perturbation, load_state_dict) and every move (.to, .double) changes. While an explicit-space
        SAM offset is attached, the result is W + e_W, b + e_b and is never cached.
        """
        if torch.is_grad_enabled() or self.sam_offset is not None:
            return self._compute_explicit()
        key = tuple((t.data_ptr(), t._version, t.dtype) for t in (self.raw_weight, self.raw_bias, self.leak.raw))
        if self._explicit_cache is None or self._explicit_cache[0] != key:
            self._explicit_cache = (key, self._compute_explicit())
        return self._explicit_cache[1]

    def _compute_explicit(self) -> Explicit:
        if self.caps is None:
            weight, bias = self.raw_weight, self.raw_bias
        else:
            weight = capped_weight(self.raw_weight, self.caps.inf, self.caps.spectral)
            bias = capped_bias(self.raw_bias, self.caps.bias)
        offset = self.sam_offset
        if offset is not None:
            offset.base = (weight.detach(), bias.detach())
            weight, bias = weight + offset.weight, bias + offset.bias
        return Explicit(weight, bias, self.leak())

    def operator(self, inputs: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """Input currents W x + b for a flat batch of inputs (N, *in_shape) -> (N, *lif_shape)."""
        raise NotImplementedError

    def record(self, **common: Any) -> LayerRecord:
        """This layer's description record; `common` holds name, tau, taubar, caps, weight and bias."""
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
        return dense_currents(inputs.flatten(1), weight, bias)

    def record(self, **common: Any) -> LayerRecord:
        sizes = {"inputs": self.in_shape[0], "neurons": self.out_shape[0]}
        if self.spiking:
            return DenseLIFRecord(theta=self.theta, reset=self.reset, **sizes, **common)
        return ReadoutRecord(**sizes, **common)


def dense_currents(flat: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x W^T + b for flat inputs (N, n_in), from the nonzero inputs only when that is faster (see below).

    Also used by the integer simulator on integer-valued float tensors: every partial sum of either path is a
    sum of some of the same integer terms, so both are exact under the simulator's bound (any order).
    """
    if _event_sparse(flat, weight):
        nonzero = torch.argwhere(flat.reshape(-1)).squeeze(1)  # flat indices, row-major (faster than nonzero)
        if nonzero.numel() <= SPARSE_MAX_DENSITY * flat.numel():
            return _EventLinear.apply(flat, weight, bias, nonzero)
    return F.linear(flat, weight, bias)


# Event frames are mostly zeros (N-MNIST at T = 20: about 5% nonzero pixels). For a large dense layer on such
# an input that needs no gradient (the network's input), W x + b is computed from the nonzero entries only:
# the same sum without its zero terms (only the float summation order differs from F.linear, which fixes no
# order either; a non-finite weight meets no 0 * inf here): 1.5-1.6x faster training steps and inference of the
# 2312-512-10 MLP on CPU at 5% nonzero inputs (docs/performance.md, measured by benchmarks/throughput.py).
SPARSE_MAX_DENSITY = 0.08  # measured break-even (2312-512, batch 64, T 20): 9-10% nonzero inputs
SPARSE_MIN_WEIGHTS = 1 << 16  # small layers: the dense GEMM is cheap, no bookkeeping


def _event_sparse(flat: Tensor, weight: Tensor) -> bool:
    """Candidate for the nonzero-entries path: CPU, float, large layer, no gradient w.r.t. the input."""
    return (flat.device.type == "cpu" and flat.is_floating_point() and flat.dtype == weight.dtype
            and weight.numel() >= SPARSE_MIN_WEIGHTS and flat.numel() > 0
            and not (flat.requires_grad and torch.is_grad_enabled())
            and _sampled_density(flat) <= 2 * SPARSE_MAX_DENSITY)


def _sampled_density(flat: Tensor) -> float:
    """Nonzero fraction of every 64th entry: skips the full nonzero scan on clearly dense inputs."""
    sample = flat.reshape(-1)[::64]
    return int(torch.count_nonzero(sample)) / sample.numel()


class _EventLinear(torch.autograd.Function):
    """y = x W^T + b from the nonzero entries of x (N, n_in); gradients for W and b, none for x.

    Forward: y[n] = sum over nonzero x[n, j] of x[n, j] W[:, j] (one embedding bag per row n).
    Backward: dW[:, j] = sum over nonzero x[n, j] of x[n, j] dy[n] (one bag per input column j), db = sum_n dy[n].
    `nonzero` holds the flat (row-major) indices of the nonzero entries of x, in increasing order.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, nonzero: Tensor) -> Tensor:
        n_rows, n_in = x.shape
        values = torch.take(x, nonzero)
        rows = torch.div(nonzero, n_in, rounding_mode="floor")
        cols = nonzero - rows * n_in
        out = F.embedding_bag(cols, weight.t().contiguous(), _starts(rows, n_rows), mode="sum",
                              per_sample_weights=values)
        ctx.save_for_backward(rows, cols, values)
        ctx.n_in = n_in
        return out if bias is None else out.add_(bias)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        rows, cols, values = ctx.saved_tensors
        grad_weight = grad_bias = None
        if ctx.needs_input_grad[1]:
            order = _stable_order(cols, ctx.n_in)  # group by input column
            grad_weight = F.embedding_bag(rows.index_select(0, order), grad_out.contiguous(),
                                          _starts(cols.index_select(0, order), ctx.n_in), mode="sum",
                                          per_sample_weights=values.index_select(0, order)).t()
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(0)
        return None, grad_weight, grad_bias, None


# The index bookkeeping below (~150k ids) runs in numpy on purpose: torch's multi-threaded sort and bincount
# on arrays this small collapse when the cores are shared (2 threads, a busy machine: 190 ms instead of 4 ms).


def _stable_order(ids: Tensor, groups: int) -> Tensor:
    """The permutation that sorts `ids` (values in [0, groups)) stably: a radix sort for 16-bit ids."""
    keys = ids.numpy()
    if groups <= 1 << 16:
        keys = keys.astype(np.uint16)
    return torch.from_numpy(np.argsort(keys, kind="stable"))


def _starts(sorted_ids: Tensor, groups: int) -> Tensor:
    """Offsets of each group 0..groups-1 in a sorted id vector (empty groups included)."""
    starts = np.zeros(groups, dtype=np.int64)
    if groups > 1:
        np.cumsum(np.bincount(sorted_ids.numpy(), minlength=groups)[:-1], out=starts[1:])
    return torch.from_numpy(starts)


class ConvLIF(LIFLayer):
    """conv (C_out, C_in, k, k), stride, zero padding -> LIF -> k_pool x k_pool average pooling of the spikes."""

    kind = "conv_lif"

    def __init__(
        self, in_shape: tuple[int, int, int], channels: int, kernel: int, stride: int, padding: int, pool: int,
        **kwargs,
    ) -> None:
        c_in, height, width = in_shape
        out_h = conv_output_size(height, kernel, stride, padding)
        out_w = conv_output_size(width, kernel, stride, padding)
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

    def record(self, **common: Any) -> LayerRecord:
        return ConvLIFRecord(input_shape=self.in_shape, channels=self.lif_shape[0], kernel=(self.kernel, self.kernel),
                             stride=self.stride, padding=self.padding, pool=self.pool_size, theta=self.theta,
                             reset=self.reset, **common)
