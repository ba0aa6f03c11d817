"""P1 a posteriori: per-neuron one-sided current ranges and certified invariant membrane intervals.

Inputs are nonnegative (A1; spikes and pooled spikes lie in [0, 1]), so neuron i's current satisfies
    I_i[t] in [m_i, M_i] = [S sum_j min(W_ij, 0) + b_i,  S sum_j max(W_ij, 0) + b_i]
(for a conv layer, per output channel; a position near the border sees fewer inputs, which only shrinks the
range since a missing input contributes 0, a value inside [0, S]).

The membrane obeys u[1] = I[1] (the reset term is r(0, s[0] = 0) = 0) and u[t] = tau r(u[t-1], s[t-1]) + I[t].
With R(J) an enclosure of { r(u, s) : u in J, s the spike of u in the chosen modes } and
F(J) = tau hull(R(J) u {0}) + [m, M], any interval J with F(J) subset J contains every u[t] (induction:
u[1] in F(J) because 0 is in the hull, and u[t] in J implies u[t+1] in F(J)). We iterate J <- hull(J, F(J))
from J = [m, M], then verify F(J') subset J' for a slightly inflated J' (the certificate). A neuron whose
check fails falls back to the uniform P1 interval [-U_i, U_i]. A certified J is then tightened by
J <- F(J) intersected with J as long as the result is still certified (each accepted one is invariant).

R(J) is enclosed by splitting J into pieces [a, b]: the spike lies in [min(phi(a - theta), H(a - theta)),
max(phi(b - theta), H(b - theta))] (phi and H are nondecreasing; only the modes asked for are included), and
r is evaluated in interval arithmetic: zero: u (1 - s); subtract: u - theta s; none: u.
For the zero reset the lower end never resets in hard mode (u <= 0 < theta gives s = 0), and r(u) >= min(u, 0)
in both modes; for the subtract reset the surrogate lowers negative potentials by theta phi(u - theta) > 0.
"""

from __future__ import annotations

import numpy as np

from .calculus import surrogate_values
from .surrogates import SPIKE_MODES

_PIECES = 64
_ITERATIONS = 5000
_EXTRAPOLATE = 8
_TIGHTEN = 50


def current_ranges(
    kind: str, weight: np.ndarray, bias: np.ndarray, scale: float, lif_shape: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron [m_i, M_i] (flattened over lif_shape) for inputs in [0, scale]."""
    w = np.asarray(weight, dtype=float).reshape(weight.shape[0], -1)
    low = scale * np.minimum(w, 0).sum(axis=1) + bias
    high = scale * np.maximum(w, 0).sum(axis=1) + bias
    if kind == "conv_lif":  # one range per output channel, shared by its positions
        per_channel = int(np.prod(lif_shape[1:]))
        low, high = np.repeat(low, per_channel), np.repeat(high, per_channel)
    return low, high


def reset_enclosure(
    reset: str,
    surrogate: str,
    beta: float,
    theta: float,
    lo: np.ndarray,
    hi: np.ndarray,
    modes: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure [R_lo, R_hi] of r(u, s) over u in [lo, hi] (elementwise), s the spike of u in `modes`."""
    if reset == "none":
        return lo.copy(), hi.copy()
    steps = np.linspace(0.0, 1.0, _PIECES + 1)
    near = theta + np.linspace(-8.0, 8.0, _PIECES + 1) / beta  # resolve the reset where the spike switches
    nodes = np.concatenate(
        [lo[:, None] + (hi - lo)[:, None] * steps[None, :], np.clip(near[None, :], lo[:, None], hi[:, None])],
        axis=1,
    )
    nodes.sort(axis=1)
    a, b = nodes[:, :-1], nodes[:, 1:]
    s_lo, s_hi = np.full(a.shape, np.inf), np.full(a.shape, -np.inf)
    if "surrogate" in modes:
        s_lo = np.minimum(s_lo, surrogate_values(surrogate, beta, 0, a - theta))
        s_hi = np.maximum(s_hi, surrogate_values(surrogate, beta, 0, b - theta))
    if "hard" in modes:
        s_lo = np.minimum(s_lo, (a > theta).astype(float))
        s_hi = np.maximum(s_hi, (b > theta).astype(float))
    if reset == "zero":
        keep = (1 - s_hi, 1 - s_lo)
        products = np.stack([a * keep[0], a * keep[1], b * keep[0], b * keep[1]])
        piece_lo, piece_hi = products.min(axis=0), products.max(axis=0)
    else:  # subtract
        piece_lo, piece_hi = a - theta * s_hi, b - theta * s_lo
    return piece_lo.min(axis=1), piece_hi.max(axis=1)


def _step(lo, hi, m, big_m, tau, enclose):
    r_lo, r_hi = enclose(lo, hi)
    return tau * np.minimum(r_lo, 0.0) + m, tau * np.maximum(r_hi, 0.0) + big_m


def _ratio(change: np.ndarray, previous: np.ndarray) -> np.ndarray:
    return np.clip(change / np.where(previous > 0, previous, np.inf), 0.0, 0.999)


def invariant_intervals(
    m: np.ndarray,
    big_m: np.ndarray,
    tau: np.ndarray,
    reset: str,
    surrogate: str,
    beta: float,
    theta: float,
    r0: float,
    modes: tuple[str, ...] = SPIKE_MODES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Certified per-neuron intervals [lo_i, hi_i] containing u_i[t] for all t (module docstring).

    Returns (lo, hi, certified): certified[i] is False where the uniform fallback [-U_i, U_i] was used.
    """
    m, big_m = np.asarray(m, dtype=float), np.asarray(big_m, dtype=float)
    tau = np.broadcast_to(np.asarray(tau, dtype=float), m.shape)

    def enclose(lo, hi):
        return reset_enclosure(reset, surrogate, beta, theta, lo, hi, modes)

    ends = np.stack([-m, big_m])  # (-lo, hi): both ends only grow
    changes = [np.zeros_like(ends)] * 3
    for iteration in range(1, _ITERATIONS + 1):
        img_lo, img_hi = _step(-ends[0], ends[1], m, big_m, tau, enclose)
        grown = np.maximum(ends, np.stack([-img_lo, img_hi]))
        changes = [changes[1], changes[2], grown - ends]
        ends = grown
        if np.all(changes[2] <= 1e-12 * (1 + np.abs(ends))):
            break
        ratio, earlier = _ratio(changes[2], changes[1]), _ratio(changes[1], changes[0])
        if iteration % _EXTRAPOLATE == 0:  # jump over a steady geometric tail; the final check keeps it honest
            steady = (np.abs(ratio - earlier) < 1e-3) & (ratio < 0.999)
            ends = ends + np.where(steady, changes[2] * ratio / (1 - ratio), 0.0)
    tail = changes[2] / (1 - _ratio(changes[2], changes[1]))
    out_lo, out_hi = np.empty_like(m), np.empty_like(m)
    done = np.zeros(m.shape, dtype=bool)
    for relative in (1e-10, 1e-7, 1e-4, 1e-2):
        trial = ends + 2 * tail + relative * (1 + np.abs(ends))
        img_lo, img_hi = _step(-trial[0], trial[1], m, big_m, tau, enclose)
        ok = ~done & (img_lo >= -trial[0]) & (img_hi <= trial[1])
        out_lo[ok], out_hi[ok] = -trial[0][ok], trial[1][ok]
        done |= ok
    out_lo, out_hi = _tighten(out_lo, out_hi, done, m, big_m, tau, enclose)
    uniform = (np.maximum(np.abs(m), np.abs(big_m)) + tau * r0) / (1.0 - tau)
    out_lo[~done], out_hi[~done] = -uniform[~done], uniform[~done]
    return out_lo, out_hi, done


def _tighten(lo, hi, certified, m, big_m, tau, enclose, rounds: int = _TIGHTEN):
    """J <- F(J) intersected with J while the result is still certified (F(J') subset J'), per neuron: removes the
    extrapolation's overshoot. Each accepted J' is itself an invariant interval containing [m, M]."""
    lo, hi = lo.copy(), hi.copy()
    active = certified.copy()
    for _ in range(rounds):
        img_lo, img_hi = _step(lo, hi, m, big_m, tau, enclose)
        trial_lo, trial_hi = np.maximum(lo, img_lo), np.minimum(hi, img_hi)
        check_lo, check_hi = _step(trial_lo, trial_hi, m, big_m, tau, enclose)
        ok = active & (check_lo >= trial_lo) & (check_hi <= trial_hi)
        shrink = ok & ((trial_hi - trial_lo) < (hi - lo) * (1 - 1e-9))
        lo[ok], hi[ok] = trial_lo[ok], trial_hi[ok]
        active &= shrink
        if not active.any():
            break
    return lo, hi
