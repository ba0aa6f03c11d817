"""Where SAM's perturbation lives: the optimizer's raw parameters, or the network's explicit weights.

SAM (sam.py) asks a space for the perturbed tensors, grouped by layer, as (value, gradient) pairs, computes e from
them, and hands e back to the space, which applies it (`move`) and later undoes it (`restore`).

RawSpace (`--perturb raw`): the tensors the optimizer owns. With the contraction parameterization these are the raw
V and raw biases; the network then runs with W = P(V + e_V), inside the caps (A3) by construction, so A4 holds.
e is added in place and undone by copying the remembered values back (bit-exact).

ExplicitSpace (`--perturb explicit`): the explicit weights W = P(V) and biases b of every layer (what the paper
perturbs); learned leaks are not perturbed. `begin` attaches to each layer a zero offset (a leaf that requires
grad), so the perturbation pass's backward leaves dL/dW, dL/db in the offsets' gradients; `move` sets the offsets
to e, so the descent pass runs the network at (W + e_W, b + e_b) and its backward gives the raw gradient
J_P(V)^T grad L(W + e) (the chain rule through P at V); `restore` removes the offsets. In one process the raw
parameters are frozen during the perturbation pass (nothing flows back through P: cheaper); under torch.distributed
they are not (DDP expects every gradient), and the offsets' gradients are averaged across processes here.

W + e may leave the caps: after each `move`, `last_check` says whether some layer's perturbed weights left A3
(||W + e||_inf <= c, sqrt(||W + e||_1 ||W + e||_inf) <= omega, ||b + e_b||_inf <= bbar) and whether the perturbed
network violates A4 (rho = taubar kappa1 >= 1 at the current bound ||W + e||_inf S + ||b + e_b||_inf, taubar the
leak cap; `A4Verdicts` settles it with a handful of evaluations of rho per run). Both decisions are exact: float
sums with a proven rounding slack, float64 where the slack is not enough.
For the plain parameterization there are no caps to leave (`last_check` stays None).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

import torch
import torch.distributed as dist
from torch import Tensor

from sast_theory.calculus import contraction_factor

from .layers import LIFLayer, SamOffset
from .networks import LIFNetwork

Pair = tuple[Tensor, Tensor]  # (value, gradient)


class CapCheck(NamedTuple):
    """The perturbed network of one step: did some layer leave A3's caps, does A4 fail somewhere."""

    outside_caps: bool
    a4_violated: bool


class PerturbationSpace(Protocol):
    last_check: CapCheck | None  # the verdict on the network at w + e after `move`, when the space checks it

    def begin(self) -> None:
        """Called before the perturbation pass."""

    def groups(self) -> list[list[Pair]]:
        """After the perturbation pass: per layer, (value, gradient) of every perturbed tensor."""

    def move(self, deltas: list[list[Tensor]]) -> None:
        """Apply e (same structure as the last `groups()`)."""

    def restore(self) -> None:
        """Undo `begin` / `move` (a no-op when nothing was moved)."""


class RawSpace:
    """Perturb tensors that an optimizer owns, in place; `groups` lists them per layer (or one per tensor)."""

    last_check = None  # nothing to check: a raw perturbation keeps W = P(V + e) inside the caps

    def __init__(self, groups: list[list[Tensor]]) -> None:
        self.param_groups = groups
        self._backup: dict[Tensor, Tensor] = {}  # a copy buffer per parameter, reused every step
        self._moved: list[Tensor] = []
        self._listed: list[list[Tensor]] = []

    @classmethod
    def of_optimizer(cls, optimizer: torch.optim.Optimizer) -> RawSpace:
        """One group per parameter tensor of the optimizer."""
        return cls([[p] for group in optimizer.param_groups for p in group["params"]])

    @classmethod
    def by_layer(cls, net: LIFNetwork) -> RawSpace:
        """One group per LIF layer: its raw weight, raw bias (and raw leak when learned)."""
        return cls([list(layer.parameters()) for layer in net.layers])

    def begin(self) -> None:
        if self._moved:
            raise RuntimeError("SAM perturbation started twice without a restore")

    def groups(self) -> list[list[Pair]]:
        listed = [[p for p in group if p.grad is not None] for group in self.param_groups]
        self._listed = [group for group in listed if group]
        return [[(p.detach(), p.grad) for p in group] for group in self._listed]

    @torch.no_grad()
    def move(self, deltas: list[list[Tensor]]) -> None:
        for group, group_deltas in zip(self._listed, deltas, strict=True):
            for p, delta in zip(group, group_deltas, strict=True):
                backup = self._backup.get(p)
                if backup is None or (backup.shape, backup.dtype, backup.device) != (p.shape, p.dtype, p.device):
                    backup = self._backup[p] = torch.empty_like(p)
                backup.copy_(p)
                self._moved.append(p)
                p.add_(delta)

    @torch.no_grad()
    def restore(self) -> None:
        for p in self._moved:
            p.copy_(self._backup[p])
        self._moved.clear()


class ExplicitSpace:
    """Perturb the explicit weights and biases of `net`'s layers through additive offsets (module docstring)."""

    def __init__(self, net: LIFNetwork) -> None:
        self.net = net
        self.layers: list[LIFLayer] = list(net.layers)
        self.last_check: CapCheck | None = None
        self._frozen: list[Tensor] = []
        self._a4 = A4Verdicts(net.spec.surrogate, net.spec.beta, net.spec.theta, net.spec.reset, net.spec.leak_cap)

    def begin(self) -> None:
        if any(layer.sam_offset is not None for layer in self.layers):
            raise RuntimeError("SAM perturbation started twice without a restore")
        self.last_check = None
        if not _distributed():
            self._frozen = [p for p in self.net.parameters() if p.requires_grad]
            for p in self._frozen:
                p.requires_grad_(False)
        for layer in self.layers:
            weight, bias = layer.raw_weight, layer.raw_bias
            layer.sam_offset = SamOffset(torch.zeros_like(weight, requires_grad=True),
                                         torch.zeros_like(bias, requires_grad=True))

    def groups(self) -> list[list[Pair]]:
        self._unfreeze()
        out = []
        for layer in self.layers:
            offset = layer.sam_offset
            if offset is None or offset.base is None:
                raise RuntimeError("ExplicitSpace.groups: the perturbation pass did not run the network")
            grads = [torch.zeros_like(t) if t.grad is None else t.grad for t in (offset.weight, offset.bias)]
            if _distributed():
                for grad in grads:
                    dist.all_reduce(grad)
                    grad.div_(dist.get_world_size())
            out.append(list(zip(offset.base, grads, strict=True)))
        return out

    @torch.no_grad()
    def move(self, deltas: list[list[Tensor]]) -> None:
        for layer, (e_weight, e_bias) in zip(self.layers, deltas, strict=True):
            base = layer.sam_offset.base
            layer.sam_offset = SamOffset(e_weight.detach(), e_bias.detach())
            layer.sam_offset.base = base
        self.last_check = self._check() if self.net.spec.parameterization == "contractive" else None

    def restore(self) -> None:
        self._unfreeze()
        for layer in self.layers:
            layer.sam_offset = None

    def _unfreeze(self) -> None:
        for p in self._frozen:
            p.requires_grad_(True)
        self._frozen = []

    def _check(self) -> CapCheck:
        """A3 and A4 of the network at (W + e_W, b + e_b), layer by layer (spiking layers for A4)."""
        outside = a4_violated = False
        for index, layer in enumerate(self.layers):
            weight = layer.sam_offset.base[0] + layer.sam_offset.weight  # the tensors the descent pass uses
            bias = layer.sam_offset.base[1] + layer.sam_offset.bias
            bias_max = float(bias.abs().max()) if bias.numel() else 0.0
            for exact in (False, True):
                verdict = self._layer_verdict(index, layer, _operator_norms(weight, exact), bias_max)
                if verdict is not None:
                    break
            layer_outside, layer_a4_violated = verdict
            outside |= layer_outside
            a4_violated |= layer_a4_violated
        return CapCheck(outside, a4_violated)

    def _layer_verdict(self, index: int, layer: LIFLayer, norms: tuple[tuple[float, float], tuple[float, float]],
                       bias_max: float) -> tuple[bool, bool] | None:
        """(outside caps, A4 violated) from intervals around ||W||_inf and the spectral bound; None if unsure."""
        (inf_lo, inf_hi), (spec_lo, spec_hi) = norms
        caps = layer.caps
        if bias_max > caps.bias or inf_lo > caps.inf or spec_lo > caps.spectral:
            outside = True
        elif inf_hi <= caps.inf and spec_hi <= caps.spectral:
            outside = False
        else:
            return None
        if not layer.spiking:
            return outside, False
        scale = self.net.spec.input_bound if index == 0 else 1.0
        holds_lo, holds_hi = self._a4_holds(inf_lo * scale + bias_max), self._a4_holds(inf_hi * scale + bias_max)
        if holds_lo != holds_hi:
            return None
        return outside, not holds_hi

    def _a4_holds(self, current: float) -> bool:
        return self._a4.holds(current)


def _operator_norms(weight: Tensor, exact: bool) -> tuple[tuple[float, float], tuple[float, float]]:
    """Intervals holding ||W||_inf and sqrt(||W||_1 ||W||_inf) of the operator W (rows / columns of |W|).

    exact: float64 sums (as the parameterization computes them), a point interval. Otherwise sums in W's dtype:
    a float sum of n nonnegative terms, in any order, has relative error at most g = (n - 1) eps / (1 - (n - 1)
    eps), so the true value lies in [s (1 - 2g), s (1 + 2g)] (2g also covers the float64 scalar arithmetic).
    """
    if exact:
        magnitude = weight.abs().double()
        inf_norm = float(magnitude.flatten(1).sum(1).max())
        one_norm = float(magnitude.transpose(0, 1).flatten(1).sum(1).max())
        spectral = math.sqrt(inf_norm * one_norm)
        return (inf_norm, inf_norm), (spectral, spectral)
    magnitude = weight.abs()
    inf_norm = float(magnitude.flatten(1).sum(1).max())
    one_norm = float(magnitude.transpose(0, 1).flatten(1).sum(1).max())
    n = max(weight[0].numel(), weight.shape[0] * math.prod(weight.shape[2:]))
    eps = torch.finfo(weight.dtype).eps
    slack = 2 * (n - 1) * eps / (1 - (n - 1) * eps)
    spectral = math.sqrt(inf_norm * one_norm)
    return (inf_norm * (1 - slack), inf_norm * (1 + slack)), (spectral * (1 - slack), spectral * (1 + slack))


class A4Verdicts:
    """rho(taubar, I) < 1 as a function of the current bound I, with few evaluations of rho.

    rho = taubar kappa1 over the state interval is nondecreasing in I, so one evaluation settles a half-line:
    rho(I) < 1 proves A4 for every I' <= I, rho(I) >= 1 refutes it for every I' >= I. A query outside the
    settled half-lines evaluates rho at 2 I first (extending the proven range ahead of slowly growing weights),
    and at I itself only when that fails; each answer is exact.
    """

    def __init__(self, surrogate: str, beta: float, theta: float, reset: str, taubar: float) -> None:
        self.args = (surrogate, beta, theta, reset, taubar)
        self.holds_up_to = -math.inf  # rho < 1 at this bound (so at every smaller one)
        self.fails_from = math.inf  # rho >= 1 at this bound (so at every larger one)
        self.evaluations = 0

    def _feasible(self, current: float) -> bool:
        self.evaluations += 1
        feasible = contraction_factor(*self.args, current) < 1
        if feasible:
            self.holds_up_to = max(self.holds_up_to, current)
        else:
            self.fails_from = min(self.fails_from, current)
        return feasible

    def holds(self, current: float) -> bool:
        if current <= self.holds_up_to:
            return True
        if current >= self.fails_from:
            return False
        probe = 2 * current if current > 0 else 1.0
        if probe < self.fails_from and self._feasible(probe):
            return True
        return self._feasible(current)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
