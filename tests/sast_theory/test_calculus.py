"""Surrogate calculus: sympy-derived M1, M2; certified kappa1, kappa2 against dense sampling; P1 and A4."""

from __future__ import annotations

import math
import time

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from sast_core.errors import InputError
from sast_theory import calculus
from sast_theory.surrogates import RESETS, SURROGATES, beta, reset_expr, surrogate_expr, theta, u, z

INF = math.inf


def test_sigmoid_bounds_come_out_of_sympy() -> None:
    m1, m2 = calculus.derivative_bounds_expr("sigmoid")
    assert sp.simplify(m1 - beta / 4) == 0
    assert sp.simplify(m2 - beta**2 / (6 * sp.sqrt(3))) == 0
    assert calculus.derivative_bounds("sigmoid", 3.0) == pytest.approx((0.75, 9 / (6 * math.sqrt(3))), rel=1e-15)


def test_arctan_bounds_symbolic() -> None:
    m1, m2 = calculus.derivative_bounds_expr("arctan")
    assert sp.simplify(m1 - beta / 2) == 0
    assert sp.simplify(m2 - 3 * sp.sqrt(3) * sp.pi * beta**2 / 32) == 0


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_derivative_bounds_against_dense_sampling(name: str, order: int) -> None:
    fn = sp.lambdify((z, beta), sp.diff(surrogate_expr(name), z, order), "numpy")
    for b in (0.5, 2.0, 7.0):
        zs = np.linspace(-10 / b, 10 / b, 100_001)  # every critical point lies within 3 / beta
        sampled = np.max(np.abs(fn(zs, b)))
        bound = float(calculus.derivative_bound_expr(name, order).subs(beta, b))
        assert sampled <= bound * (1 + 1e-12)
        assert bound <= sampled * (1 + 1e-6)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("reset", RESETS)
def test_reset_structure_is_sympys_derivative(name: str, reset: str) -> None:
    for order in range(1, 5):
        const, coefs = calculus.reset_derivative_structure(reset, name, order)
        rebuilt = const + sum(c * sp.diff(surrogate_expr(name), z, j).subs(z, u - theta) for j, c in coefs.items())
        direct = sp.diff(reset_expr(reset, name), u, order)
        gap = sp.lambdify((u, theta, beta), rebuilt - direct, "math")
        for point in [(-1.3, 0.7, 2.0), (0.4, 1.0, 5.0), (2.2, 0.3, 0.8)]:
            assert abs(gap(*point)) < 1e-12


def _sampled_sup(name: str, reset: str, order: int, b: float, th: float, lo: float, hi: float) -> float:
    """Dense sampling of |r^(order)| refined by a local optimizer: a LOWER bound of the true supremum."""
    fn = sp.lambdify((u, theta, beta), sp.diff(reset_expr(reset, name), u, order), "numpy")
    us = np.linspace(lo, hi, 200_001)
    with np.errstate(over="ignore", invalid="ignore"):  # exp overflow far from theta: the value is ~0 there
        vals = np.nan_to_num(np.abs(fn(us, th, b)))
    best = float(np.max(vals))
    for i in np.argsort(vals)[-5:]:
        left, right = us[max(i - 1, 0)], us[min(i + 1, us.size - 1)]
        if right > left:
            res = minimize_scalar(
                lambda x: -abs(fn(x, th, b)), bounds=(left, right), method="bounded", options={"xatol": 1e-13}
            )
            best = max(best, -float(res.fun))
    return best


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(SURROGATES),
    reset=st.sampled_from(("zero", "subtract")),
    b=st.floats(0.3, 12.0),
    th=st.floats(0.0, 3.0),
    lo=st.floats(-20.0, 5.0),
    width=st.floats(0.01, 30.0),
)
def test_kappa_is_certified_and_tight(name: str, reset: str, b: float, th: float, lo: float, width: float) -> None:
    hi = lo + width
    kappa = calculus.reset_slope_bounds(name, b, th, reset, lo, hi)
    for order, value in zip((1, 2), kappa, strict=True):
        sampled = _sampled_sup(name, reset, order, b, th, lo, hi)
        assert sampled <= value, (order, sampled, value)
        assert value <= sampled * (1 + 1e-9) + 1e-14, (order, sampled, value)  # + rounding margin 8 eps T


@pytest.mark.parametrize(("b", "expected"), [(1.0, 1.04), (4.0, 1.002), (8.0, 1.62), (10.0, 2.10)])
def test_zero_reset_kappa_over_the_real_line(b: float, expected: float) -> None:
    kappa1, _ = calculus.reset_slope_bounds("sigmoid", b, 1.0, "zero", -INF, INF)
    assert kappa1 == pytest.approx(expected, abs=6e-3)
    sampled = _sampled_sup("sigmoid", "zero", 1, b, 1.0, -60.0, 60.0)
    assert sampled <= kappa1 <= sampled * (1 + 1e-9)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("reset", ("zero", "subtract"))
def test_half_infinite_intervals_contain_the_finite_ones(name: str, reset: str) -> None:
    full = calculus.reset_slope_bounds(name, 3.0, 1.0, reset, -INF, INF)
    left = calculus.reset_slope_bounds(name, 3.0, 1.0, reset, -INF, 0.5)
    right = calculus.reset_slope_bounds(name, 3.0, 1.0, reset, 0.5, INF)
    finite = calculus.reset_slope_bounds(name, 3.0, 1.0, reset, -50.0, 50.0)
    for k in range(2):
        assert max(left[k], right[k]) == pytest.approx(full[k], rel=1e-12)
        assert finite[k] <= full[k] * (1 + 1e-12)
    if reset == "subtract":  # r' = 1 - theta phi' <= 1 with limit 1 at +-inf
        assert full[0] == pytest.approx(max(1.0, 1.0 * calculus.derivative_bounds(name, 3.0)[0] - 1), rel=1e-14)
        assert full[1] == pytest.approx(calculus.derivative_bounds(name, 3.0)[1], rel=1e-12)


def test_reset_none_and_far_intervals() -> None:
    assert calculus.reset_slope_bounds("sigmoid", 5.0, 1.0, "none", -INF, INF) == (1.0, 0.0)
    far = calculus.reset_slope_bounds("sigmoid", 5.0, 1.0, "zero", 1e3, 1e12)  # where exp overflows
    assert 0.0 <= far[0] < 1e-14 and 0.0 <= far[1] < 1e-14  # true values ~e^-5000; 8 eps rounding margin
    assert calculus.reset_slope_bounds("sigmoid", 5.0, 1.0, "zero", -1e12, -1e3)[0] == pytest.approx(1.0, rel=1e-14)


def test_kappa_is_fast_after_the_first_call() -> None:
    """< 50 ms of CPU per call (process time: the shared test machine's load does not count); 3-7 ms before the
    rigorous certification pass (docs/theory.md sec. 2)."""
    calculus.reset_slope_bounds("sigmoid", 4.0, 1.0, "zero", -3.0, 3.0)
    best = INF
    for _ in range(3):
        start = time.process_time()
        for i in range(10):
            calculus.reset_slope_bounds("sigmoid", 4.0, 1.0, "zero", -3.0 - i, 3.0 + 10.0**i)
        best = min(best, (time.process_time() - start) / 10)
    assert best < 0.05


def test_state_bound_and_contraction() -> None:
    assert calculus.state_bound(0.5, 3.0, 0.5) == pytest.approx((3.0 + 0.25) / 0.5)
    assert calculus.contraction_factor("sigmoid", 4.0, 1.0, "none", 0.7, 2.0) == pytest.approx(0.7)
    bound = calculus.state_bound(0.9, 2.0, 0.5)
    expected = 0.9 * calculus.reset_slope_bounds("sigmoid", 4.0, 1.0, "subtract", -bound, bound)[0]
    assert calculus.contraction_factor("sigmoid", 4.0, 1.0, "subtract", 0.9, 2.0) == expected


@pytest.mark.parametrize(
    ("name", "reset", "b"),
    [
        ("sigmoid", "zero", 8.0),
        ("arctan", "subtract", 2.0),
        ("sigmoid", "zero", 1.0),
        ("sigmoid", "none", 3.0),
    ],
)
def test_largest_feasible_taubar_is_the_boundary(name: str, reset: str, b: float) -> None:
    best = calculus.largest_feasible_taubar(name, b, 1.0, reset, 2.0)
    assert 0.0 < best < 1.0
    assert calculus.contraction_factor(name, b, 1.0, reset, best, 2.0) < 1.0
    above = np.nextafter(np.nextafter(best, 1.0), 1.0)
    if above < 1.0:
        assert calculus.contraction_factor(name, b, 1.0, reset, float(above), 2.0) >= 1.0
    taus = np.linspace(0.0, best, 7)
    rhos = [calculus.contraction_factor(name, b, 1.0, reset, float(t), 2.0) for t in taus]
    assert all(x <= y for x, y in zip(rhos, rhos[1:], strict=False))


@pytest.mark.parametrize(
    "call",
    [
        lambda: calculus.derivative_bounds("sigmoid", 0.0),
        lambda: calculus.derivative_bounds("sigmoid", float("nan")),
        lambda: calculus.derivative_bounds("nope", 1.0),
        lambda: calculus.reset_slope_bounds("sigmoid", 1.0, 1.0, "bogus", 0.0, 1.0),
        lambda: calculus.reset_slope_bounds("sigmoid", 1.0, 1.0, "zero", 2.0, 1.0),
        lambda: calculus.reset_slope_bounds("sigmoid", 1.0, -1.0, "zero", 0.0, 1.0),
        lambda: calculus.state_bound(1.0, 1.0, 0.0),
        lambda: calculus.state_bound(0.5, -1.0, 0.0),
    ],
)
def test_bad_input_is_an_input_error(call) -> None:
    with pytest.raises(InputError):
        call()


def _exact_subtract_kappa2(name: str, b: float, th: float, lo: float, hi: float, points: int = 41) -> mpmath.mpf:
    """max |r''| = theta |phi''(u - theta)| over `points` nodes of [lo, hi] including both ends, in 50-digit
    arithmetic (a LOWER bound of the supremum, exact at the nodes)."""
    with mpmath.workdps(50):
        beta_, theta_ = mpmath.mpf(b), mpmath.mpf(th)
        if name == "sigmoid":
            def phi(w):
                return 1 / (1 + mpmath.exp(-beta_ * w))
        else:
            def phi(w):
                return mpmath.mpf(1) / 2 + mpmath.atan(mpmath.pi / 2 * beta_ * w) / mpmath.pi
        best = mpmath.mpf(0)
        for k in range(points):
            node = mpmath.mpf(lo) + (mpmath.mpf(hi) - mpmath.mpf(lo)) * k / (points - 1)
            best = max(best, abs(theta_ * mpmath.diff(phi, node - theta_, 2)))
        return best


@pytest.mark.parametrize(
    ("b", "th", "lo", "hi"),
    [
        (0.0035139704686856063, 2.8553915351257206, 2.8553915351255066, 2.8553915351258334),  # was 0.59 x exact
        (0.01, 1.0, 1.0 - 1e-11, 1.0 + 1e-11),
    ],
)
def test_kappa_is_certified_under_cancellation(b: float, th: float, lo: float, hi: float) -> None:
    """phi'' = beta^2 e (e - 1) / (1 + e)^3 (e = exp(-beta z)) cancels for |beta z| ~ 1e-13: the float value has no
    correct digit, so only a rigorous enclosure certifies (regression: issue 10, defect 3)."""
    kappa2 = calculus.reset_slope_bounds("sigmoid", b, th, "subtract", lo, hi)[1]
    exact = _exact_subtract_kappa2("sigmoid", b, th, lo, hi)
    assert mpmath.mpf(kappa2) >= exact, (kappa2, exact)
    # the enclosure's width is the closed form's true uncertainty: a few hundred ulps of the terms' scale theta beta^2
    assert kappa2 <= exact + 1e-13 * th * b**2, (kappa2, exact)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("th", [2e-304, 1e-200, 5e-324])
def test_kappa_is_certified_for_tiny_thresholds(name: str, th: float) -> None:
    """kappa2 = theta sup|phi''| underflows toward the subnormal range (regression: issue 10, defect 3)."""
    kappa2 = calculus.reset_slope_bounds(name, 1.0, th, "subtract", -1.0, 1.0)[1]
    exact = _exact_subtract_kappa2(name, 1.0, th, -1.0, 1.0)
    assert mpmath.mpf(kappa2) >= exact, (kappa2, exact)
