"""Rigorous enclosures of the surrogate's derivatives phi^(j) and of the reset map's derivatives
g(u) = c + sum_j (a_j + b_j u) phi^(j)(u - theta) (calculus.reset_derivative_structure), at float points and
over cells, in outward-rounded interval arithmetic (rigorous.py). Used by the certified kappa (calculus.py)
and by the local slope tables (local/slopes.py).

Far field: where the closed form of phi^(j) overflows (only for |beta z| >= 100, checked), its value lies
between phi^(j)(+-far 2^k) and its limit L_j for every far 2^k <= |z| (far = 100 / beta lies beyond every
critical point, where phi^(j) is monotone: docs/theory.md sec. 2, Lemma 2); the largest such k whose closed
form is finite is used.
Critical points: each real root c of phi^(j+1) (sympy, closed form) is enclosed by C = [c~ - delta, c~ + delta]
around its float value c~, proven by a strict sign change of the enclosed phi^(j+1) at the two ends of C; the
peak |phi^(j)(c)| is bounded by the enclosure of phi^(j) over C (or by the global M_j where no proof was found).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import rigorous as rg
from .rigorous import Iv

FAR = 100.0  # |beta z| beyond which an overflowing closed form is replaced by its monotone tail enclosure


@dataclass(frozen=True)
class Peak:
    lo: float  # the critical point lies in [lo, hi]
    hi: float
    value: float  # upper bound of |phi^(j)| at the critical point


class PhiEnclosure:
    """Enclosures of phi^(j)(z, beta), j = 0..len(exprs) - 1, for one value of beta; `critical` and
    `sup_constants` cover the orders 0..len(exprs) - 2 (the last expression only proves critical points)."""

    def __init__(
        self,
        exprs: tuple[sp.Expr, ...],
        critical: tuple[tuple[sp.Expr, ...], ...],
        sup_constants: tuple[sp.Expr, ...],
        limits: tuple[tuple[float, float], ...],
        z: sp.Symbol,
        beta: sp.Symbol,
        beta_value: float,
    ) -> None:
        self.exprs, self.z, self.beta_symbol, self.beta = exprs, z, beta, float(beta_value)
        self.limits = limits
        self.orders = len(exprs)
        crit_values = [[float(value) for value in sp.lambdify(beta, list(crits), "math")(self.beta)]
                       for crits in critical]
        self.far = FAR / self.beta
        if any(abs(c) >= self.far / 2 for crits in crit_values for c in crits):
            raise NotImplementedError("a critical point of the surrogate lies beyond the far-field radius")
        self.far_enclosures = self._far_field(limits)
        self.peaks = [self._peaks(j, crit_values[j], sup_constants[j]) for j in range(len(critical))]

    def _far_field(self, limits: tuple[tuple[float, float], ...]) -> list[tuple[list[Iv], list[Iv]]]:
        """Per order and side, enclosures of phi^(j) beyond +-far 2^k (k = 0, 1, ...: as long as the closed form
        stays finite at +-far 2^k): the hull of the limit and the value at +-far 2^k (monotone tail)."""
        out = []
        for j, lim in enumerate(limits):
            sides = []
            for sign, limit in ((-1.0, lim[0]), (1.0, lim[1])):
                points = sign * self.far * 2.0 ** np.arange(64)
                values = self._raw(Iv.point(points), (j,))[j]
                count = int(np.argmin(values.finite())) if not values.finite().all() else 64
                if count == 0:
                    raise ArithmeticError("surrogate derivative not finite at the far-field radius")
                sides.append(Iv(np.minimum(values.lo[:count], limit), np.maximum(values.hi[:count], limit)))
            out.append(tuple(sides))
        return out

    def _raw(self, z: Iv, orders: tuple[int, ...]) -> dict[int, Iv]:
        env = {self.z: z, self.beta_symbol: Iv.point(np.full(np.shape(z.lo), self.beta))}
        cache: dict = {}
        return {j: rg.evaluate(self.exprs[j], env, cache) for j in orders}

    def at(self, z: Iv, orders: tuple[int, ...] | None = None) -> dict[int, Iv]:
        """Enclosures of phi^(j) over each interval of z for the given orders (default all; far field replaced)."""
        out = {}
        for j, enc in self._raw(z, tuple(range(self.orders)) if orders is None else orders).items():
            bad = ~enc.finite()
            if bad.any():
                left, right = z.hi <= -self.far, z.lo >= self.far
                if np.any(bad & ~(left | right)):
                    raise ArithmeticError("surrogate derivative not finite inside its representable range")
                lo, hi = enc.lo, enc.hi
                for side, mask, near in ((0, bad & left, -z.hi), (1, bad & right, z.lo)):
                    tail = self.far_enclosures[j][side]
                    with np.errstate(divide="ignore"):
                        k = np.floor(np.log2(np.maximum(near, self.far) / self.far)).astype(np.int64)
                    k = np.clip(k, 0, tail.lo.size - 1)  # |z| >= far 2^k: phi^(j)(z) between the limit and there
                    lo, hi = np.where(mask, tail.lo[k], lo), np.where(mask, tail.hi[k], hi)
                enc = Iv(lo, hi)
            out[j] = enc
        return out

    def _peaks(self, j: int, crits: list[float], sup_constant: sp.Expr) -> list[Peak]:
        peaks = []
        for c in crits:
            peak = None
            if j + 1 < self.orders:
                for scale in (1e-9, 1e-6, 1e-3):
                    delta = scale * (abs(c) + 1.0 / self.beta)
                    ends = self.at(Iv.point(np.array([c - delta, c + delta])), (j + 1,))[j + 1]
                    if (ends.hi[0] < 0 < ends.lo[1]) or (ends.lo[0] > 0 > ends.hi[1]):
                        over = self.at(Iv(np.array([c - delta]), np.array([c + delta])), (j,))[j]
                        peak = Peak(c - delta, c + delta, float(over.abs_hi()[0]))
                        break
            if peak is None:  # no proof of the root's position: the global sup M_j, anywhere near c
                bound = rg.const(str(sup_constant)) * Iv.point(np.array(self.beta)).power(j)
                peak = Peak(-np.inf, np.inf, float(bound.abs_hi()))
            peaks.append(peak)
        return peaks

    def cell_sup(self, j: int, at_a: Iv, at_b: Iv, za: np.ndarray, zb: np.ndarray) -> np.ndarray:
        """Upper bound of sup |phi^(j)| on each [za, zb], given enclosures of phi^(j) at za and at zb."""
        sup = np.maximum(at_a.abs_hi(), at_b.abs_hi())
        for peak in self.peaks[j]:
            sup = np.where((peak.hi >= za) & (peak.lo <= zb), np.maximum(sup, peak.value), sup)
        return sup


class LinearEnclosure:
    """g(u) = c + sum_j (a_j + b_j u) phi^(j)(u - theta) with theta fixed: enclosures at nodes and on cells."""

    def __init__(self, const: sp.Expr, terms: tuple[tuple[int, sp.Expr, sp.Expr], ...], theta: sp.Symbol,
                 theta_value: float) -> None:
        env = {theta: Iv.point(np.array(float(theta_value)))}
        self.const = rg.evaluate(sp.sympify(const), env)
        self.terms = tuple((j, rg.evaluate(sp.sympify(a), env), rg.evaluate(sp.sympify(b), env)) for j, a, b in terms)

    def coefficient(self, a: Iv, b: Iv, us: np.ndarray) -> Iv:
        return a + b * Iv.point(us)

    def orders(self) -> tuple[int, ...]:
        return tuple(j for j, _, _ in self.terms)

    def at(self, us: np.ndarray, phis: dict[int, Iv]) -> Iv:
        """Enclosure of g at the float points us; phis[j] encloses phi^(j)(us - theta)."""
        out = Iv(np.full(us.shape, self.const.lo), np.full(us.shape, self.const.hi))
        for j, a, b in self.terms:
            out = out + self.coefficient(a, b, us) * phis[j]
        return out

    def cell_abs(self, a: np.ndarray, b: np.ndarray, sups: dict[int, np.ndarray]) -> np.ndarray:
        """Upper bound of |g| on each cell [a, b]: |c| + sum_j max |a_j + b_j u| at the ends * sup |phi^(j)|."""
        out = np.full(a.shape, self.const.abs_hi())
        for j, ca, cb in self.terms:
            coef = np.maximum(self.coefficient(ca, cb, a).abs_hi(), self.coefficient(ca, cb, b).abs_hi())
            out = rg.up(out + rg.up(coef * sups[j]))
        return out
