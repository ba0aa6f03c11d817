"""Outward-rounded interval arithmetic (sast_theory.rigorous): every enclosure contains the exact value (mpmath,
60 digits), over the whole float range, subnormals and overflow included."""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_theory import rigorous as rg
from sast_theory.calculus import _phi_derivative
from sast_theory.rigorous import Iv
from sast_theory.surrogates import beta, z

finite = st.floats(allow_nan=False, allow_infinity=False)


def _inside(value: mpmath.mpf, lo: float, hi: float) -> bool:
    return mpmath.mpf(lo) <= value <= mpmath.mpf(hi)


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(st.floats(-800, 800), st.floats(-1e-3, 1e-3), finite))
def test_exp_encloses(x: float) -> None:
    enc = rg.exp(Iv.point(np.array([x])))
    with mpmath.workdps(60):
        assert _inside(mpmath.exp(mpmath.mpf(x)), enc.lo[0], enc.hi[0]), x
    if -700 < x < 700:
        assert enc.hi[0] - enc.lo[0] <= 1e-13 * enc.hi[0]


@settings(max_examples=300, deadline=None)
@given(x=st.one_of(finite, st.floats(-2, 2)))
def test_atan_encloses(x: float) -> None:
    enc = rg.atan(Iv.point(np.array([x])))
    with mpmath.workdps(60):
        assert _inside(mpmath.atan(mpmath.mpf(x)), enc.lo[0], enc.hi[0]), x
    assert enc.hi[0] - enc.lo[0] <= 1e-14


@settings(max_examples=200, deadline=None)
@given(a=finite, b=finite, c=finite, d=finite)
def test_arithmetic_encloses(a: float, b: float, c: float, d: float) -> None:
    x, y = Iv.hull(np.array([min(a, b)]), np.array([max(a, b)])), Iv.hull(np.array([min(c, d)]), np.array([max(c, d)]))
    with mpmath.workdps(700):  # enough digits for products and sums of any two floats
        ends_x, ends_y = [mpmath.mpf(v) for v in (x.lo[0], x.hi[0])], [mpmath.mpf(v) for v in (y.lo[0], y.hi[0])]
        for op, values in (
            (x + y, [p + q for p in ends_x for q in ends_y]),
            (x - y, [p - q for p in ends_x for q in ends_y]),
            (x * y, [p * q for p in ends_x for q in ends_y]),
        ):
            for value in values:
                assert _inside(value, op.lo[0], op.hi[0])
        if y.lo[0] > 0 or y.hi[0] < 0:
            quotient = x / y
            for value in (p / q for p in ends_x for q in ends_y):
                assert _inside(value, quotient.lo[0], quotient.hi[0])


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(("sigmoid", "arctan")),
    order=st.integers(0, 4),
    b=st.floats(1e-3, 50.0),
    w=st.one_of(st.floats(-60, 60), st.floats(-1e-9, 1e-9)),
)
def test_surrogate_derivatives_are_enclosed(name: str, order: int, b: float, w: float) -> None:
    """Including the closed forms' cancellation near their roots (w tiny)."""
    expr = _phi_derivative(name, order)
    enc = rg.evaluate(expr, {z: Iv.point(np.array([w / b])), beta: Iv.point(np.array([b]))})
    with mpmath.workdps(60):
        exact = sp.N(expr.subs({z: sp.Float(w / b, 60), beta: sp.Float(b, 60)}), 50)
        assert _inside(mpmath.mpf(str(exact)), enc.lo[0], enc.hi[0]), (name, order, b, w)
