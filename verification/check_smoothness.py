"""P3: the loss gradient norm vs G and the Hessian's spectral norm vs L_theta (surrogate mode), both w.r.t. the
explicit weights and biases, per sample l(theta; x, y).

Gradients: every data sample with its label and with its worst label (smallest logit), then projected
ascent of ||grad||^2 over the input from the first samples. Hessian: the exact spectral norm for networks
with at most EXACT_LIMIT parameters, else the largest Rayleigh quotient of a power iteration on
Hessian-vector products (a LOWER estimate of the norm, as every empirical value here is). The hardware modes
(int8, int4, fixed) measure the network with the deployed weights, biases and leaks (surrogate spikes) against
its own a posteriori G and L_theta.
"""

from __future__ import annotations

import sys

import torch
from torch import Tensor

from . import attacks, theory
from .cli import QUANTIZED_MODES, Check, Setup, witness_of
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


def gradient_ascent(setup: Setup, net, flat: Tensor, start: Tensor, label: Tensor) -> tuple[float, Tensor]:
    """Projected ascent of ||grad_theta l(theta; x, label)||^2 over x in [0, X] (double backward): the best
    norm and its input."""
    point = flat.detach().requires_grad_()

    def objective(x: Tensor) -> Tensor:
        (grad,) = torch.autograd.grad(loss_at(net, point, x, label), point, create_graph=True)
        return (grad * grad).sum().reshape(1)

    found = attacks.ascend_inputs(objective, start, setup.bound, setup.steps)
    return float(found.value.max().sqrt()), found.point


def spectral_norm(setup: Setup, net, flat: Tensor, x: Tensor, y: Tensor) -> tuple[float, Tensor | None]:
    """The Hessian's spectral norm (exact) or the best Rayleigh quotient and its vector (a lower estimate)."""
    if flat.numel() <= EXACT_LIMIT:
        return float(torch.linalg.matrix_norm(hessian(net, flat, x, y), ord=2)), None
    return attacks.rayleigh_search(hvp_operator(net, flat, x, y), flat.numel(), max(setup.steps, 1),
                                   setup.generator)


def _mode_rows(setup: Setup, mode: str, result: CheckResult) -> None:
    g_bound, l_bound = theory.gradient_bound(setup.description), theory.smoothness_bound(setup.description)
    net = explicit_network(setup.net)
    flat = flat_parameters(net)
    samples = labelled_samples(setup)
    best_g, best_h = (0.0, "", 0), (0.0, "", 0, None)
    for k, (label, x, y) in enumerate(setup.bar(samples, f"{mode} samples")):
        if setup.expired() and k >= 2:
            result.skipped.append(f"{mode}: samples {k // 2}..{len(samples) // 2 - 1} (gradient and Hessian)")
            break
        value = float(gradient(net, flat, x, y).norm())
        best_g = max(best_g, (value, label, k), key=lambda item: item[0])
        value, vector = spectral_norm(setup, net, flat, x, y)
        best_h = max(best_h, (value, label, k, vector), key=lambda item: item[0])
    prefix = "" if mode == "surrogate" else f"{mode} (deployed weights, surrogate) "
    _, x, y = samples[best_g[2]]
    result.rows.append(Row(f"{prefix}G: gradient norm, data", best_g[0], g_bound.prior, g_bound.posterior, best_g[1],
                           replay=witness_of("smoothness", "gradient", x=x, y=y, mode=mode)))
    ascent = (0.0, "", None, None)
    for label, x, y in samples[1:2 * ASCENT_SAMPLES:2]:  # worst labels of the first samples
        if setup.expired() and ascent[2] is not None:
            result.skipped.append(f"{mode}: gradient input ascent from {label}")
            continue
        value, point = gradient_ascent(setup, net, flat, x, y)
        ascent = max(ascent, (value, f"input ascent from {label}", point, y), key=lambda item: item[0])
    if ascent[2] is not None:
        result.rows.append(Row(f"{prefix}G: gradient norm, input ascent", ascent[0], g_bound.prior, g_bound.posterior,
                               ascent[1], replay=witness_of("smoothness", "gradient", x=ascent[2], y=ascent[3],
                                                            mode=mode)))
    method = "exact Hessian" if flat.numel() <= EXACT_LIMIT else "power iteration (lower estimate)"
    _, x, y = samples[best_h[2]]
    extra = {"v": best_h[3]} if best_h[3] is not None else {}
    result.rows.append(Row(f"{prefix}L_theta: Hessian spectral norm ({method})", best_h[0], l_bound.prior,
                           l_bound.posterior, best_h[1], {"parameters": int(flat.numel())},
                           replay=witness_of("smoothness", "hessian", x=x, y=y, mode=mode, **extra)))


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("smoothness", "P3", {**setup.settings, "modes": list(modes)})
    for mode in modes:
        if setup.expired() and result.rows:
            result.skipped.append(f"mode {mode}")
            continue
        _mode_rows(setup.quantized(mode) if mode in QUANTIZED_MODES else setup, mode, result)
    result.notes.append("derivatives w.r.t. the explicit weights and biases; tau, theta, beta fixed")
    return result


def _replay_setup(setup: Setup, witness):
    mode = witness.params["mode"]
    net_setup = setup.quantized(mode) if mode in QUANTIZED_MODES else setup
    net = explicit_network(net_setup.net)
    return net_setup, net, flat_parameters(net)


def replay_gradient(setup: Setup, witness) -> tuple[float, float | None]:
    net_setup, net, flat = _replay_setup(setup, witness)
    value = float(gradient(net, flat, witness.tensors["x"], witness.tensors["y"]).norm())
    bound = theory.gradient_bound(net_setup.description)
    return value, min(b for b in (bound.prior, bound.posterior) if b is not None)


def replay_hessian(setup: Setup, witness) -> tuple[float, float | None]:
    """The exact spectral norm, or |v^T H v| of the stored unit vector."""
    net_setup, net, flat = _replay_setup(setup, witness)
    x, y = witness.tensors["x"], witness.tensors["y"]
    if "v" in witness.tensors:
        v = witness.tensors["v"]
        value = abs(float(v @ hvp_operator(net, flat, x, y)(v)))
    else:
        value = float(torch.linalg.matrix_norm(hessian(net, flat, x, y), ord=2))
    bound = theory.smoothness_bound(net_setup.description)
    return value, min(b for b in (bound.prior, bound.posterior) if b is not None)


REPLAY = {"gradient": replay_gradient, "hessian": replay_hessian}
MODES = ("surrogate", *QUANTIZED_MODES)
CHECK = Check("smoothness", "P3", "loss gradient norm vs G and Hessian norm vs L_theta", MODES, MODES, measure,
              budget=40.0)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
