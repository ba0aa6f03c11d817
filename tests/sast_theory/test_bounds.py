"""Every bound attacked on actual trajectories of the real network (`network_from_description`, float64):
P1 (random and adversarial inputs, both modes), P2 (random pairs and pair ascent), P3 (exact gradients and
Hessians), P4 (inner maximum by projected gradient ascent). A violated bound is a defect. The worst bound /
observed ratios are printed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from flat_loss import flat_loss, flat_parameters
from hypothesis import given, settings
from theory_strategies import descriptions, make_description, with_caps
from tightness import Tightness

from sast_models.from_description import network_from_description
from sast_models.networks import LIFNetwork
from sast_theory.combinator import compose

F64 = torch.float64  # every tensor explicitly float64 (no global default dtype: it would leak into other tests)
TIGHTNESS = Tightness()


@pytest.fixture(scope="module", autouse=True)
def _print_ratios():
    yield
    TIGHTNESS.print("networks")


def _run(net: LIFNetwork, x: torch.Tensor, mode: str = "surrogate") -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(logits (B, C), [membranes (T, B, n_out) per layer]) of the real network."""
    trace = net.trace(x, mode)
    return trace.logits, [layer.membranes.flatten(2) for layer in trace.layers]


def _inputs(description, steps: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    bound = description.input_bound
    shape = description.input_shape
    uniform = torch.rand(steps, batch, *shape, generator=generator, dtype=F64) * bound
    extreme = (torch.rand(steps, batch, *shape, generator=generator, dtype=F64) < 0.5).double() * bound
    return torch.cat([uniform, extreme], dim=1)


def _ascend_membranes(
    description, net: LIFNetwork, layer: int, sign: float, steps: int = 10, iters: int = 8
) -> list[torch.Tensor]:
    """Inputs in [0, X] (sigmoid parameterized) that push layer `layer`'s membranes up (sign +1) or down (-1)."""
    bound = description.input_bound
    shape = description.input_shape
    generator = torch.Generator().manual_seed(layer)
    logits = torch.zeros(steps, 4, *shape, dtype=F64).normal_(generator=generator).requires_grad_()
    opt = torch.optim.Adam([logits], lr=0.5)
    for _ in range(iters):
        _, us = _run(net, torch.sigmoid(logits) * bound)
        objective = -(sign * us[layer]).amax(dim=(0, 2)).sum()
        opt.zero_grad()
        objective.backward()
        opt.step()
    return [torch.sigmoid(logits.detach()) * bound, (logits.detach() > 0).double() * bound]


@settings(max_examples=5, deadline=None)
@given(description=descriptions())
def test_p1_intervals_hold_in_both_modes(description) -> None:
    post = compose(description, posterior=True)
    prior = compose(description, posterior=False)
    net = network_from_description(description)
    gen = torch.Generator().manual_seed(0)
    batches = [_inputs(description, 15, 6, gen)]
    for layer in range(len(description.layers)):
        batches += _ascend_membranes(description, net, layer, +1.0) + _ascend_membranes(description, net, layer, -1.0)
    observed = [0.0] * len(post.layers)
    for x in batches:
        for mode in ("surrogate", "hard"):
            with torch.no_grad():
                _, us = _run(net, x, mode)
            for index, (li, u) in enumerate(zip(post.layers, us, strict=True)):
                flat = u.reshape(-1, u.shape[-1]).numpy()
                assert np.all(flat >= li.detail["interval_low"] - 1e-9), (index, mode)
                assert np.all(flat <= li.detail["interval_high"] + 1e-9), (index, mode)
                assert np.abs(flat).max() <= post.layer_numeric[index]["state_bound"] * (1 + 1e-12)
                assert np.abs(flat).max() <= prior.layer_numeric[index]["state_bound"] * (1 + 1e-12)
                observed[index] = max(observed[index], float(np.abs(flat).max()))
    for li, seen in zip(post.layers, observed, strict=True):
        bound = max(np.abs(li.detail["interval_low"]).max(), np.abs(li.detail["interval_high"]).max())
        TIGHTNESS.record("P1 a posteriori (per-neuron intervals) max|u| per layer", bound, seen)
    TIGHTNESS.record("P1 a posteriori uniform U, first layer", post.layer_numeric[0]["state_bound"], observed[0])


@settings(max_examples=5, deadline=None)
@given(description=descriptions())
def test_p2_input_lipschitz(description) -> None:
    post = compose(description, posterior=True)
    prior = compose(description, posterior=False)
    bound = post.network_numeric["L_x"]
    if not math.isfinite(bound):
        return
    assert bound <= prior.network_numeric["L_x"] * (1 + 1e-9)
    net = network_from_description(description)
    shape = description.input_shape
    x_bound = description.input_bound
    gen = torch.Generator().manual_seed(1)
    worst = 0.0
    x = torch.rand(12, 8, *shape, generator=gen, dtype=F64) * x_bound
    y = torch.rand(12, 8, *shape, generator=gen, dtype=F64) * x_bound
    # pair ascent on the difference quotient, both points kept in [0, X]
    a = torch.logit(x.clamp(1e-3, x_bound - 1e-3) / x_bound).requires_grad_()
    b = torch.logit(y.clamp(1e-3, x_bound - 1e-3) / x_bound).requires_grad_()
    opt = torch.optim.Adam([a, b], lr=0.3)
    for step in range(21):
        xa, xb = torch.sigmoid(a) * x_bound, torch.sigmoid(b) * x_bound
        za, _ = _run(net, xa)
        zb, _ = _run(net, xb)
        dx = (xa - xb).reshape(xa.shape[0], xa.shape[1], -1).norm(dim=2).amax(dim=0)
        quotient = (za - zb).norm(dim=1) / dx
        worst = max(worst, float(quotient.detach().max()))
        assert float(quotient.detach().max()) <= bound * (1 + 1e-9)
        if step % 10 == 0:  # pull the pair closer: local slopes are the largest quotients
            with torch.no_grad():
                b.copy_(a + 0.3 * (b - a))
        opt.zero_grad()
        (-quotient.sum()).backward()
        opt.step()
    TIGHTNESS.record("P2 a posteriori L_x", bound, worst)
    TIGHTNESS.record("P2 a priori L_x", prior.network_numeric["L_x"], worst)




@settings(max_examples=5, deadline=None)
@given(description=descriptions(arch="mlp"))
def test_p3_gradient_and_hessian(description) -> None:
    post = compose(description, posterior=True)
    grad_bound, curv_bound = post.network_numeric["G"], post.network_numeric["L_theta"]
    if not math.isfinite(grad_bound):
        return
    net = network_from_description(description)
    flat = flat_parameters(net)
    gen = torch.Generator().manual_seed(2)
    worst_g = worst_h = 0.0
    for sample in range(2):
        x = torch.rand(8, 1, *description.input_shape, generator=gen, dtype=F64) * description.input_bound
        y = torch.tensor([sample % 3])
        loss = flat_loss(net, x, y, reduction="sum")
        grad = torch.autograd.functional.jacobian(loss, flat)
        hess = torch.autograd.functional.hessian(loss, flat)
        worst_g = max(worst_g, float(grad.norm()))
        worst_h = max(worst_h, float(torch.linalg.matrix_norm(hess, ord=2)))
    assert worst_g <= grad_bound * (1 + 1e-9)
    assert worst_h <= curv_bound * (1 + 1e-9)
    TIGHTNESS.record("P3 a posteriori G", grad_bound, worst_g)
    TIGHTNESS.record("P3 a posteriori Hessian bound", curv_bound, worst_h)


@pytest.mark.parametrize("reset_mode", ["zero", "subtract"])
def test_p4_first_order_sam(reset_mode: str) -> None:
    """|max_{||e||<=rho} F(theta+e) - F(theta + rho g/||g||)| <= L rho^2 with L a priori over the ball."""
    rho = 0.05
    description = make_description(
        np.random.default_rng(7), "mlp", reset_mode, "sigmoid", 2.0, 1.0, 0.5, (4, 5, 3), scale=0.5
    )
    description = with_caps(description, slack=rho)
    smooth = compose(description, posterior=False).network_numeric["L_theta"]
    assert math.isfinite(smooth)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(6, 5, 4, generator=gen, dtype=F64)
    y = torch.tensor([0, 1, 2, 0, 1])
    net = network_from_description(description)
    batch_loss = flat_loss(net, x, y, reduction="sum")

    def objective(flat: torch.Tensor) -> torch.Tensor:
        return batch_loss(flat) / y.numel()

    theta = flat_parameters(net)
    grad = torch.autograd.functional.jacobian(objective, theta)
    first_order = float(objective(theta + rho * grad / grad.norm()))
    e = (rho * grad / grad.norm()).clone().requires_grad_()
    best = first_order
    for _ in range(40):  # projected gradient ascent from the first-order point
        value = objective(theta + e)
        (g,) = torch.autograd.grad(value, e)
        with torch.no_grad():
            e += 0.5 * rho * g / (g.norm() + 1e-300)
            e *= min(1.0, rho / float(e.norm()))
        best = max(best, float(objective(theta + e.detach())))
    gap = best - first_order
    assert 0.0 <= gap + 1e-12
    assert gap <= smooth * rho**2
    TIGHTNESS.record("P4 L rho^2 vs observed gap", smooth * rho**2, max(gap, 1e-300))
