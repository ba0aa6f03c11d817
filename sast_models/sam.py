"""Sharpness-Aware Minimization (SAM) and its SAST variant, wrapping any torch base optimizer.

One step, with g the loss gradient at the current weights w (||.|| the global 2-norm over every parameter
with a gradient):

    e = rho g / ||g||                          SAM; SAST takes g from an independent minibatch B' (THEORY.md P5)
    e = rho T^2 g / ||T g||,  T = |w| + eta    adaptive SAM (ASAM), elementwise, ||T^-1 e|| = rho
    w <- base_step(w, grad loss(w + e))        the base optimizer's update, taken at the restored weights w

`step(closure)` is same-batch SAM, `step(perturb_closure, descent_closure)` SAST; each closure runs forward +
backward and returns the loss. Contract (docs/training.md, one test each): e uses the raw `p.grad` only (no
weight decay, momentum or Adam moments); w is restored bit-exactly from a copy; rho = 0 is the base
optimizer bit for bit; g = 0 gives e = 0 and a non-finite ||g|| raises FloatingPointError before any weight
moves; under DDP ||g|| is the global gradient's on every rank (never perturb under `no_sync`);
`rng_replay=True` replays the torch RNG state in the descent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch

Closure = Callable[[], torch.Tensor]


class StepResult(NamedTuple):
    """Losses and gradient norms of one step; the perturbation fields are None when rho = 0 (skipped)."""

    descent_loss: float
    descent_grad_norm: float
    perturb_loss: float | None
    perturb_grad_norm: float | None


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
        self._backup: dict[torch.Tensor, torch.Tensor] = {}  # a copy buffer per parameter, reused every step
        self._perturbed: list[torch.Tensor] = []  # the parameters first_step moved, until they are restored

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.base.param_groups

    def _params_with_grad(self) -> Iterator[torch.Tensor]:
        for group in self.base.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield p

    def grad_norm(self) -> torch.Tensor:
        """Global 2-norm of the current gradients (the ASAM-scaled norm ||T g|| when adaptive)."""
        grads = [self._scale(p) * p.grad if self.adaptive else p.grad for p in self._params_with_grad()]
        return torch.nn.utils.get_total_norm(grads, norm_type=2.0)

    def _scale(self, p: torch.Tensor) -> torch.Tensor:
        """ASAM's T = |w| + eta."""
        return p.detach().abs() + self.eta

    @torch.no_grad()
    def first_step(self) -> float:
        """Move every parameter to w + e, remembering an exact copy of w; returns ||g|| (scaled for ASAM)."""
        if self._perturbed:
            raise RuntimeError("SAM.first_step called twice without second_step")
        norm = self.grad_norm()
        if not torch.isfinite(norm):
            raise FloatingPointError(f"SAM: non-finite gradient norm {norm.item()} in the perturbation pass")
        norm_value = norm.item()
        if self.rho == 0.0 or norm_value == 0.0:
            return norm_value
        scale = self.rho / norm_value
        for p in self._params_with_grad():
            backup = self._backup.get(p)
            if backup is None or (backup.shape, backup.dtype, backup.device) != (p.shape, p.dtype, p.device):
                backup = self._backup[p] = torch.empty_like(p)
            backup.copy_(p)
            self._perturbed.append(p)
            p.add_(self._scale(p).square_() * p.grad if self.adaptive else p.grad, alpha=scale)
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
        with torch.enable_grad():
            perturb_loss = closure()
        perturb_norm = self.first_step()
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
        return StepResult(descent_loss.item(), descent_norm, perturb_loss.item(), perturb_norm)

    @torch.no_grad()
    def _restore(self) -> None:
        """Copy the weights remembered by `first_step` back (bit-exact)."""
        for p in self._perturbed:
            p.copy_(self._backup[p])
        self._perturbed.clear()

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
