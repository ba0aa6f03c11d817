"""Local constants on parameter balls B(theta_0, R) (sast_theory.local): measured against gradient ascent over the
ball, for R in 0.01, 0.03, 0.1, on the measured samples (surrogate mode, explicit weights and biases).

Rows per R (every empirical value is a LOWER estimate of the supremum over the ball):
- G_i: each sample's ||grad l_i|| at theta_0 and after projected ascent of ||grad l_i||^2 over the ball; the row
  shows the sample with the largest measured / bound ratio;
- L_i: each sample's Hessian norm by power iteration at theta_0 and at its ascent point, same reporting;
- L (mean loss): power iteration at theta_0, theta_0 +- R g/||g|| and random boundary points, against mean L_i;
- P4: the SAM gap by ball ascent against min(L rho^2, L^2 rho^3 / (2 (||g|| - L rho))), rho = R;
- sigma^2: the per-sample gradient variance at theta_0 against the certified mean G_i^2 (batch size 1).
Details carry the a priori (caps widened by R) and a posteriori values beside the local ones, and P5's terms.
"""

from __future__ import annotations

import sys

import torch

from sast_theory import theorems

from . import attacks, theory
from .cli import Check, Setup
from .measures import explicit_network, flat_parameters, gradient, hvp_operator, loss_at
from .report import CheckResult, Row

RADII = (0.01, 0.03, 0.1)
RANDOM_POINTS = 2


def _worst(name: str, measured: list[float], bounds, radius: float, extra: dict) -> Row:
    """The sample whose measured value is closest to (or above) its own bound."""
    ratios = [m / b if b > 0 else float("inf") for m, b in zip(measured, bounds, strict=True)]
    i = max(range(len(ratios)), key=ratios.__getitem__)
    return Row(f"R={radius:g}: {name}", measured[i], None, float(bounds[i]), f"sample {i}",
               {"samples": len(measured), **extra})


def _gradient_ascent(net, theta: torch.Tensor, x, y, radius: float, steps: int) -> tuple[float, torch.Tensor]:
    def objective(point: torch.Tensor) -> torch.Tensor:
        point = point.requires_grad_() if not point.requires_grad else point
        (grad,) = torch.autograd.grad(loss_at(net, point, x, y), point, create_graph=True)
        return (grad * grad).sum()

    start = gradient(net, theta, x, y)
    start = radius * start / start.norm().clamp_min(1e-300)
    value, e = attacks.ascend_ball(objective, theta, start, radius, steps)
    return max(value, 0.0) ** 0.5, theta + e


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("local", "P3/P4/P5 local", {**setup.settings, "modes": list(modes), "radii": list(RADII)})
    net = explicit_network(setup.net)
    theta = flat_parameters(net)
    samples = setup.x.shape[1]
    grad = gradient(net, theta, setup.x, setup.y)
    grad_norm = float(grad.norm())
    iterations = max(setup.steps, 1)
    post_l = theory.smoothness_bound(setup.description).posterior
    for radius in setup.bar(RADII, "radii"):
        local = theory.local_bounds(setup.description, setup.x, setup.y, radius)
        prior_l = theory.ball_smoothness(setup.description, radius)
        grads, hessians = [], []
        for i in range(samples):
            x, y = setup.x[:, i:i + 1], setup.y[i:i + 1]
            at_center = float(gradient(net, theta, x, y).norm())
            ascended, point = _gradient_ascent(net, theta, x, y, radius, setup.steps)
            grads.append(max(at_center, ascended))
            hessians.append(max(attacks.power_iteration(hvp_operator(net, p, x, y), theta.numel(), iterations,
                                                        setup.generator) for p in (theta, point)))
        extra = {"a_posteriori_at_theta0": post_l, "a_priori_on_ball": prior_l}
        result.rows.append(_worst("G_i: per-sample gradient norm, ball ascent", grads, local.gradient, radius, {}))
        result.rows.append(_worst("L_i: per-sample Hessian norm (power iteration)", hessians, local.hessian, radius,
                                  extra))
        points = [theta, theta + radius * grad / grad.norm(), theta - radius * grad / grad.norm()]
        for _ in range(RANDOM_POINTS):
            v = torch.randn(theta.shape, generator=setup.generator, dtype=theta.dtype)
            points.append(theta + radius * v / v.norm())
        mean_h = max(attacks.power_iteration(hvp_operator(net, p, setup.x, setup.y), theta.numel(), iterations,
                                             setup.generator) for p in points)
        result.rows.append(Row(f"R={radius:g}: L: mean-loss Hessian norm (power iteration)", mean_h, prior_l,
                               local.smoothness, "best of theta_0, +-R g/||g||, random boundary points",
                               {**extra, "L_local_per_sample_max": local.smoothness_per_sample}))
        first = theta + radius * grad / grad.norm()
        with torch.no_grad():
            first_value = float(loss_at(net, first, setup.x, setup.y))
        best, _ = attacks.ascend_ball(lambda p: loss_at(net, p, setup.x, setup.y), theta, first - theta, radius,
                                      setup.steps)
        cubic = theorems.sam_gap_bound_cubic(local.smoothness, radius, grad_norm * (1 - 1e-9))
        plain = theorems.sam_gap_bound(local.smoothness, radius)
        result.rows.append(Row(f"R={radius:g}: P4 gap (cubic form, local L)", max(best - first_value, 0.0),
                               None if prior_l is None else prior_l * radius**2, cubic, "ball ascent",
                               {"L_rho2_local": plain, "grad_norm": grad_norm}))
        per_sample = torch.stack([gradient(net, theta, setup.x[:, i:i + 1], setup.y[i:i + 1]) for i in range(samples)])
        variance = float(((per_sample - per_sample.mean(0)) ** 2).sum(1).mean())
        batch = int(setup.header.get("hyperparameters", {}).get("batch_size") or 32)
        p5 = theory.local_p5(local, radius / 2, batch, grad_norm**2)
        result.rows.append(Row(f"R={radius:g}: sigma^2 (batch 1)", variance, None, local.sigma2(1), "theta_0",
                               {"P5_at_rho_R/2_training_batch": p5, "initial_grad_norm_squared": grad_norm**2}))
    result.notes.append("local bounds hold on the whole ball; a posteriori L_theta only at theta_0 (details)")
    return result


CHECK = Check("local", "P3/P4/P5 local", "local constants on parameter balls vs ascent over the ball",
              ("surrogate",), ("surrogate",), measure)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
