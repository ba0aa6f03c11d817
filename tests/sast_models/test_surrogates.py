"""Each surrogate: torch code == its sympy expression to 1e-12 (float64), and autograd == sympy's derivative."""

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

from sast_models.surrogates import hard_spike, spike_function
from sast_theory.surrogates import SURROGATES, beta, surrogate_expr, z

BETAS = [0.05, 1.0, 5.0, 40.0]
GRID = np.concatenate([
    -np.logspace(-12, 300, 60), [0.0], np.logspace(-12, 300, 60),  # extreme arguments, both signs
    np.linspace(-8.0, 8.0, 161),
])


def _reference(expr, beta_value):
    fn = sp.lambdify((z, beta), expr, modules="mpmath")
    with mpmath.workdps(60):
        return np.array([float(fn(mpmath.mpf(float(v)), mpmath.mpf(beta_value))) for v in GRID])


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("beta_value", BETAS)
def test_torch_surrogate_equals_sympy(name, beta_value):
    expr = surrogate_expr(name)
    x = torch.tensor(GRID, dtype=torch.float64, requires_grad=True)
    values = spike_function(name, beta_value, "surrogate")(x)
    (grad,) = torch.autograd.grad(values.sum(), x)
    expected = _reference(expr, beta_value)
    expected_grad = _reference(sp.diff(expr, z), beta_value)
    np.testing.assert_allclose(values.detach().numpy(), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grad.numpy(), expected_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_contract(name):
    """A2: values in [0, 1], nondecreasing, phi(0) = 1/2 (the P1 subtract-reset offset relies on it)."""
    x = torch.tensor(np.sort(GRID), dtype=torch.float64)
    values = spike_function(name, 3.0, "surrogate")(x)
    assert bool(((values >= 0) & (values <= 1)).all())
    assert bool((values[1:] >= values[:-1]).all())
    assert sp.simplify(surrogate_expr(name).subs(z, 0)) == sp.Rational(1, 2)


def test_hard_spike_is_the_strict_step():
    x = torch.tensor([-1.0, -1e-300, 0.0, 1e-300, 2.0], dtype=torch.float64)
    assert hard_spike(x).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
