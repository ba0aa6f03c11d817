"""Surrogate calculus: derivative bounds of phi, certified slopes of the reset map, contraction (A2, A4, P1).

* M_k = sup_z |phi^(k)(z)| is derived with sympy: the real critical points of phi^(k) (the real roots of
  phi^(k+1), from `solveset`) and the limits at +-inf are the only candidates; the largest is kept.
* kappa_k = sup_{u in [lo, hi]} |r^(k)(u)| (k = 1, 2) is computed by `_CertifiedSup`: sympy's derivative
  of `reset_expr` is written as c + sum_j (a_j + b_j u) phi^(j)(u - theta) (checked exact); on a grid of cells
  the value at every node and at every root of r^(k+1) (brentq on sign changes) is a lower bound m, and on
  each cell [a, b] the interpolation bound
      sup_[a,b] |g| <= max(|g(a)|, |g(b)|) + (b - a)^2 / 8 * sup_[a,b] |g''|,     g = r^(k),
  with sup_[a,b] |g''| enclosed term by term (exact sups of |phi^(j)| on the cell from its critical points),
  is a certified upper bound. Cells whose bound exceeds m are bisected until every bound is <= m (1 + 2^-50)
  (a float search); then every cell bound of the final partition is recomputed in outward-rounded interval
  arithmetic (certify.py, rigorous.py: no floating-point evaluation error is left uncovered, cancellation
  and underflow included), and the largest is returned: never below the true supremum, ~1e-15 above it.
  Infinite ends: the tail |u - theta| >= Z is enclosed with the monotone-tail lemma (docs/theory.md, sec. 2):
  beyond all critical points, |phi^(j)| decreases and |w phi^(j)(w)| <= 2 |phi^(j-1)(w/2) - phi^(j-1)(+-inf)|.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from sast_core.errors import InputError

from .certify import LinearEnclosure, PhiEnclosure
from .rigorous import Iv
from .rigorous import up as rg_up
from .surrogates import RESETS, beta, reset_expr, reset_offset, surrogate_expr, theta, u, z

_MAX_ORDER = 4  # highest derivative of phi used: r^(k+2) for kappa_2 needs phi^(4)
_TOL = 2.0**-50  # refinement stops when every cell bound is within this relative slack of the lower bound
_MAX_REFINE = 80
_MAX_TAIL_DOUBLINGS = 60


# ----------------------------------------------------------------------------------------------------------
# derivatives of phi: expressions, critical points, sups (symbolic, cached per surrogate)


@functools.cache
def _phi_derivative(surrogate: str, order: int) -> sp.Expr:
    """phi^(order)(z) as a sympy expression in z, beta."""
    return sp.diff(surrogate_expr(surrogate), z, order)


@functools.cache
def _critical_points_expr(surrogate: str, order: int) -> tuple[sp.Expr, ...]:
    """The real critical points of phi^(order) (real roots of phi^(order+1)) as expressions in beta."""
    roots = sp.solveset(sp.simplify(_phi_derivative(surrogate, order + 1)), z, sp.S.Reals)
    points: list[sp.Expr] = []
    for part in roots.args if isinstance(roots, sp.Union) else (roots,):
        if isinstance(part, sp.Intersection):  # {x} intersected with Reals: x is real since beta > 0
            part = next(arg for arg in part.args if isinstance(arg, sp.FiniteSet))
        if part is sp.S.EmptySet:
            continue
        if not isinstance(part, sp.FiniteSet):
            raise NotImplementedError(f"sympy cannot enumerate the critical points of phi^({order}) for {surrogate}")
        points.extend(part.args)
    return tuple(sorted(set(points), key=lambda p: float(p.subs(beta, 1))))


@functools.cache
def _limits_expr(surrogate: str, order: int) -> tuple[sp.Expr, sp.Expr]:
    """(phi^(order)(-inf), phi^(order)(+inf))."""
    expr = _phi_derivative(surrogate, order)
    return sp.limit(expr, z, -sp.oo), sp.limit(expr, z, sp.oo)


@functools.cache
def derivative_bound_expr(surrogate: str, order: int) -> sp.Expr:
    """M_order = sup_z |phi^(order)(z)|: the largest |phi^(order)| over its critical points and the limits.

    Every surrogate is phi_beta(z) = phi_1(beta z), so each candidate is beta^order times a constant; the
    candidates are compared by those constants (exactly, then numerically to 50 digits).
    """
    expr = _phi_derivative(surrogate, order)
    candidates = [sp.Abs(expr.subs(z, point)) for point in _critical_points_expr(surrogate, order)]
    candidates += [sp.Abs(limit) for limit in _limits_expr(surrogate, order)]
    constants = []
    for cand in candidates:
        const = sp.simplify(sp.radsimp(sp.simplify(cand / beta**order)))
        if const.has(beta):
            raise NotImplementedError(f"surrogate {surrogate} is not of the form phi_1(beta z)")
        constants.append(const)
    return beta**order * max(constants, key=lambda c: sp.N(c, 50))


def derivative_bounds_expr(surrogate: str) -> tuple[sp.Expr, sp.Expr]:
    """(M1, M2) = (sup|phi'|, sup|phi''|) as sympy expressions in beta (A2)."""
    return derivative_bound_expr(surrogate, 1), derivative_bound_expr(surrogate, 2)


@functools.cache
def _derivative_bound_fn(surrogate: str, order: int) -> Callable[[float], float]:
    return sp.lambdify(beta, derivative_bound_expr(surrogate, order), "math")


def derivative_bounds(surrogate: str, beta: float) -> tuple[float, float]:
    """(M1, M2) = (sup|phi'|, sup|phi''|) for the given beta, float64 (A2)."""
    _check_beta(beta)
    return float(_derivative_bound_fn(surrogate, 1)(beta)), float(_derivative_bound_fn(surrogate, 2)(beta))


@dataclass(frozen=True)
class _PhiNumeric:
    """Lambdified phi^(j), j = 0.._MAX_ORDER, their critical points and limits (functions of beta)."""

    values: tuple[Callable, ...]  # phi^(j)(z, beta)
    critical: tuple[Callable, ...]  # beta -> list of critical points of phi^(j)
    limits: tuple[tuple[float, float], ...]  # (phi^(j)(-inf), phi^(j)(+inf)), beta-free

    def value(self, order: int, zs: np.ndarray, beta_value: float) -> np.ndarray:
        """phi^(order)(zs); where the closed form overflows (|beta z| > 100, true value < e^-100) it is 0."""
        with np.errstate(all="ignore"):
            out = np.asarray(self.values[order](zs, beta_value), dtype=float) * np.ones_like(zs, dtype=float)
        bad = ~np.isfinite(out)
        if bad.any():
            if order == 0 or np.any(np.abs(beta_value * np.asarray(zs)[bad]) <= 100.0):
                raise ArithmeticError("surrogate derivative not finite inside its representable range")
            out[bad] = 0.0
        return out


@functools.cache
def _phi_numeric(surrogate: str) -> _PhiNumeric:
    values, critical, limits = [], [], []
    for order in range(_MAX_ORDER + 1):
        values.append(sp.lambdify((z, beta), _phi_derivative(surrogate, order), "numpy"))
        critical.append(sp.lambdify(beta, list(_critical_points_expr(surrogate, order)), "math"))
        low, high = _limits_expr(surrogate, order)
        if low.has(beta) or high.has(beta) or not (low.is_finite and high.is_finite):
            raise NotImplementedError(f"phi^({order}) of {surrogate} has no finite beta-free limits")
        limits.append((float(low), float(high)))
    if limits[0] != (0.0, 1.0) or any(lim != (0.0, 0.0) for lim in limits[1:]):
        raise NotImplementedError(f"surrogate {surrogate} must go from 0 to 1 with vanishing derivatives")
    return _PhiNumeric(tuple(values), tuple(critical), tuple(limits))


# ----------------------------------------------------------------------------------------------------------
# the reset map's derivatives as c + sum_j (a_j + b_j u) phi^(j)(u - theta)

_SHIFTED = sp.Function("phi_shifted")


@dataclass(frozen=True)
class _Linear:
    """r^(k)(u) = const(theta) + sum over (j, a_j(theta), b_j(theta)) of (a_j + b_j u) phi^(j)(u - theta)."""

    const: Callable[[float], float]
    terms: tuple[tuple[int, Callable[[float], float], Callable[[float], float]], ...]


_SPIKE = sp.Symbol("s")


@functools.cache
def _reset_in_spike(reset: str, surrogate: str) -> sp.Expr:
    """r(u) as a polynomial in u and s = phi(u - theta) (the surrogate's transcendental atom eliminated)."""
    spike = surrogate_expr(surrogate).subs(z, u - theta)
    atoms = [atom for atom in spike.atoms(sp.Function) if atom.has(u)]
    solutions = sp.solve(sp.Eq(spike, _SPIKE), atoms[0]) if len(atoms) == 1 else []
    generic = sp.expand(sp.simplify(reset_expr(reset, surrogate).subs(atoms[0], solutions[0]))) if solutions else None
    if len(solutions) != 1 or generic.has(beta) or not generic.is_polynomial(u, _SPIKE):
        raise NotImplementedError(f"reset {reset} with {surrogate} is not a polynomial in u and phi(u - theta)")
    return generic


@functools.cache
def reset_derivative_structure(reset: str, surrogate: str, order: int) -> tuple[sp.Expr, dict[int, sp.Expr]]:
    """sympy's d^order r / du^order as (const, {j: coefficient (polynomial in u) of phi^(j)(u - theta)}).

    Raises NotImplementedError when the derivative is not linear in the phi^(j) with coefficients of degree
    <= 1 in u (true for every reset of THEORY.md; the tail lemma needs it).
    """
    generic = _reset_in_spike(reset, surrogate).subs(_SPIKE, _SHIFTED(u))
    slots = sp.symbols(f"d0:{order + 1}")
    deriv = sp.diff(generic, u, order)
    deriv = deriv.xreplace({sp.Derivative(_SHIFTED(u), (u, j)): slots[j] for j in range(1, order + 1)})
    deriv = sp.expand(deriv.xreplace({_SHIFTED(u): slots[0]}))
    poly = sp.Poly(deriv, *slots)
    if poly.total_degree() > 1:
        raise NotImplementedError(f"r^({order}) of reset {reset} is not linear in the surrogate's derivatives")
    const = poly.coeff_monomial(1)
    coefs = {j: poly.coeff_monomial(slots[j]) for j in range(order + 1) if poly.coeff_monomial(slots[j]) != 0}
    if const.has(u) or any(sp.degree(c, u) > 1 for c in coefs.values()) or (0 in coefs and coefs[0].has(u)):
        raise NotImplementedError(f"r^({order}) of reset {reset} has coefficients outside the supported form")
    return const, coefs


@functools.cache
def _linear_exprs(reset: str, surrogate: str, order: int) -> tuple[sp.Expr, tuple[tuple[int, sp.Expr, sp.Expr], ...]]:
    """(c, ((j, a_j, b_j), ...)) of r^(order) as sympy expressions in theta."""
    const, coefs = reset_derivative_structure(reset, surrogate, order)
    return const, tuple((j, c.subs(u, 0), sp.diff(c, u)) for j, c in sorted(coefs.items()))


@functools.cache
def _sup_constants(surrogate: str) -> tuple[sp.Expr, ...]:
    """M_j / beta^j, j <= _MAX_ORDER (M_0 = 1)."""
    return tuple(
        sp.simplify(derivative_bound_expr(surrogate, j) / beta**j) if j else sp.Integer(1)
        for j in range(_MAX_ORDER + 1)
    )


@functools.cache
def _phi_enclosure(surrogate: str, beta_value: float) -> PhiEnclosure:
    """Rigorous enclosures of phi^(j), j <= _MAX_ORDER + 1 (the last one only proves critical points)."""
    _phi_numeric(surrogate)  # validates the limits
    return PhiEnclosure(
        tuple(_phi_derivative(surrogate, j) for j in range(_MAX_ORDER + 2)),
        tuple(_critical_points_expr(surrogate, j) for j in range(_MAX_ORDER + 1)),
        _sup_constants(surrogate),
        tuple(tuple(float(v) for v in _limits_expr(surrogate, j)) for j in range(_MAX_ORDER + 2)),
        z,
        beta,
        beta_value,
    )


@functools.cache
def _linear(reset: str, surrogate: str, order: int) -> _Linear:
    const, coefs = reset_derivative_structure(reset, surrogate, order)
    terms = tuple(
        (j, sp.lambdify(theta, c.subs(u, 0), "math"), sp.lambdify(theta, sp.diff(c, u), "math"))
        for j, c in sorted(coefs.items())
    )
    return _Linear(sp.lambdify(theta, const, "math"), terms)


# ----------------------------------------------------------------------------------------------------------
# certified supremum of |r^(k)| over an interval


_Terms = tuple[float, tuple[tuple[int, float, float], ...]]  # (const, ((j, a_j, b_j), ...)) at fixed theta


class _CertifiedSup:
    """sup_{u in [lo, hi]} |g| for g = r^(k), with g1 = r^(k+1) (roots) and g2 = r^(k+2) (curvature)."""

    def __init__(
        self,
        phi: _PhiNumeric,
        lins: tuple[_Linear, _Linear, _Linear],
        theta_value: float,
        beta_value: float,
        rig: PhiEnclosure,
        rig_lins: tuple[LinearEnclosure, LinearEnclosure],
    ) -> None:
        self.phi, self.theta, self.beta = phi, theta_value, beta_value
        self.rig, (self.rig_g, self.rig_g2) = rig, rig_lins
        self.g, self.g1, self.g2 = (
            (
                float(lin.const(theta_value)),
                tuple((j, float(a(theta_value)), float(b(theta_value))) for j, a, b in lin.terms),
            )
            for lin in lins
        )
        self.crit = [np.asarray(phi.critical[j](beta_value), dtype=float) for j in range(_MAX_ORDER + 1)]
        self.peaks = [np.abs(self.phi_at(j, c)) if c.size else c for j, c in enumerate(self.crit)]
        all_crit = np.concatenate(self.crit)
        self.zmin = max(2.02 * float(np.max(np.abs(all_crit), initial=0.0)), 32.0 / beta_value)

    def phi_at(self, order: int, zs: np.ndarray) -> np.ndarray:
        return self.phi.value(order, np.asarray(zs, dtype=float), self.beta)

    def eval(self, lin: _Terms, us: np.ndarray, phis: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """lin at us; `phis` caches phi^(j)(us - theta) across calls on the same nodes."""
        phis = {} if phis is None else phis
        out = np.full(us.shape, lin[0])
        for j, a, b in lin[1]:
            if j not in phis:
                phis[j] = self.phi_at(j, us - self.theta)
            out += (a + b * us) * phis[j]
        return out

    def phi_sup(self, order: int, za: np.ndarray, zb: np.ndarray) -> np.ndarray:
        return _sup_on(self.phi, order, self.beta, self.crit[order], self.peaks[order], za, zb)

    def enclose_abs(self, lin: _Terms, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Upper bound of |lin| on each cell [a, b] (coefficients are linear in u: max at an endpoint)."""
        out = np.full(a.shape, abs(lin[0]))
        for j, ca, cb in lin[1]:
            out += np.maximum(np.abs(ca + cb * a), np.abs(ca + cb * b)) * self.phi_sup(
                j, a - self.theta, b - self.theta
            )
        return out

    def tail_abs(self, zstart: float) -> float:
        """Certified upper bound of |g| on the tail u - theta >= zstart > 0 (or <= zstart < 0) past all critical
        points (interval arithmetic). Monotone-tail lemma: |phi^(j)(w)| <= |phi^(j)(zstart)| and
        |w phi^(j)(w)| <= 2 |phi^(j-1)(zstart/2) - L|; with u = theta + w, |a + b u| <= |a + b theta| + |b| |w|.
        """
        side = 1 if zstart > 0 else 0
        orders = self.rig_g.orders()
        at_start = self.rig.at(Iv.point(np.array(zstart)), orders)
        at_half = self.rig.at(Iv.point(np.array(zstart / 2)), tuple(j - 1 for j in orders if j))
        value = self.rig_g.const
        radius = 0.0
        theta_iv = Iv.point(np.array(self.theta))
        for j, a, b in self.rig_g.terms:
            start = at_start[j]
            limit = Iv.point(np.array(self.phi.limits[j][side]))
            if j == 0:  # b == 0 (checked by reset_derivative_structure); phi between phi(zstart) and its limit
                value = value + a * Iv(np.minimum(start.lo, limit.lo), np.maximum(start.hi, limit.hi))
                continue
            below = Iv.point(np.array(self.phi.limits[j - 1][side]))
            radius = rg_up(radius + rg_up((a + b * theta_iv).abs_hi() * start.abs_hi()))
            radius = rg_up(radius + rg_up(2 * b.abs_hi() * (at_half[j - 1] - below).abs_hi()))
        return float(rg_up(value.abs_hi() + radius))

    def limit_abs(self, lin: _Terms, side: int) -> float:
        """|lim of lin| at -inf (side 0) or +inf (side 1): only the phi^(0) term survives (tail lemma)."""
        return abs(lin[0] + sum(a * self.phi.limits[0][side] for j, a, _ in lin[1] if j == 0))

    def sup(self, lo: float, hi: float) -> float:
        if not (math.isinf(lo) or math.isinf(hi)):
            return self.certify(*self.search(lo, hi, 0.0)[1:])
        lower = max(self.limit_abs(self.g, side) for side, end in ((0, lo), (1, hi)) if math.isinf(end))
        zmax = self.zmin
        for _ in range(_MAX_TAIL_DOUBLINGS):
            flo = lo if not math.isinf(lo) else min(self.theta - zmax, hi)
            fhi = hi if not math.isinf(hi) else max(self.theta + zmax, lo)
            core, cells_a, cells_b = self.search(flo, fhi, lower)
            tails = [
                self.tail_abs(zs)
                for zs, end in ((flo - self.theta, lo), (fhi - self.theta, hi))
                if math.isinf(end)
            ]
            if max(tails) <= core * (1 + _TOL):
                break
            zmax *= 2.0
        return max([lower, self.certify(cells_a, cells_b), *tails])

    def grid(self, lo: float, hi: float) -> np.ndarray:
        """Nodes: step 0.05/beta within 16/beta of theta, geometric (ratio 1.05) beyond, critical points."""
        width, step = 16.0 / self.beta, 0.05 / self.beta
        dense = self.theta + np.arange(-width, width + step / 2, step)
        reach = max(abs(lo - self.theta), abs(hi - self.theta), width)
        count = int(math.ceil(math.log(reach / width) / math.log(1.05))) + 1
        far = width * 1.05 ** np.arange(1, count + 1)
        nodes = np.concatenate(
            [dense, self.theta + far, self.theta - far, self.theta + np.concatenate(self.crit), [lo, hi]]
        )
        return np.unique(nodes[(nodes >= lo) & (nodes <= hi)])

    def search(self, lo: float, hi: float, lower: float) -> tuple[float, np.ndarray, np.ndarray]:
        """Float search on [lo, hi] (finite): the largest |g| found (at least `lower`) and a partition into cells
        [a_i, b_i] whose float Lemma-1 bounds are within 2^-50 of it (what `certify` then proves)."""
        nodes = self.grid(lo, hi)
        phis: dict[int, np.ndarray] = {}
        slopes = self.eval(self.g1, nodes, phis)
        change = np.nonzero(np.sign(slopes[:-1]) * np.sign(slopes[1:]) < 0)[0]
        extra = []
        for i in change:  # each root of g' found, with nodes closing in on it geometrically
            root = brentq(
                lambda x: float(self.eval(self.g1, np.array([x]))[0]),
                nodes[i],
                nodes[i + 1],
                xtol=1e-300,
                rtol=4 * np.finfo(float).eps,
                maxiter=200,
                disp=False,  # the root only places nodes; the certificate never depends on its accuracy
            )
            offsets = (nodes[i + 1] - nodes[i]) * 2.0 ** -np.arange(1, 40)
            extra.append(np.concatenate([[root], root - offsets, root + offsets]))
        if extra:
            nodes = np.unique(np.clip(np.concatenate([nodes, *extra]), lo, hi))
            phis = {}
        values = self.eval(self.g, nodes, phis)
        best = max(lower, float(np.max(np.abs(values))))
        a, b, ga, gb = nodes[:-1], nodes[1:], values[:-1], values[1:]
        done_a, done_b = [], []  # the settled cells: with the rest, a partition of [lo, hi]
        for _ in range(_MAX_REFINE):
            ub = np.maximum(np.abs(ga), np.abs(gb)) + (b - a) ** 2 / 8 * self.enclose_abs(self.g2, a, b)
            settled = ub <= best * (1 + _TOL)
            done_a.append(a[settled])
            done_b.append(b[settled])
            a, b, ga, gb = a[~settled], b[~settled], ga[~settled], gb[~settled]
            if a.size == 0:
                break
            mid = 0.5 * (a + b)
            gm = self.eval(self.g, mid)
            best = max(best, float(np.max(np.abs(gm))))
            a, b = np.concatenate([a, mid]), np.concatenate([mid, b])
            ga, gb = np.concatenate([ga, gm]), np.concatenate([gm, gb])
        return best, np.concatenate([*done_a, a]), np.concatenate([*done_b, b])

    def certify(self, a: np.ndarray, b: np.ndarray) -> float:
        """max over the cells [a_i, b_i] of Lemma 1's bound, every term in outward-rounded interval arithmetic."""
        nodes = np.unique(np.concatenate([a, b]))
        z_nodes = Iv.point(nodes) - Iv.point(np.full(nodes.shape, self.theta))  # encloses u - theta
        phis = self.rig.at(z_nodes, tuple(sorted(set(self.rig_g.orders()) | set(self.rig_g2.orders()))))
        g_abs = self.rig_g.at(nodes, phis).abs_hi()
        ia, ib = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
        sups = {
            j: self.rig.cell_sup(j, _take(phis[j], ia), _take(phis[j], ib), z_nodes.lo[ia], z_nodes.hi[ib])
            for j, _, _ in self.rig_g2.terms
        }
        width = rg_up(b - a)
        curvature = rg_up(rg_up(width * width) * 0.125) * self.rig_g2.cell_abs(a, b, sups)
        bounds = rg_up(np.maximum(g_abs[ia], g_abs[ib]) + rg_up(curvature))
        return float(np.max(bounds, initial=0.0))


def _take(iv: Iv, index: np.ndarray) -> Iv:
    return Iv(iv.lo[index], iv.hi[index])


@functools.cache
def _certified(surrogate: str, reset: str, order: int, theta_value: float, beta_value: float) -> _CertifiedSup:
    lins = tuple(_linear(reset, surrogate, k) for k in (order, order + 1, order + 2))
    rig = tuple(LinearEnclosure(*_linear_exprs(reset, surrogate, k), theta, theta_value) for k in (order, order + 2))
    return _CertifiedSup(
        _phi_numeric(surrogate), lins, theta_value, beta_value, _phi_enclosure(surrogate, beta_value), rig
    )


def _kappa(
    order: int, surrogate: str, beta_value: float, theta_value: float, reset: str, lo: float, hi: float
) -> float:
    """sup |r^(order)| on [lo, hi] (validated arguments)."""
    if reset == "none":
        return 1.0 if order == 1 else 0.0
    return float(_certified(surrogate, reset, order, float(theta_value), float(beta_value)).sup(float(lo), float(hi)))


def reset_slope_bounds(
    surrogate: str, beta: float, theta: float, reset: str, lo: float, hi: float
) -> tuple[float, float]:
    """(kappa1, kappa2) = (sup |r'(u)|, sup |r''(u)|) over u in [lo, hi] (A4, P3); lo may be -inf, hi +inf.

    Certified upper bounds, equal to the true suprema up to ~1e-15 relative (module docstring).
    """
    _check_beta(beta)
    _check_theta(theta)
    if reset not in RESETS:
        raise InputError(f"unknown reset mode {reset!r}; expected one of {', '.join(RESETS)}")
    if math.isnan(lo) or math.isnan(hi) or lo > hi or lo == math.inf or hi == -math.inf:
        raise InputError(f"invalid interval [{lo}, {hi}]; expected lo <= hi, lo < +inf, hi > -inf")
    return (
        _kappa(1, surrogate, beta, theta, reset, lo, hi),
        _kappa(2, surrogate, beta, theta, reset, lo, hi),
    )


def surrogate_values(surrogate: str, beta: float, order: int, zs: np.ndarray) -> np.ndarray:
    """phi^(order)(zs) (order <= 4), float64, overflow-safe."""
    _check_beta(beta)
    return _phi_numeric(surrogate).value(order, np.asarray(zs, dtype=float), float(beta))


def derivative_sup_on(surrogate: str, beta: float, order: int, za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """Exact sup of |phi^(order)| on each interval [za_i, zb_i] (endpoints and interior critical points)."""
    _check_beta(beta)
    phi = _phi_numeric(surrogate)
    crit = np.asarray(phi.critical[order](beta), dtype=float)
    peaks = np.abs(phi.value(order, crit, beta)) if crit.size else crit
    return _sup_on(phi, order, float(beta), crit, peaks, np.asarray(za, dtype=float), np.asarray(zb, dtype=float))


def derivative_range_on(surrogate: str, beta: float, order: int, za: np.ndarray,
                        zb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact (min, max) of phi^(order) on each interval [za_i, zb_i]: the extremes of a smooth function on a
    closed interval lie at its endpoints or at its interior critical points (P7's signed slope ranges)."""
    _check_beta(beta)
    phi = _phi_numeric(surrogate)
    za, zb = np.asarray(za, dtype=float), np.asarray(zb, dtype=float)
    ends = phi.value(order, za, float(beta)), phi.value(order, zb, float(beta))
    low, high = np.minimum(*ends), np.maximum(*ends)
    for point in np.asarray(phi.critical[order](beta), dtype=float):
        inside = (za < point) & (point < zb)
        value = float(phi.value(order, np.asarray(point), float(beta)))
        low, high = np.where(inside, np.minimum(low, value), low), np.where(inside, np.maximum(high, value), high)
    return low, high


def _sup_on(
    phi: _PhiNumeric,
    order: int,
    beta_value: float,
    crit: np.ndarray,
    peaks: np.ndarray,
    za: np.ndarray,
    zb: np.ndarray,
) -> np.ndarray:
    """sup of |phi^(order)| on each [za, zb]: max over the endpoints and the critical points inside."""
    sup = np.maximum(np.abs(phi.value(order, za, beta_value)), np.abs(phi.value(order, zb, beta_value)))
    for point, peak in zip(crit, peaks, strict=True):
        sup = np.where((za < point) & (point < zb), np.maximum(sup, peak), sup)
    return sup


# ----------------------------------------------------------------------------------------------------------
# P1 and A4


def state_bound(taubar: float, current_bound: float, r0: float) -> float:
    """U = (I_max + taubar r0) / (1 - taubar): the P1 bound on |u[t]| for every t."""
    _check_taubar(taubar)
    if not (current_bound >= 0 and r0 >= 0) or math.isinf(current_bound):
        raise InputError(f"current bound {current_bound} and r0 {r0} must be finite and >= 0")
    return (current_bound + taubar * r0) / (1.0 - taubar)


def contraction_factor(
    surrogate: str, beta: float, theta: float, reset: str, taubar: float, current_bound: float
) -> float:
    """rho = taubar * kappa1 over [-U, U], U = state_bound(taubar, current_bound, r0(reset, theta)) (A4)."""
    bound = state_bound(taubar, current_bound, reset_offset(reset, theta))
    _check_beta(beta)
    _check_theta(theta)
    return taubar * _kappa(1, surrogate, beta, theta, reset, -bound, bound)


def largest_feasible_taubar(surrogate: str, beta: float, theta: float, reset: str, current_bound: float) -> float:
    """sup { taubar in [0, 1) : rho(taubar) < 1 }, returned as a float that is itself strictly feasible.

    rho(taubar) = taubar kappa1([-U(taubar), U(taubar)]) is nondecreasing (U grows with taubar and kappa1 is a
    sup over a growing interval), so bisection to adjacent floats finds the boundary.
    """
    lo, hi = 0.0, 1.0
    while True:
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            return lo
        if contraction_factor(surrogate, beta, theta, reset, mid, current_bound) < 1.0:
            lo = mid
        else:
            hi = mid


def _check_beta(beta_value: float) -> None:
    if not (isinstance(beta_value, int | float) and math.isfinite(beta_value) and beta_value > 0):
        raise InputError(f"surrogate sharpness beta={beta_value!r} must be a finite number > 0")


def _check_theta(theta_value: float) -> None:
    if not (isinstance(theta_value, int | float) and math.isfinite(theta_value) and theta_value >= 0):
        raise InputError(f"threshold theta={theta_value!r} must be a finite number >= 0")


def _check_taubar(taubar: float) -> None:
    if not (isinstance(taubar, int | float) and 0.0 <= taubar < 1.0):
        raise InputError(f"leak cap taubar={taubar!r} must lie in [0, 1)")
