"""P4: |max_{||e|| <= rho} F(theta + e) - F(theta + rho g / ||g||)| vs L rho^2, for a few rho.

F is the mean surrogate-mode loss on the measured samples, over the explicit weights and biases; the inner
maximum is found by projected gradient ascent on the ball from the first-order point and from random points
(so the gap found is a LOWER estimate of the true gap). L is the smoothness constant sast_theory gives for
the whole ball (see theory.ball_smoothness).
"""

from __future__ import annotations

import sys

import torch

from . import attacks, theory
from .cli import Check, Setup, witness_of
from .measures import explicit_network, flat_parameters, gradient, loss_at
from .plots import sam_chart
from .report import CheckResult, Row

RADII = (0.01, 0.03, 0.1)
RANDOM_STARTS = 2


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("sam", "P4", {**setup.settings, "modes": list(modes), "radii": list(RADII)},
                         figure=sam_chart)
    net = explicit_network(setup.net)
    theta = flat_parameters(net)
    grad = gradient(net, theta, setup.x, setup.y)

    def objective(point):
        return loss_at(net, point, setup.x, setup.y)

    for radius in setup.bar(RADII, "radii"):
        first = radius * grad / grad.norm()
        with torch.no_grad():
            first_value = float(objective(theta + first))
        starts = [("first-order point", first)]
        for k in range(RANDOM_STARTS):
            direction = torch.randn(theta.shape, generator=setup.generator, dtype=theta.dtype)
            starts.append((f"random start {k}", radius * direction / direction.norm()))
        best, witness, best_e = first_value, "first-order point", first
        for label, start in starts:
            if setup.expired() and label != "first-order point":
                result.skipped.append(f"rho={radius:g}: ball ascent from {label}")
                continue
            value, e = attacks.ascend_ball(objective, theta, start, radius, setup.steps)
            if value > best:
                best, witness, best_e = value, f"ball ascent from {label}", e
        smooth = theory.ball_smoothness(setup.description, radius)
        bound = None if smooth is None else smooth * radius**2
        result.rows.append(Row(f"rho={radius:g}: inner max - first-order value", best - first_value, None, bound,
                               witness, {"first_order_value": first_value, "inner_max_found": best,
                                         "L_ball": smooth, "rho": radius},
                               replay=witness_of("sam", "ball", x=setup.x, y=setup.y, e=best_e, rho=radius)))
    result.notes.append("F: mean loss on the measured samples; e over the explicit weights and biases")
    return result


def replay_ball(setup: Setup, witness) -> tuple[float, float | None]:
    """F(theta + e) - F(theta + rho g/||g||) for the stored e and samples, and L_ball rho^2."""
    net = explicit_network(setup.net)
    theta = flat_parameters(net)
    x, y, e, radius = witness.tensors["x"], witness.tensors["y"], witness.tensors["e"], witness.params["rho"]
    grad = gradient(net, theta, x, y)
    with torch.no_grad():
        value = float(loss_at(net, theta + e, x, y)) - float(loss_at(net, theta + radius * grad / grad.norm(), x, y))
    smooth = theory.ball_smoothness(setup.description, radius)
    return value, None if smooth is None else smooth * radius**2


REPLAY = {"ball": replay_ball}
CHECK = Check("sam", "P4", "first-order SAM approximation error vs L rho^2", ("surrogate",), ("surrogate",),
              measure, budget=25.0)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
