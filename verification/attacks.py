"""Reusable attacks: searches for inputs, input pairs, states and parameter perturbations that make a
measured quantity large. Each returns the best value it actually evaluated and where it found it, so an
empirical value is always something that was observed, never extrapolated.

Objectives map a batch to one value per sample (B,) and are maximised sample by sample; inputs are
time-major (T, B, ...) and kept in [0, X] (A1) by projection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

Objective = Callable[[Tensor], Tensor]


class Found(NamedTuple):
    value: Tensor  # best objective value per sample (B,)
    point: Tensor  # the input that achieved it, same shape as the start


def _keep_best(best: Found, value: Tensor, point: Tensor) -> Found:
    better = value > best.value
    view = (1, -1) + (1,) * (point.dim() - 2)
    return Found(torch.where(better, value, best.value), torch.where(better.view(view), point, best.point))


def evaluate(objective: Objective, x: Tensor) -> Found:
    """The objective at x, as a Found (no search; objectives may differentiate internally, so grad stays on)."""
    return Found(objective(x).detach(), x.detach().clone())


def ascend_inputs(objective: Objective, start: Tensor, bound: float, steps: int, lr: float = 0.1) -> Found:
    """Projected gradient ascent (Adam, then clamp to [0, bound]) on each sample's objective; the best visited."""
    x = start.detach().clone().requires_grad_()
    opt = torch.optim.Adam([x], lr=lr * bound)
    best = evaluate(objective, x)
    for _ in range(steps):
        value = objective(x)
        best = _keep_best(best, value.detach(), x.detach())
        opt.zero_grad()
        (-value.sum()).backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0.0, bound)
    return _keep_best(best, *evaluate(objective, x))


def _per_sample(x: Tensor) -> Tensor:
    return x.transpose(0, 1).reshape(x.shape[1], -1)


def _time_major(flat: Tensor, like: Tensor) -> Tensor:
    return flat.reshape(-1, like.shape[0], *like.shape[2:]).transpose(0, 1)


def hill_climb(objective: Objective, start: Tensor, bound: float, rounds: int, candidates: int = 16,
               flips: int = 4, generator: torch.Generator | None = None) -> Found:
    """Black-box search over extreme inputs {0, bound} for non-differentiable objectives (hard spikes, integers).

    From start rounded to {0, bound}: per sample and round, `candidates` copies of the current point, each with
    `flips` random entries toggled between 0 and bound, evaluated in one batch; the best one is kept if it
    improves. Returns the best of start, its rounding and every accepted point.
    """
    batch = start.shape[1]
    with torch.no_grad():
        extreme = evaluate(objective, (start > bound / 2).to(start.dtype) * bound)
        best = _keep_best(evaluate(objective, start), *extreme)
    current, value = _per_sample(extreme.point), extreme.value
    for _ in range(rounds):
        trial = current.unsqueeze(1).repeat(1, candidates, 1)
        index = torch.randint(trial.shape[2], (batch, candidates, flips), generator=generator)
        trial.scatter_(2, index, bound - trial.gather(2, index))
        with torch.no_grad():
            values = objective(_time_major(trial.reshape(batch * candidates, -1), start)).view(batch, candidates)
        top, arg = values.max(dim=1)
        better = top > value
        current = torch.where(better[:, None], trial[torch.arange(batch), arg], current)
        value = torch.where(better, top, value)
    return _keep_best(best, value, _time_major(current, start))


def ascend_pairs(quotient: Callable[[Tensor, Tensor], Tensor], x: Tensor, x2: Tensor, low: Tensor | float,
                 high: Tensor | float, steps: int, lr: float, pull_every: int = 10,
                 pull: float = 0.3) -> tuple[Found, Tensor]:
    """Maximise a pair quotient q(x, x2) (one value per sample) over both points in the box [low, high].

    Projected Adam ascent; every `pull_every` steps x2 is pulled towards x (local slopes are the largest
    quotients). Returns (best value and its x, the matching x2).
    """
    low, high = torch.as_tensor(low, dtype=x.dtype), torch.as_tensor(high, dtype=x.dtype)
    a, b = x.detach().clone().requires_grad_(), x2.detach().clone().requires_grad_()
    opt = torch.optim.Adam([a, b], lr=lr)
    with torch.no_grad():
        best, partner = Found(quotient(a, b), a.detach().clone()), b.detach().clone()
    view = (1, -1) + (1,) * (a.dim() - 2)
    for step in range(steps):
        value = quotient(a, b)
        opt.zero_grad()
        (-value.sum()).backward()
        opt.step()
        with torch.no_grad():
            a.copy_(torch.maximum(torch.minimum(a, high), low))
            b.copy_(torch.maximum(torch.minimum(b, high), low))
            if (step + 1) % pull_every == 0:
                b.copy_(a + pull * (b - a))
            value = quotient(a, b)
            partner = torch.where((value > best.value).view(view), b, partner)
            best = _keep_best(best, value, a.detach())
    return best, partner


def ascend_ball(objective: Callable[[Tensor], Tensor], center: Tensor, start: Tensor, radius: float,
                steps: int, step_size: float = 0.5) -> tuple[float, Tensor]:
    """max over ||e|| <= radius of objective(center + e), by normalised gradient steps projected on the ball.

    Returns (best value seen, the e that gave it).
    """
    e = start.detach().clone()
    best_value, best_e = float("-inf"), e.clone()
    for _ in range(steps + 1):
        e.requires_grad_()
        value = objective(center + e)
        if float(value.detach()) > best_value:
            best_value, best_e = float(value.detach()), e.detach().clone()
        (grad,) = torch.autograd.grad(value, e)
        with torch.no_grad():
            e = e + step_size * radius * grad / grad.norm().clamp_min(1e-300)
            e = e * min(1.0, radius / float(e.norm()))
    return best_value, best_e


def power_iteration(apply: Callable[[Tensor], Tensor], dim: int, iterations: int,
                    generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64) -> float:
    """Largest |v^T A v| over the iterates of power iteration on a symmetric A: a LOWER estimate of ||A||_2."""
    return rayleigh_search(apply, dim, iterations, generator, dtype)[0]


def rayleigh_search(apply: Callable[[Tensor], Tensor], dim: int, iterations: int,
                    generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float64) -> tuple[float, Tensor]:
    """Power iteration on a symmetric A: (largest |v^T A v| seen, the unit v that gave it)."""
    v = torch.randn(dim, generator=generator, dtype=dtype)
    v = v / v.norm()
    best, best_v = 0.0, v
    for _ in range(iterations):
        w = apply(v)
        value = abs(float(v @ w))
        if value > best:
            best, best_v = value, v.detach().clone()
        norm = w.norm()
        if norm == 0:
            break
        v = w / norm
    return best, best_v


def aligned_inputs(weight: Tensor, rows: Tensor, bound: float, steps: int, sign: float,
                   input_shape: tuple[int, ...], kernel_center: bool = False) -> Tensor:
    """Constant-in-time inputs that push the first layer's current of each chosen neuron to an extreme.

    Dense W (n_out, n_in): x = bound * [sign W_i > 0] (this maximises sign * I_i over [0, bound]^n).
    Conv kernel (C_out, C_in, kh, kw) with kernel_center: the same pattern of output channel i placed on
    the centre patch of an otherwise empty frame. Returns (steps, len(rows), *input_shape).
    """
    if not kernel_center:
        frames = (sign * weight[rows] > 0).to(weight.dtype) * bound
        return frames.reshape(len(rows), *input_shape).unsqueeze(0).expand(steps, -1, *input_shape).clone()
    _, height, width = input_shape
    kh, kw = weight.shape[2:]
    top, left = (height - kh) // 2, (width - kw) // 2
    frames = torch.zeros(len(rows), *input_shape, dtype=weight.dtype)
    frames[:, :, top: top + kh, left: left + kw] = (sign * weight[rows] > 0).to(weight.dtype) * bound
    return frames.unsqueeze(0).expand(steps, -1, *input_shape).clone()
