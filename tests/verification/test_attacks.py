"""The attacks find more than random sampling with the same budget on constructed cases (so they are not
trivial), stay inside their constraint sets, and power iteration never exceeds the true norm."""

from __future__ import annotations

import pytest
import torch

from sast_models.networks import build_network
from sast_models.spec import NetworkSpec
from verification import attacks
from verification.measures import difference_quotients, membranes


@pytest.fixture(autouse=True)
def _float64():
    """These tests run in float64; restore the default dtype afterwards (a global setting leaks into other files)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _net(n_in: int = 24):
    spec = NetworkSpec(arch="mlp", input_shape=(n_in,), hidden=(6,), n_classes=3, beta=2.0, tau=0.5, init_gain=2.0)
    return build_network(spec, seed=3).double().eval()


def _membrane_objective(net, mode: str):
    """Neuron 0 of the first layer, pushed up: max_t u[t, :, 0]."""
    return lambda x: membranes(net, x, mode)[0][:, :, 0].amax(dim=0)


def _random_best(objective, shape, evaluations: int, generator) -> float:
    x = torch.rand(shape[0], evaluations, *shape[2:], generator=generator)
    with torch.no_grad():
        return float(objective(x).max())


def test_input_ascent_beats_random_sampling_and_stays_in_box() -> None:
    net, gen = _net(), torch.Generator().manual_seed(0)
    objective = _membrane_objective(net, "surrogate")
    start = torch.rand(5, 2, 24, generator=gen)
    found = attacks.ascend_inputs(objective, start, 1.0, steps=20)
    assert found.point.min() >= 0 and found.point.max() <= 1
    assert torch.allclose(found.value, objective(found.point).detach())  # the value was actually observed
    assert float(found.value.max()) > _random_best(objective, start.shape, 2 * 21, gen)


def test_hill_climb_beats_random_extreme_inputs_in_hard_mode() -> None:
    net, gen = _net(), torch.Generator().manual_seed(1)
    objective = _membrane_objective(net, "hard")
    start = (torch.rand(5, 1, 24, generator=gen) < 0.5).double()
    found = attacks.hill_climb(objective, start, 1.0, rounds=15, generator=gen)
    assert set(found.point.unique().tolist()) <= {0.0, 1.0}
    random = (torch.rand(5, 16 * 15, 24, generator=gen) < 0.5).double()
    with torch.no_grad():
        assert float(found.value.max()) > float(objective(random).max())


def test_pair_ascent_beats_random_pairs() -> None:
    net, gen = _net(), torch.Generator().manual_seed(2)

    def quotient(a, b):
        return difference_quotients(net, a, b, "surrogate")

    x = torch.rand(5, 4, 24, generator=gen)
    x2 = (x + 0.1 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    found, partner = attacks.ascend_pairs(quotient, x, x2, 0.0, 1.0, steps=30, lr=0.05)
    assert partner.min() >= 0 and partner.max() <= 1
    assert torch.allclose(found.value, quotient(found.point, partner).detach())
    many = torch.rand(5, 4 * 31, 24, generator=gen)
    near = (many + 0.1 * torch.randn(many.shape, generator=gen)).clamp(0, 1)
    with torch.no_grad():
        assert float(found.value.max()) > float(quotient(many, near).max())


def test_ball_ascent_beats_the_first_order_point_and_stays_in_the_ball() -> None:
    matrix = torch.diag(torch.tensor([3.0, -1.0, 0.5]))

    def objective(p):
        return p @ matrix @ p + p.sum()

    center = torch.zeros(3)
    grad = torch.ones(3)
    first = 0.5 * grad / grad.norm()
    value, e = attacks.ascend_ball(objective, center, first, 0.5, steps=30)
    assert e.norm() <= 0.5 * (1 + 1e-12)
    assert value > float(objective(first)) + 1e-3


def test_power_iteration_is_a_lower_estimate_of_the_norm() -> None:
    gen = torch.Generator().manual_seed(4)
    a = torch.randn(12, 12, generator=gen)
    sym = a + a.T
    estimate = attacks.power_iteration(lambda v: sym @ v, 12, 200, gen)
    exact = float(torch.linalg.matrix_norm(sym, ord=2))
    assert estimate <= exact * (1 + 1e-12) and estimate > 0.99 * exact


def test_aligned_inputs_reach_the_largest_first_layer_current() -> None:
    weight = torch.tensor([[1.0, -2.0, 0.5], [-1.0, -1.0, 3.0]])
    x = attacks.aligned_inputs(weight, torch.arange(2), 2.0, 4, 1.0, (3,))
    assert x.shape == (4, 2, 3)
    currents = (x[0] * weight).sum(dim=1)
    assert torch.allclose(currents, 2.0 * weight.clamp(min=0).sum(dim=1))
