"""P3: the loss gradient norm vs G and the Hessian's spectral norm vs L_theta (surrogate mode), both w.r.t. the
explicit weights and biases, per sample l(theta; x, y).

Gradients: every data sample with its label and with its worst label (smallest logit), then projected
ascent of ||grad||^2 over the input from the first samples. Hessian: the exact spectral norm for networks
with at most EXACT_LIMIT parameters, else the largest Rayleigh quotient of a power iteration on
Hessian-vector products (a LOWER estimate of the norm, as every empirical value here is).
"""

from __future__ import annotations

import sys

import torch
from torch import Tensor

from . import attacks, theory
from .cli import Check, Setup
from .measures import explicit_network, flat_parameters, gradient, hessian, hvp_operator, loss_at, worst_labels
from .report import CheckResult, Row

EXACT_LIMIT = 600  # parameters up to which the exact Hessian is formed
ASCENT_SAMPLES = 2  # samples whose input is optimised for the gradient norm


def labelled_samples(setup: Setup) -> list[tuple[str, Tensor, Tensor]]:
    """(label, x (T, 1, ...), y (1,)) for every sample with its true and its worst label."""
    worst = worst_labels(setup.net, setup.x)
    out = []
    for k in range(setup.x.shape[1]):
        x = setup.x[:, k:k + 1]
        out += [(f"data sample {k}", x, setup.y[k:k + 1]), (f"data sample {k}, worst label", x, worst[k:k + 1])]
    return out


def gradient_ascent(setup: Setup, net, flat: Tensor, start: Tensor, label: Tensor) -> float:
    """Projected ascent of ||grad_theta l(theta; x, label)||^2 over x in [0, X] (double backward)."""
    point = flat.detach().requires_grad_()

    def objective(x: Tensor) -> Tensor:
        (grad,) = torch.autograd.grad(loss_at(net, point, x, label), point, create_graph=True)
        return (grad * grad).sum().reshape(1)

    return float(attacks.ascend_inputs(objective, start, setup.bound, setup.steps).value.max().sqrt())


def spectral_norm(setup: Setup, net, flat: Tensor, x: Tensor, y: Tensor) -> float:
    if flat.numel() <= EXACT_LIMIT:
        return float(torch.linalg.matrix_norm(hessian(net, flat, x, y), ord=2))
    return attacks.power_iteration(hvp_operator(net, flat, x, y), flat.numel(), max(setup.steps, 1),
                                   setup.generator)


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("smoothness", "P3", {**setup.settings, "modes": list(modes)})
    g_bound, l_bound = theory.gradient_bound(setup.description), theory.smoothness_bound(setup.description)
    net = explicit_network(setup.net)
    flat = flat_parameters(net)
    samples = labelled_samples(setup)
    best_g, best_h = (0.0, ""), (0.0, "")
    for label, x, y in setup.bar(samples, "samples"):
        value = float(gradient(net, flat, x, y).norm())
        best_g = max(best_g, (value, label))
        value = spectral_norm(setup, net, flat, x, y)
        best_h = max(best_h, (value, label))
    result.rows.append(Row("G: gradient norm, data", best_g[0], g_bound.prior, g_bound.posterior, best_g[1]))
    ascent = (0.0, "")
    for label, x, y in samples[1:2 * ASCENT_SAMPLES:2]:  # worst labels of the first samples
        ascent = max(ascent, (gradient_ascent(setup, net, flat, x, y), f"input ascent from {label}"))
    result.rows.append(Row("G: gradient norm, input ascent", ascent[0], g_bound.prior, g_bound.posterior, ascent[1]))
    method = "exact Hessian" if flat.numel() <= EXACT_LIMIT else "power iteration (lower estimate)"
    result.rows.append(Row(f"L_theta: Hessian spectral norm ({method})", best_h[0], l_bound.prior,
                           l_bound.posterior, best_h[1], {"parameters": int(flat.numel())}))
    result.notes.append("derivatives w.r.t. the explicit weights and biases; tau, theta, beta fixed")
    return result


CHECK = Check("smoothness", "P3", "loss gradient norm vs G and Hessian norm vs L_theta", ("surrogate",),
              ("surrogate",), measure)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
