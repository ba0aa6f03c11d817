"""check_convergence's machinery: the rate fit recovers known slopes, and SAST (the toolkit's SAM with an
independent second minibatch) on a convex quadratic with exact gradients stays under P5's right side."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sast_theory.theorems import sast_convergence_bound
from verification.check_convergence import Run, fit_rate, run_sast


@pytest.mark.parametrize("slope", [-0.5, -1.0, -0.25, 0.0])
def test_fit_recovers_a_known_slope(slope) -> None:
    rng = np.random.default_rng(0)
    horizons = np.array([8, 16, 32, 64, 128, 256])
    values = 3.0 * horizons**slope * np.exp(rng.normal(scale=0.02, size=horizons.size))
    fit = fit_rate(horizons, values)
    assert abs(fit.slope - slope) < 0.03 and fit.low <= slope <= fit.high and fit.low < fit.slope < fit.high
    exact = fit_rate(horizons, 3.0 * horizons**slope)
    assert abs(exact.slope - slope) < 1e-12 and exact.high - exact.low < 1e-9


def test_fit_needs_three_points() -> None:
    assert fit_rate(np.array([8, 16]), np.array([1.0, 0.5])) is None


class Quadratic:
    """F(theta) = (1/n) sum_i 1/2 (theta - c_i)^T A (theta - c_i): L = lambda_max(A), per-sample gradients
    A (theta - c_i), so the one-sample gradient variance is (1/n) sum ||A (c_i - c_bar)||^2 at every theta."""

    def __init__(self, dim: int, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        q = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
        self.a = torch.tensor(q @ np.diag(rng.uniform(0.1, 2.0, size=dim)) @ q.T)
        self.c = torch.tensor(rng.normal(size=(n, dim)))
        self.theta = torch.nn.Parameter(torch.tensor(rng.normal(size=dim) * 3))
        self.params = [self.theta]
        self.start = [self.theta.detach().clone()]
        self.size = n
        centred = self.c - self.c.mean(0)
        self.smoothness = float(torch.linalg.eigvalsh(self.a).max())
        self.variance = float(((centred @ self.a) ** 2).sum(1).mean())
        self.minimum = float(0.5 * torch.einsum("ni,ij,nj->n", centred, self.a, centred).mean())

    def loss(self, index: torch.Tensor | None = None) -> torch.Tensor:
        c = self.c if index is None else self.c[index]
        diff = self.theta[None, :] - c
        return 0.5 * torch.einsum("ni,ij,nj->n", diff, self.a, diff).mean()

    def full(self) -> tuple[float, float]:
        loss = self.loss()
        (grad,) = torch.autograd.grad(loss, self.params)
        return float(loss.detach()), float((grad * grad).sum())

    def restart(self) -> None:
        with torch.no_grad():
            self.theta.copy_(self.start[0])

    def distance(self) -> float:
        return float((self.theta.detach() - self.start[0]).norm())


@pytest.mark.parametrize("rho", [0.0, 0.05, 0.3])
def test_sast_on_a_quadratic_stays_under_p5(rho) -> None:
    """The mean over seeds (an estimate of the expectation P5 bounds) of the running average, for every K."""
    problem = Quadratic(dim=6, n=12, seed=1)
    batch, steps, seeds = 3, 120, 24
    eta = 1 / (4 * problem.smoothness)
    gap0 = problem.full()[0] - problem.minimum
    runs = [run_sast(problem, Run("q", steps, eta, rho, False, "sgd", seed), batch, 1) for seed in range(seeds)]
    mean = np.mean([run.running_average() for run in runs], axis=0)
    bound = np.array([sast_convergence_bound(problem.smoothness, eta, k, gap0, problem.variance / batch, rho)
                      for k in range(1, steps + 1)])
    assert np.all(mean <= bound), float((mean / bound).max())
    problem.restart()  # every run starts at theta_0 and logs ||grad F(theta_0)||^2 first
    assert all(math.isclose(run.grad_sq[0], problem.full()[1], rel_tol=1e-12) for run in runs)
    assert problem.distance() == 0.0  # run_sast leaves the parameters where they started
