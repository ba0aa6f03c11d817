"""Outward-rounded interval arithmetic on float64 numpy arrays: enclosures that contain the exact real result.

Every IEEE-754 operation +, -, *, / and sqrt returns the exact result rounded to nearest, so the exact result
lies in [nextafter(r, -inf), nextafter(r, +inf)] (also for subnormal and overflowing results); each operation
here widens its result that way. exp and atan are not taken from libm (whose error is not specified): exp
uses x = k ln2 + r, |r| <= 0.36, a degree-20 Taylor polynomial of exp(r) (Horner, with its proven rounding
error) plus the Lagrange remainder |r|^21 / 21! e^|r| < 2e-28, and an exact power-of-two scaling; atan uses
atan(x) = sign(x) pi/2 - atan(1/x) for |x| > 1, two halvings atan(x) = 2 atan(x / (1 + sqrt(1 + x^2))) and the
alternating Taylor series (remainder below its first omitted term). Constants (ln 2, pi, 1/n!, rationals) are
enclosed from 40-digit values (sympy's evalf). `evaluate` encloses a sympy expression built from +, *, integer
powers, sqrt, exp, atan and numbers; docs/theory.md sec. 2.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

_INF = np.inf
_TINY = np.nextafter(0.0, 1.0)
_MAXF = np.finfo(float).max


_QUIET = {"over": "ignore", "under": "ignore", "invalid": "ignore", "divide": "ignore"}  # inf and 0 are valid ends


def down(x: np.ndarray) -> np.ndarray:
    with np.errstate(**_QUIET):
        return np.nextafter(x, -_INF)


def up(x: np.ndarray) -> np.ndarray:
    with np.errstate(**_QUIET):
        return np.nextafter(x, _INF)


@dataclass(frozen=True)
class Iv:
    """The real intervals [lo_i, hi_i] (elementwise); lo <= hi, a NaN end means 'no information'."""

    lo: np.ndarray
    hi: np.ndarray

    @staticmethod
    def point(x: np.ndarray | float) -> Iv:
        """The exact float values x (degenerate intervals)."""
        x = np.asarray(x, dtype=float)
        return Iv(x, x)

    @staticmethod
    def hull(lo: np.ndarray, hi: np.ndarray) -> Iv:
        return Iv(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))

    def __add__(self, other: Iv) -> Iv:
        with np.errstate(**_QUIET):
            return Iv(down(self.lo + other.lo), up(self.hi + other.hi))

    def __neg__(self) -> Iv:
        return Iv(-self.hi, -self.lo)

    def __sub__(self, other: Iv) -> Iv:
        return self + (-other)

    def __mul__(self, other: Iv) -> Iv:
        with np.errstate(**_QUIET):
            p1, p2, p3, p4 = self.lo * other.lo, self.lo * other.hi, self.hi * other.lo, self.hi * other.hi
            lo = np.minimum(np.minimum(p1, p2), np.minimum(p3, p4))  # NaN (0 * inf) propagates
            hi = np.maximum(np.maximum(p1, p2), np.maximum(p3, p4))
            lo, hi = down(lo), up(hi)
            if np.isnan(lo + hi).any():  # 0 * inf: no information
                lo, hi = np.where(np.isnan(lo), -_INF, lo), np.where(np.isnan(hi), _INF, hi)
        return Iv(lo, hi)

    def reciprocal(self) -> Iv:
        """1 / x; the whole line where the interval touches 0."""
        with np.errstate(**_QUIET):
            lo, hi = down(1.0 / self.hi), up(1.0 / self.lo)
        straddles = (self.lo <= 0) & (self.hi >= 0)
        return Iv(np.where(straddles, -_INF, lo), np.where(straddles, _INF, hi))

    def __truediv__(self, other: Iv) -> Iv:
        return self * other.reciprocal()

    def abs_hi(self) -> np.ndarray:
        """An upper bound of |x| over the interval."""
        return np.maximum(np.abs(self.lo), np.abs(self.hi))

    def finite(self) -> np.ndarray:
        return np.isfinite(self.lo) & np.isfinite(self.hi)

    def power(self, n: int) -> Iv:
        """x^n for an integer n >= 0, exact on each sign (x^n is monotone in |x|), so no dependency loss."""
        if n == 0:
            return Iv.point(np.ones(np.shape(self.lo)))
        if n % 2:  # odd: increasing, so the powers of the two ends
            lo, hi = Iv.point(self.lo), Iv.point(self.hi)
            low, high = lo, hi
            for _ in range(n - 1):
                low, high = low * lo, high * hi
            return Iv(low.lo, high.hi)
        straddles = (self.lo <= 0) & (self.hi >= 0)
        mag = Iv(np.where(straddles, 0.0, np.minimum(np.abs(self.lo), np.abs(self.hi))), self.abs_hi())
        out = mag
        for _ in range(n - 1):
            out = out * mag
        return Iv(np.maximum(out.lo, 0.0), out.hi)

    def sqrt(self) -> Iv:
        with np.errstate(invalid="ignore"):
            lo = np.maximum(down(np.sqrt(np.maximum(self.lo, 0.0))), 0.0)
            hi = up(np.sqrt(self.hi))
        return Iv(lo, np.where(self.hi < 0, np.nan, hi))


@functools.cache
def constant(text: str) -> tuple[float, float]:
    """Floats [lo, hi] enclosing the real constant `text` (sympy syntax: "log(2)", "1/6", "pi/2").

    The 40-digit value rounds to a float within one ulp of the constant; one step outward on each side.
    """
    near = float(sp.N(sp.sympify(text), 40))
    return float(np.nextafter(near, -_INF)), float(np.nextafter(near, _INF))


@functools.cache
def _number(expr: sp.Expr) -> tuple[float, float]:
    if expr.is_Integer and abs(int(expr)) < 2**53:
        return float(int(expr)), float(int(expr))
    return constant(str(expr))


def const(value: str, shape: tuple[int, ...] = ()) -> Iv:
    lo, hi = constant(value)
    return Iv(np.full(shape, lo), np.full(shape, hi))


_EXP_DEGREE = 20
_EXP_REMAINDER = 2e-28  # >= 0.36^21 / 21! * e^0.36 (Lagrange remainder of the Taylor polynomial)
_HORNER_ERROR = 7e-15  # >= gamma_40 e^0.36 (Higham, eq. 5.3: Horner's rounding error, positive coefficients)
_ATAN_TERMS = 24
_LN2_HEAD = math.floor(math.log(2.0) * 2**32) / 2**32
_LN2_HEAD_EXACT = f"{math.floor(math.log(2.0) * 2**32)}/{2**32}"
_INV_FACTORIALS = tuple(1.0 / math.factorial(n) for n in range(_EXP_DEGREE + 1))


def _horner(r: np.ndarray) -> np.ndarray:
    out = np.full(r.shape, _INV_FACTORIALS[-1])
    for c in reversed(_INV_FACTORIALS[:-1]):
        out = out * r + c
    return out


def exp_point(x: np.ndarray) -> Iv:
    """Enclosure of exp(x) at the floats x: x = k ln2 + r, r enclosed, the Taylor polynomial of exp at both
    ends of r in float Horner form with its proven rounding error (the float coefficients 1/n! carry a
    relative error <= u each, inside gamma_40) and truncation remainder, then the exact scaling by 2^k."""
    x = np.asarray(x, dtype=float)
    big, small = x > 709.0, x < -744.0
    safe = np.where(big | small | ~np.isfinite(x), 0.0, x)
    k = np.rint(safe / math.log(2.0))
    # Cody-Waite: ln2 = L1 + L2 with L1 of 32 bits, so k L1 (|k| < 1100) and x - k L1 are exact floats
    r = Iv.point(safe) - Iv.point(k * _LN2_HEAD) - Iv.point(k) * const(f"log(2) - {_LN2_HEAD_EXACT}", safe.shape)
    slack = _HORNER_ERROR + _EXP_REMAINDER
    low, high = down(_horner(r.lo) - slack), up(_horner(r.hi) + slack)
    ki = k.astype(np.int64)
    with np.errstate(over="ignore", under="ignore"):
        lo = np.maximum(down(np.ldexp(low, ki)), 0.0)  # ldexp is exact unless it under/overflows
        hi = up(np.ldexp(high, ki))
    lo = np.where(np.isinf(lo), _MAXF, lo)
    lo, hi = np.where(big, 8e307, lo), np.where(big, _INF, hi)  # exp(709) > 8.2e307
    lo, hi = np.where(small, 0.0, lo), np.where(small, _TINY * 4, hi)  # exp(-744) < 2 TINY
    return Iv(lo, hi)


def exp(x: Iv) -> Iv:
    """exp over each interval (increasing: the ends' enclosures)."""
    lo, hi = np.asarray(x.lo, dtype=float), np.asarray(x.hi, dtype=float)
    if np.array_equal(lo, hi):
        return exp_point(lo)
    both = exp_point(np.stack([lo, hi]))
    return Iv(both.lo[0], both.hi[1])


@functools.cache
def _atan_coefficients() -> tuple[tuple[float, float], ...]:
    return tuple(constant(f"{(-1) ** n}/{2 * n + 1}") for n in range(_ATAN_TERMS))


def _atan_small(y: Iv) -> Iv:
    """atan on |y| <= 0.21 (alternating series; remainder <= |y|^(2N+1) / (2N+1) < 1e-30)."""
    y2 = y * y
    coefs = _atan_coefficients()
    shape = np.shape(y.lo)
    poly = Iv(np.full(shape, coefs[-1][0]), np.full(shape, coefs[-1][1]))
    for lo, hi in reversed(coefs[:-1]):
        poly = poly * y2 + Iv(np.full(shape, lo), np.full(shape, hi))
    out = y * poly
    return Iv(out.lo - 1e-30, out.hi + 1e-30)


def _atan_point(x: np.ndarray) -> Iv:
    x = np.asarray(x, dtype=float)
    ax = np.abs(x)
    large = ax > 1.0
    ones = Iv.point(np.ones(x.shape))
    with np.errstate(divide="ignore"):
        core = Iv.point(np.where(large, 1.0 / np.where(large, ax, 1.0), ax))  # 1/|x| is rounded: enclose it
    core = Iv(np.where(large, down(core.lo), core.lo), np.where(large, up(core.hi), core.hi))
    core = Iv(np.clip(core.lo, 0.0, 1.0), np.clip(core.hi, 0.0, 1.0))
    for _ in range(2):  # atan(y) = 2 atan(y / (1 + sqrt(1 + y^2)))
        core = core / (ones + (ones + core * core).sqrt())
    small = _atan_small(core)
    four = Iv.point(np.full(x.shape, 4.0))
    value = four * small
    half_pi = const("pi/2", x.shape)
    value = Iv(np.where(large, (half_pi - value).lo, value.lo), np.where(large, (half_pi - value).hi, value.hi))
    negative = x < 0
    return Iv(np.where(negative, -value.hi, value.lo), np.where(negative, -value.lo, value.hi))


def atan(x: Iv) -> Iv:
    return Iv(_atan_point(x.lo).lo, _atan_point(x.hi).hi)


def evaluate(expr: sp.Expr, env: dict[sp.Symbol, Iv], cache: dict | None = None) -> Iv:
    """Enclosure of `expr` with each free symbol ranging over env[symbol] (each subexpression once)."""
    cache = {} if cache is None else cache
    if expr in cache:
        return cache[expr]
    shape = np.broadcast_shapes(*(np.shape(iv.lo) for iv in env.values())) if env else ()
    if expr.is_Symbol:
        result = env[expr]
    elif expr.is_Number or expr.is_NumberSymbol:
        lo, hi = _number(expr)
        result = Iv(np.full(shape, lo), np.full(shape, hi))
    elif expr.is_Add:
        parts = [evaluate(arg, env, cache) for arg in expr.args]
        result = functools.reduce(lambda a, b: a + b, parts)
    elif expr.is_Mul:
        parts = [evaluate(arg, env, cache) for arg in expr.args]
        result = functools.reduce(lambda a, b: a * b, parts)
    elif expr.is_Pow:
        base, power = expr.args
        inner = evaluate(base, env, cache)
        if power.is_Integer:
            n = int(power)
            result = inner.power(abs(n)) if n >= 0 else inner.power(-n).reciprocal()
        elif power == sp.Rational(1, 2):
            result = inner.sqrt()
        elif power == sp.Rational(-1, 2):
            result = inner.sqrt().reciprocal()
        else:
            raise NotImplementedError(f"interval power {power}")
    elif isinstance(expr, sp.exp):
        result = exp(evaluate(expr.args[0], env, cache))
    elif isinstance(expr, sp.atan):
        result = atan(evaluate(expr.args[0], env, cache))
    else:
        raise NotImplementedError(f"no interval enclosure for {expr.func}")
    result = Iv(np.broadcast_to(result.lo, shape) if shape else result.lo,
                np.broadcast_to(result.hi, shape) if shape else result.hi)
    cache[expr] = result
    return result
