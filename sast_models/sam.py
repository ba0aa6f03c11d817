"""Sharpness-Aware Minimization (SAM) and its SAST variant, wrapping any torch base optimizer.

One step, with g the loss gradient at the current weights w (||.|| the global 2-norm over every perturbed
tensor with a gradient):

    e = rho g / ||g||                          SAM; SAST takes g from an independent minibatch B' (THEORY.md P5)
    e = rho T^2 g / ||T g||,  T = |w| + eta    adaptive SAM (ASAM), elementwise, ||T^-1 e|| = rho
    e_l = rho_l T_l^2 g_l / ||T_l g_l||        layerwise (`layerwise=True`): rho_l = rho ||w_l|| / ||w||, so
                                               sum_l rho_l^2 = rho^2 (||e|| = rho without ASAM); g_l = 0 gives e_l = 0
    w <- base_step(w, grad loss(w + e))        the base optimizer's update, taken at the restored weights w

Where w lives is the perturbation space (perturbation.py): by default the optimizer's parameters (`RawSpace`);
`ExplicitSpace` perturbs a LIF network's explicit weights W = P(V) and biases and descends on the raw ones
through the chain rule.

`step(closure)` is same-batch SAM, `step(perturb_closure, descent_closure)` SAST; each closure runs forward +
backward and returns the loss. Contract (docs/training.md, one test each): e uses the raw gradient only (no
weight decay, momentum or Adam moments); w is restored bit-exactly; rho = 0 is the base optimizer bit for
bit; g = 0 gives e = 0 and a non-finite ||g|| raises FloatingPointError before any weight moves; under DDP
||g|| is the global gradient's on every rank (never perturb under `no_sync`); `rng_replay=True` replays the
torch RNG state in the descent pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from .perturbation import CapCheck, PerturbationSpace, RawSpace

Closure = Callable[[], torch.Tensor]


class StepResult(NamedTuple):
    """Losses and gradient norms of one step; the perturbation fields are None when rho = 0 (skipped).

    check: the perturbed network's A3/A4 verdict when the space checks it (explicit space, contractive), else None.
    """

    descent_loss: float
    descent_grad_norm: float
    perturb_loss: float | None
    perturb_grad_norm: float | None
    check: CapCheck | None = None


class SAM:
    """SAM / SAST / ASAM around a base optimizer that owns the parameters (SGD, Adam, AdamW, ...)."""

    def __init__(
        self,
        base: torch.optim.Optimizer,
        rho: float,
        *,
        adaptive: bool = False,
        eta: float = 0.01,
        rng_replay: bool = False,
        space: PerturbationSpace | None = None,
        layerwise: bool = False,
    ) -> None:
        if not rho >= 0.0:
            raise ValueError(f"SAM rho must be >= 0, got {rho}")
        if adaptive and not eta >= 0.0:
            raise ValueError(f"ASAM eta must be >= 0, got {eta}")
        self.base = base
        self.rho = float(rho)
        self.adaptive = adaptive
        self.eta = float(eta)
        self.rng_replay = rng_replay
        self.space = RawSpace.of_optimizer(base) if space is None else space
        self.layerwise = layerwise
        self._moved = False

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.base.param_groups

    def grad_norm(self) -> torch.Tensor:
        """Global 2-norm of the optimizer's current gradients (the descent gradient after a step's second pass)."""
        grads = [p.grad for group in self.base.param_groups for p in group["params"] if p.grad is not None]
        return torch.nn.utils.get_total_norm(grads, norm_type=2.0)

    def _scale(self, value: torch.Tensor) -> torch.Tensor:
        """ASAM's T = |w| + eta."""
        return value.abs() + self.eta

    def begin(self) -> None:
        """Prepare the perturbation space; call before the perturbation pass's closure (`step` does)."""
        self.space.begin()

    @torch.no_grad()
    def first_step(self) -> float:
        """Move to w + e in the perturbation space (remembering w exactly); returns ||g|| (||T g|| for ASAM).

        Reads the gradients of the pass run since `begin` (for the default raw space, `begin` may be omitted).
        """
        if self._moved:
            raise RuntimeError("SAM.first_step called twice without second_step")
        groups = self.space.groups()
        scaled = [[self._scale(w) * g if self.adaptive else g for w, g in group] for group in groups]
        norm = torch.nn.utils.get_total_norm([t for group in scaled for t in group], norm_type=2.0)
        if not torch.isfinite(norm):
            self.space.restore()
            raise FloatingPointError(f"SAM: non-finite gradient norm {norm.item()} in the perturbation pass")
        norm_value = norm.item()
        if self.rho == 0.0 or norm_value == 0.0:
            self.space.restore()
            return norm_value
        if self.layerwise:
            weight_norms = [torch.nn.utils.get_total_norm([w for w, _ in group]).item() for group in groups]
            total = math.sqrt(sum(n * n for n in weight_norms))
            group_norms = [torch.nn.utils.get_total_norm(group).item() for group in scaled]
            radii = [self.rho * n / total if total > 0 else self.rho / math.sqrt(len(groups))
                     for n in weight_norms]
            factors = [r / n if n > 0 else 0.0 for r, n in zip(radii, group_norms, strict=True)]
        else:
            factors = [self.rho / norm_value] * len(groups)
        deltas = [[(self._scale(w) * t if self.adaptive else t) * factor for (w, _), t in zip(group, tensors,
                                                                                              strict=True)]
                  for group, tensors, factor in zip(groups, scaled, factors, strict=True)]
        self.space.move(deltas)
        self._moved = True
        return norm_value

    @torch.no_grad()
    def second_step(self) -> None:
        """Restore the remembered weights bit-exactly, then take the base step with the current gradients."""
        self._restore()
        self.base.step()

    def step(self, closure: Closure, descent_closure: Closure | None = None) -> StepResult:
        """One SAM step (no `descent_closure`: same batch) or SAST (`closure` on B', `descent_closure` on B).

        Each closure runs forward + backward on its batch and returns the loss; gradients are zeroed here.
        """
        descent = closure if descent_closure is None else descent_closure
        if self.rho == 0.0:
            self.zero_grad()
            with torch.enable_grad():
                loss = descent()
            norm = self.grad_norm().item()
            self.base.step()
            return StepResult(loss.item(), norm, None, None)
        rng = capture_rng() if self.rng_replay else None
        self.zero_grad()
        self.begin()
        try:
            with torch.enable_grad():
                perturb_loss = closure()
        except BaseException:
            self.space.restore()
            raise
        perturb_norm = self.first_step()
        check = self.space.last_check if self._moved else None
        if rng is not None:
            restore_rng(rng)
        self.zero_grad()
        try:
            with torch.enable_grad():
                descent_loss = descent()
            descent_norm = self.grad_norm().item()
        except BaseException:
            self._restore()
            raise
        self.second_step()
        return StepResult(descent_loss.item(), descent_norm, perturb_loss.item(), perturb_norm, check)

    @torch.no_grad()
    def _restore(self) -> None:
        """Undo the perturbation of `first_step` (bit-exact)."""
        self.space.restore()
        self._moved = False

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The base optimizer's state (SAM keeps nothing between steps)."""
        return self.base.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base.load_state_dict(state)


def capture_rng() -> dict[str, Any]:
    """The torch RNG states: CPU, and every CUDA device when present."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_rng(state: dict[str, Any]) -> None:
    """Set the torch RNG states captured by `capture_rng`."""
    torch.set_rng_state(state["cpu"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
