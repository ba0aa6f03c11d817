"""Certified per-neuron slope and curvature bounds over membrane intervals, vectorized (docs/theory.md sec. 12).

For a membrane interval u in [lo, hi] and z = u - theta:
    mu = sup phi'(z),  nu = sup |phi''(z)|,  kappa1 = sup |r'(u)|,  kappa2 = sup |r''(u)|,
and the spike range [phi(lo - theta), phi(hi - theta)] (phi nondecreasing).

A table holds rigorous enclosures (certify.PhiEnclosure, interval arithmetic) of phi^(j), j <= 4, on a fixed
z-grid (step 2^-9 / beta within 32 / beta, geometric ratio 1.02 beyond, to 2^60 / beta). A query interval is
rounded OUT to grid nodes [G_a, G_b] (a superset, so every sup below is an upper bound):
- sup |phi^(j)| on [G_a, G_b] = max of the two node enclosures and of the enclosed peaks of the critical
  points inside (phi^(j) is monotone between critical points);
- r^(k)(theta + z) = c + sum_j (A_j + b_j z) phi^(j)(z) with A_j = a_j + b_j theta (calculus.
  reset_derivative_structure): on every elementary grid cell the smaller of the triangle bound
  |c| + sum_j max(|A_j + b_j G_i|, |A_j + b_j G_i+1|) sup|phi^(j)| and Lemma 1 (max of |r^(k)| at the two nodes +
  (G_i+1 - G_i)^2 / 8 sup |r^(k+2)|); the sup over [G_a, G_b] is the max over its cells, read from a sparse
  table (two overlapping dyadic blocks), so a wide interval is bounded as tightly as a narrow one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sast_core.errors import InputError

from .. import calculus
from ..certify import LinearEnclosure
from ..rigorous import Iv, down, up

_STEP = 2.0**-9  # times 1 / beta
_UNIFORM = 32.0  # times 1 / beta
_RATIO = 1.02
_REACH = 2.0**60  # times 1 / beta


@functools.cache
def _grid(beta: float) -> np.ndarray:
    step, width = _STEP / beta, _UNIFORM / beta
    uniform = np.arange(-width, width + step / 2, step)
    count = int(np.ceil(np.log(_REACH / _UNIFORM) / np.log(_RATIO))) + 1
    far = width * _RATIO ** np.arange(1, count + 1)
    return np.unique(np.concatenate([-far[::-1], uniform, far]))


@dataclass(frozen=True)
class _PhiTable:
    grid: np.ndarray
    values: tuple[Iv, ...]  # enclosures of phi^(j) at the nodes, j = 0..4
    abs_hi: tuple[np.ndarray, ...]
    peaks: tuple[tuple, ...]  # certify.Peak per order


@functools.cache
def _phi_table(surrogate: str, beta: float) -> _PhiTable:
    enclosure = calculus._phi_enclosure(surrogate, beta)
    grid = _grid(beta)
    values = enclosure.at(Iv.point(grid), tuple(range(5)))
    ordered = tuple(values[j] for j in range(5))
    return _PhiTable(grid, ordered, tuple(v.abs_hi() for v in ordered), tuple(enclosure.peaks[j] for j in range(5)))


@dataclass(frozen=True)
class _Shifted:
    """r^(k)(theta + z) = const + sum_j (A_j + b_j z) phi^(j)(z), coefficients enclosed."""

    const: Iv
    terms: tuple[tuple[int, Iv, Iv], ...]


class SlopeTable:
    """Certified mu, nu, kappa1, kappa2 and spike ranges over membrane intervals, for one layer's
    (surrogate, beta, theta, reset)."""

    def __init__(self, surrogate: str, beta: float, theta: float, reset: str) -> None:
        self.table = _phi_table(surrogate, float(beta))
        self.theta, self.reset = float(theta), reset
        self.shifted = {k: self._shift(surrogate, reset, k) for k in (1, 2, 3, 4)} if reset != "none" else {}
        self.node_abs = {k: self._at_nodes(lin) for k, lin in self.shifted.items()}
        self.range_max = {k: self._range_table(k) for k in (1, 2)} if reset != "none" else {}

    def _shift(self, surrogate: str, reset: str, order: int) -> _Shifted:
        lin = LinearEnclosure(*calculus._linear_exprs(reset, surrogate, order), calculus.theta, self.theta)
        theta = Iv.point(np.array(self.theta))
        return _Shifted(lin.const, tuple((j, a + b * theta, b) for j, a, b in lin.terms))

    def _at_nodes(self, lin: _Shifted) -> np.ndarray:
        grid = Iv.point(self.table.grid)
        out = Iv(np.full(grid.lo.shape, lin.const.lo), np.full(grid.lo.shape, lin.const.hi))
        for j, a, b in lin.terms:
            out = out + (a + b * grid) * self.table.values[j]
        return out.abs_hi()

    def _range_table(self, order: int) -> list[np.ndarray]:
        """Sparse table: level q holds the max of the certified bounds of 2^q consecutive elementary cells."""
        ia = np.arange(self.table.grid.size - 1)
        ib = ia + 1
        sups = {j: self.phi_sup(j, ia, ib) for j in range(5)}
        levels = [self._cell_bound(order, ia, ib, sups)]
        while 2 ** len(levels) <= ia.size:
            previous, half = levels[-1], 2 ** (len(levels) - 1)
            levels.append(np.maximum(previous[:-half], previous[half:]))
        return levels

    def cells(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid indices (a, b) with G_a <= lo - theta and G_b >= hi - theta (outward)."""
        grid = self.table.grid
        za, zb = down(np.asarray(lo, dtype=float) - self.theta), up(np.asarray(hi, dtype=float) - self.theta)
        if not (np.all(np.isfinite(za)) and np.all(np.isfinite(zb))):
            raise InputError("a membrane interval is not finite: no local slope bound")
        ia = np.searchsorted(grid, za, side="right") - 1
        ib = np.searchsorted(grid, zb, side="left")
        if ia.min(initial=0) < 0 or ib.max(initial=0) >= grid.size:
            raise InputError(f"a membrane interval reaches beyond {_REACH:.3g} / beta of theta")
        return ia, ib

    def spike_range(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[phi(lo - theta), phi(hi - theta)] enclosed (outward)."""
        ia, ib = self.cells(lo, hi)
        values = self.table.values[0]
        return np.maximum(values.lo[ia], 0.0), np.minimum(values.hi[ib], 1.0)

    def phi_sup(self, order: int, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        """sup |phi^(order)| on [G_a, G_b]."""
        grid, node = self.table.grid, self.table.abs_hi[order]
        sup = np.maximum(node[ia], node[ib])
        for peak in self.table.peaks[order]:
            inside = (peak.hi >= grid[ia]) & (peak.lo <= grid[ib])
            sup = np.where(inside, np.maximum(sup, peak.value), sup)
        return sup

    def _triangle(self, order: int, ia: np.ndarray, ib: np.ndarray, sups: dict[int, np.ndarray]) -> np.ndarray:
        lin = self.shifted[order]
        grid = self.table.grid
        out = np.full(ia.shape, lin.const.abs_hi())
        for j, a, b in lin.terms:
            ends = np.maximum((a + b * Iv.point(grid[ia])).abs_hi(), (a + b * Iv.point(grid[ib])).abs_hi())
            out = up(out + up(ends * sups[j]))
        return out

    def _reset_sup(self, order: int, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        """sup |r^(order)| on [G_a, G_b]: the max of the elementary cells' bounds (two overlapping dyadic blocks
        of the sparse table), or the node's value for a degenerate cell."""
        count = ib - ia
        level = np.floor(np.log2(np.maximum(count, 1))).astype(np.int64)
        out = self.node_abs[order][ia].copy()
        for q in np.unique(level[count > 0]):
            sel = (count > 0) & (level == q)
            table = self.range_max[order][q]
            out[sel] = np.maximum(table[ia[sel]], table[ib[sel] - 2**q])
        return out

    def _cell_bound(self, order: int, ia: np.ndarray, ib: np.ndarray, sups: dict[int, np.ndarray]) -> np.ndarray:
        triangle = self._triangle(order, ia, ib, sups)
        width = up(self.table.grid[ib] - self.table.grid[ia])
        lemma = up(np.maximum(self.node_abs[order][ia], self.node_abs[order][ib])
                   + up(up(width * width) * 0.125) * self._triangle(order + 2, ia, ib, sups))
        return np.minimum(triangle, lemma)

    def bounds(self, lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
        """mu, nu, kappa1, kappa2 (and the spike range s_lo, s_hi) for each interval [lo, hi] (any shape)."""
        shape = np.shape(lo)
        ia, ib = self.cells(np.ravel(lo), np.ravel(hi))
        sups = {j: self.phi_sup(j, ia, ib) for j in range(5)}
        out = {"mu": sups[1], "nu": sups[2]}
        if self.reset == "none":
            out["kappa1"], out["kappa2"] = np.ones(ia.shape), np.zeros(ia.shape)
        else:
            out["kappa1"], out["kappa2"] = self._reset_sup(1, ia, ib), self._reset_sup(2, ia, ib)
        values = self.table.values[0]
        out["s_lo"], out["s_hi"] = np.maximum(values.lo[ia], 0.0), np.minimum(values.hi[ib], 1.0)
        return {key: value.reshape(shape) for key, value in out.items()}
