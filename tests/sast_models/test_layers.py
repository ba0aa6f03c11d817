"""The nonzero-entries path of DenseLIF.operator (event-sparse network input) computes the same W x + b."""

import pytest
import torch
import torch.nn.functional as F

from sast_models import layers
from sast_models.layers import _EventLinear
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec


def sparse_input(*shape, density=0.05, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(*shape, generator=gen) < density
    return (mask * torch.randint(1, 6, shape, generator=gen)).to(dtype)


def test_event_linear_gradcheck_and_values():
    x = sparse_input(9, 40, density=0.1)
    x[2] = 0  # an empty row
    weight = torch.randn(7, 40, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(7, dtype=torch.float64, requires_grad=True)
    nonzero = torch.nonzero(x.reshape(-1)).squeeze(1)
    assert torch.autograd.gradcheck(lambda w, b: _EventLinear.apply(x, w, b, nonzero), (weight, bias))
    torch.testing.assert_close(_EventLinear.apply(x, weight, bias, nonzero), F.linear(x, weight, bias),
                               rtol=1e-13, atol=1e-13)


def test_all_zero_input_gives_the_bias():
    x = torch.zeros(3, 40, dtype=torch.float64)
    weight = torch.randn(5, 40, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, dtype=torch.float64, requires_grad=True)
    out = _EventLinear.apply(x, weight, bias, torch.nonzero(x.reshape(-1)).squeeze(1))
    assert torch.equal(out, bias.expand(3, 5))
    out.sum().backward()
    assert torch.equal(weight.grad, torch.zeros_like(weight))


@pytest.mark.parametrize("mode", ["surrogate", "hard"])
@pytest.mark.parametrize("parameterization", ["contractive", "plain"])
def test_network_same_with_and_without_the_sparse_path(monkeypatch, mode, parameterization):
    spec = NetworkSpec(arch="mlp", input_shape=(300,), hidden=(256,), n_classes=4, parameterization=parameterization)
    x = sparse_input(6, 3, 300, density=0.05, seed=1)
    y = torch.tensor([0, 1, 3])
    results = []
    for max_density in (layers.SPARSE_MAX_DENSITY, -1.0):  # -1: never take the sparse path
        monkeypatch.setattr(layers, "SPARSE_MAX_DENSITY", max_density)
        net = build_network(spec, seed=3).double()
        first = net.layers[0]
        current = first.operator(x.flatten(0, 1), *first.explicit()[:2])
        assert isinstance(current.grad_fn, _EventLinear._backward_cls) == (max_density > 0)
        logits = net(x, mode)
        F.cross_entropy(logits, y).backward()
        results.append((logits.detach(), [p.grad for p in net.parameters()]))  # None: hard spikes block it
    (l1, g1), (l2, g2) = results
    torch.testing.assert_close(l1, l2, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g2):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_input_that_needs_a_gradient_uses_the_dense_operator():
    net = build_network(NetworkSpec(arch="mlp", input_shape=(300,), hidden=(256,), n_classes=4), seed=0)
    x = sparse_input(4, 2, 300, dtype=torch.float32).requires_grad_()
    net(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
