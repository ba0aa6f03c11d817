"""Local constants on a parameter ball (sast_theory.local), attacked on the real network (float64):
the interval boxes against trajectories at random parameters of the ball, the per-sample gradient and Hessian
bounds against exact autograd gradients and Hessians at random, gradient-aligned and ascended points of the
ball (tiny random networks, dense and conv, every reset and surrogate), P4's cubic form against the measured
gap, P5's step budget against simulated SAST runs, and the slope tables against dense sampling.
The worst bound / observed ratios are printed. Long run: `pytest -m slow tests/sast_theory/test_local.py`."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from flat_loss import flat_loss, flat_parameters
from hypothesis import given, settings
from hypothesis import strategies as st
from theory_strategies import descriptions
from tightness import Tightness

from sast_core.errors import InputError
from sast_models.from_description import network_from_description
from sast_theory import theorems
from sast_theory.local.constants import local_constants
from sast_theory.local.network import from_description
from sast_theory.local.propagate import propagate
from sast_theory.local.slopes import SlopeTable
from sast_theory.surrogates import beta, reset_expr, surrogate_expr, theta, u, z

F64 = torch.float64
TIGHTNESS = Tightness()
TRIALS = {"points": 0}  # (sample, ball point) pairs checked: one trial of G_i and one of L_i each
CI_EXAMPLES, SLOW_EXAMPLES = 25, 1100  # slow: 1100 networks x 2 samples x ~5 ball points > 10^4 checks


@pytest.fixture(scope="module", autouse=True)
def _print_ratios():
    yield
    if TRIALS["points"]:
        print(f"\n[trials] {TRIALS['points']} (sample, ball point) checks of G_i and of L_i")
    TIGHTNESS.print("trials")


def _inputs(description, steps: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    bound, shape = description.input_bound, description.input_shape
    uniform = torch.rand(steps, batch, *shape, generator=generator, dtype=F64) * bound
    binary = (torch.rand(steps, batch, *shape, generator=generator, dtype=F64) < 0.4).double() * bound
    return torch.where(torch.arange(batch).view(1, batch, *[1] * len(shape)) % 2 == 0, uniform, binary)


def _ball_points(flat: torch.Tensor, radius: float, loss, generator: torch.Generator) -> list[torch.Tensor]:
    """The centre, two random points, the gradient-aligned boundary point and a Hessian-norm ascent point."""
    points = [flat]
    if radius == 0:
        return points
    for _ in range(2):
        v = torch.randn(flat.shape, generator=generator, dtype=F64)
        points.append(flat + radius * float(torch.rand(1, generator=generator)) ** 0.5 * v / v.norm())
    grad = torch.autograd.functional.jacobian(loss, flat)
    if grad.norm() > 0:
        points.append(flat + radius * grad / grad.norm())
    # ascent of the top Hessian eigenvalue's magnitude over the ball (a few projected steps along its eigvector)
    point = points[-1].clone()
    for _ in range(3):
        hess = torch.autograd.functional.hessian(loss, point, vectorize=True)
        values, vectors = torch.linalg.eigh(hess)
        top = vectors[:, values.abs().argmax()]
        step = point + 0.5 * radius * top * torch.sign(top @ (point - flat) + 1e-300)
        offset = step - flat
        point = flat + offset * min(1.0, radius / float(offset.norm()))
        points.append(point)
    return points


def _check_network(description, radius: float, seed: int) -> None:
    net = network_from_description(description)
    local_net = from_description(description)
    gen = torch.Generator().manual_seed(seed)
    x = _inputs(description, 5, 2, gen)
    y = torch.randint(0, description.layers[-1].n_out, (2,), generator=gen)
    local = local_constants(local_net, x.transpose(0, 1).numpy(), y.numpy(), radius)
    flat = flat_parameters(net)
    for i in range(2):
        loss = flat_loss(net, x[:, i:i + 1], y[i:i + 1])
        worst_g = worst_h = 0.0
        for point in _ball_points(flat, radius, loss, gen):
            grad = torch.autograd.functional.jacobian(loss, point)
            hess = torch.autograd.functional.hessian(loss, point, vectorize=True)
            worst_g = max(worst_g, float(grad.norm()))
            worst_h = max(worst_h, float(torch.linalg.matrix_norm(hess, ord=2)))
            TRIALS["points"] += 1
        assert worst_g <= local.gradient[i], (i, worst_g, local.gradient[i])
        assert worst_h <= local.hessian[i], (i, worst_h, local.hessian[i])
        assert float(loss(flat)) <= local.loss[i] * (1 + 1e-12)
        TIGHTNESS.record("local G_i vs exact gradient norm on the ball", float(local.gradient[i]), worst_g)
        TIGHTNESS.record("local L_i vs exact Hessian norm on the ball", float(local.hessian[i]), worst_h)


radii = st.sampled_from((0.0, 0.003, 0.03, 0.3))


@settings(max_examples=CI_EXAMPLES, deadline=None)
@given(description=descriptions(), radius=radii, seed=st.integers(0, 2**31 - 1))
def test_local_bounds_against_exact_derivatives(description, radius, seed) -> None:
    _check_network(description, radius, seed)


@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES, deadline=None)
@given(description=descriptions(), radius=radii, seed=st.integers(0, 2**31 - 1))
def test_local_bounds_against_exact_derivatives_long(description, radius, seed) -> None:
    before = TRIALS["points"]
    _check_network(description, radius, seed)
    if before // 500 != TRIALS["points"] // 500:  # progress of the long run (with -s)
        print(f"[trials] {TRIALS['points']}", flush=True)


@settings(max_examples=25, deadline=None)
@given(description=descriptions(), radius=radii, seed=st.integers(0, 2**31 - 1))
def test_boxes_contain_trajectories_anywhere_in_the_ball(description, radius, seed) -> None:
    """Membranes at random parameters of the ball (and on its boundary) lie in the propagated boxes."""
    net = network_from_description(description)
    gen = torch.Generator().manual_seed(seed)
    x = _inputs(description, 6, 3, gen)
    boxes = propagate(from_description(description), x.transpose(0, 1).numpy(), radius)
    flat = flat_parameters(net)
    for trial in range(4):
        v = torch.randn(flat.shape, generator=gen, dtype=F64)
        point = flat + radius * (1.0 if trial % 2 else float(torch.rand(1, generator=gen))) * v / v.norm()
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(point, net.parameters())
            layers = net.trace(x, "surrogate").layers
        for box, layer in zip(boxes, layers, strict=True):
            membranes = layer.membranes.flatten(2).transpose(0, 1).numpy()
            assert np.all(membranes >= box.u_lo) and np.all(membranes <= box.u_hi)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(("sigmoid", "arctan")), reset=st.sampled_from(("zero", "subtract", "none")),
       b=st.sampled_from((0.3, 1.0, 2.5, 10.0)), th=st.floats(0.0, 2.0), lo=st.floats(-20.0, 20.0),
       width=st.one_of(st.floats(0.0, 1e-6), st.floats(0.0, 30.0)))
def test_slope_tables_bound_dense_samples(name, reset, b, th, lo, width) -> None:
    table = SlopeTable(name, b, th, reset)
    bounds = table.bounds(np.array([lo]), np.array([lo + width]))
    us = np.linspace(lo, lo + width, 2001)
    exprs = {"mu": sp.diff(surrogate_expr(name), z).subs(z, u - theta),
             "nu": sp.diff(surrogate_expr(name), z, 2).subs(z, u - theta),
             "kappa1": sp.diff(reset_expr(reset, name), u), "kappa2": sp.diff(reset_expr(reset, name), u, 2)}
    for key, expr in exprs.items():
        fn = sp.lambdify((u, theta, beta), expr, "numpy")
        with np.errstate(all="ignore"):
            sampled = np.nan_to_num(np.abs(np.broadcast_to(fn(us, th, b), us.shape)))
        assert sampled.max() <= bounds[key][0] * (1 + 1e-12) + 1e-300, (key, sampled.max(), bounds[key][0])
        if width < 1e-6:  # narrow intervals: tight up to the grid (a box is rounded out to grid nodes, step
            # 2^-9 / beta within 32 / beta of threshold, ratio 1.02 beyond): against the sup over one cell around
            cell = max(2.0**-9 / b, 0.021 * max(abs(lo - th), abs(lo + width - th)))
            around = np.linspace(lo - cell, lo + width + cell, 2001)
            with np.errstate(all="ignore"):
                widened = np.nan_to_num(np.abs(np.broadcast_to(fn(around, th, b), around.shape)))
            if widened.max() > 1e-3:
                assert bounds[key][0] <= widened.max() * 1.05 + 1e-9, (key, bounds[key][0], widened.max())
    phi = sp.lambdify((z, beta), surrogate_expr(name), "numpy")
    with np.errstate(all="ignore"):
        spikes = phi(us - th, b)
    assert np.all(spikes >= bounds["s_lo"][0]) and np.all(spikes <= bounds["s_hi"][0])


def test_p4_cubic_form_against_the_measured_gap() -> None:
    """gap <= min(L rho^2, L^2 rho^3 / (2 (||g|| - L rho))) with L local on B(theta, rho), measured ||g||."""
    from theory_strategies import make_description

    description = make_description(np.random.default_rng(3), "mlp", "zero", "sigmoid", 2.0, 1.0, 0.5, (4, 5, 3),
                                   scale=1.0)
    net = network_from_description(description)
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(6, 5, 4, generator=gen, dtype=F64)
    y = torch.tensor([0, 1, 2, 0, 1])
    loss = flat_loss(net, x, y)
    flat = flat_parameters(net)
    grad = torch.autograd.functional.jacobian(loss, flat)
    for rho in (0.01, 0.03, 0.1):
        smooth = local_constants(from_description(description), x.transpose(0, 1).numpy(), y.numpy(), rho).smoothness
        first = float(loss(flat + rho * grad / grad.norm()))
        e = (rho * grad / grad.norm()).clone().requires_grad_()
        best = first
        for _ in range(60):
            value = loss(flat + e)
            (g,) = torch.autograd.grad(value, e)
            with torch.no_grad():
                e += 0.3 * rho * g / (g.norm() + 1e-300)
                e *= min(1.0, rho / float(e.norm()))
            best = max(best, float(loss(flat + e.detach())))
        bound = theorems.sam_gap_bound_cubic(smooth, rho, float(grad.norm()) * (1 - 1e-9))
        assert 0.0 <= best - first <= bound
        assert bound <= smooth * rho**2
        TIGHTNESS.record("P4 local (cubic form) vs measured gap", bound, max(best - first, 1e-300))


def test_p5_step_budget_keeps_every_run_in_the_ball() -> None:
    """SAST with independent minibatches, eta = 1/(4L), K = K_max steps: every iterate within R - rho and every
    perturbed point within R of theta_0, for several random minibatch sequences (the induction of p5_step_budget)."""
    from theory_strategies import make_description

    description = make_description(np.random.default_rng(5), "mlp", "subtract", "sigmoid", 2.0, 1.0, 0.5,
                                   (4, 5, 3), scale=1.0)
    net = network_from_description(description)
    gen = torch.Generator().manual_seed(6)
    x = torch.rand(6, 12, 4, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (12,), generator=gen)
    radius, rho, batch = 0.3, 0.05, 4
    local = local_constants(from_description(description), x.transpose(0, 1).numpy(), y.numpy(), radius)
    eta = 1.0 / (4.0 * local.smoothness)
    budget = theorems.p5_step_budget(radius, rho, eta, local.gradient_per_sample)
    assert budget >= 1
    flat0 = flat_parameters(net)
    for _run in range(3):
        point = flat0.clone()
        distances = []
        for _ in range(min(budget, 200)):
            ascent = torch.randint(0, 12, (batch,), generator=gen)
            descent = torch.randint(0, 12, (batch,), generator=gen)
            g_up = torch.autograd.functional.jacobian(flat_loss(net, x[:, ascent], y[ascent]), point)
            e = rho * g_up / max(float(g_up.norm()), 1e-300)
            assert float((point + e - flat0).norm()) <= radius
            g = torch.autograd.functional.jacobian(flat_loss(net, x[:, descent], y[descent]), point + e)
            assert float(g.norm()) <= local.gradient_per_sample
            point = point - eta * g
            distances.append(float((point - flat0).norm()))
        assert theorems.p5_path_inside(distances, rho, radius)
    assert theorems.p5_path_inside([0.1], 0.05, 0.2) and not theorems.p5_path_inside([0.19], 0.05, 0.2)


def test_bad_local_input_is_an_input_error() -> None:
    from theory_strategies import make_description

    description = make_description(np.random.default_rng(0), "mlp", "zero", "sigmoid", 2.0, 1.0, 0.5, (4, 5, 3))
    net = from_description(description)
    x = np.zeros((2, 3, 4))
    with pytest.raises(InputError):
        local_constants(net, x, np.array([0, 1]), -1.0)
    with pytest.raises(InputError):
        local_constants(net, x + 5.0, np.array([0, 1]), 0.1)
    with pytest.raises(InputError):
        local_constants(net, x, np.array([0, 7]), 0.1)
    with pytest.raises(InputError):
        local_constants(net, np.zeros((2, 3, 5)), np.array([0, 1]), 0.1)
    with pytest.raises(InputError):
        theorems.p5_step_budget(0.1, 0.2, 0.01, 1.0)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_memory_estimate_covers_the_allocations(arch) -> None:
    """memory_estimate (the report's --max-memory check) is at least the traced peak of local_constants (slope
    tables built in the call; hypothesis tests elsewhere may have cached them, which only lowers the peak)."""
    import dataclasses
    import tracemalloc

    from theory_strategies import make_description

    from sast_theory.description import a_priori_description
    from sast_theory.local.constants import memory_estimate

    rng = np.random.default_rng(0)
    if arch == "mlp":
        description = make_description(rng, "mlp", "zero", "sigmoid", 2.0, 1.0, 0.5, (300, 64, 10))
    else:
        description = a_priori_description("conv", 2.0, 0.5, hidden=(16,), channels=(4,), input_shape=(2, 12, 12))
        description = dataclasses.replace(description, layers=tuple(
            dataclasses.replace(layer, weight=rng.normal(size=layer.weight_shape) * 0.3,
                                bias=rng.normal(size=layer.weight_shape[0]) * 0.1) for layer in description.layers))
    net = from_description(description)
    x = (rng.random((40, 8, *net.input_shape)) < 0.3).astype(float)
    y = rng.integers(0, net.layers[-1].n_neurons, 40)
    tracemalloc.start()
    try:
        local_constants(net, x, y, 0.03)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= sum(memory_estimate(net, 40, 8).values()), (peak, memory_estimate(net, 40, 8))
