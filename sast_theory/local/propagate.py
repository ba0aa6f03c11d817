"""Interval propagation of each sample's trajectories over a parameter ball (docs/theory.md sec. 12.1).

For every parameter (W, b) with ||(W, b) - (W0, b0)|| <= R (all layers jointly; each row then moves by <= R)
and the fixed input sequence x of a sample, every membrane u_i[t] lies in the returned [u_lo, u_hi]:
    I_i[t] in W0_i [s_lo, s_hi] + b0_i +- R sqrt(sum_{j in field(i)} max(|s_lo_j|, |s_hi_j|)^2 + 1)
(Cauchy-Schwarz for the row perturbation; a conv row is shared by its positions, each sees its own patch),
    u[1] = I[1],  u[t] = tau R(u[t-1]) + I[t],   R(J) = { r(u, phi(u - theta)) : u in J }  enclosed by
zero: J (1 - [s_lo, s_hi]), subtract: J - theta [s_lo, s_hi], none: J, with the certified spike range
[s_lo, s_hi] = [phi(lo - theta), phi(hi - theta)] (slopes.SlopeTable); the layer's output is the pooled spike
range. Every float operation is rounded outward or covered by operators.slack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rigorous import down, up
from .network import LocalLayer, LocalNetwork
from .operators import Operator, pool, slack
from .slopes import SlopeTable


@dataclass(frozen=True)
class LayerBox:
    """One layer over the ball, arrays (N, T, ...): the input signal box, the membranes, slopes, drive."""

    in_lo: np.ndarray  # (N, T, n_in) input signal (pooled spikes of the layer before; x itself for layer 1)
    in_hi: np.ndarray
    u_lo: np.ndarray  # (N, T, n_neurons)
    u_hi: np.ndarray
    drive: np.ndarray  # (N, T, n_neurons): sqrt(sum over the receptive field of max|s|^2 + 1)
    slopes: dict[str, np.ndarray]  # mu, nu, kappa1, kappa2, s_lo, s_hi (N, T, n_neurons); {} for the readout
    out_lo: np.ndarray  # (N, T, n_out) the output signal (pooled spike range); membranes for the readout
    out_hi: np.ndarray


def _currents(op: Operator, lo: np.ndarray, hi: np.ndarray, bias: np.ndarray, radius: float) -> tuple:
    """Enclosure of W s + b over s in [lo, hi] (N, n_in) and every row within `radius`; and the drive."""
    center = 0.5 * (lo + hi)
    # [center - half, center + half] contains [lo, hi]; a point (lo == hi) is its own center, exactly
    half = np.where(hi > lo, np.maximum(up(hi - center), up(center - lo)), 0.0)
    exact_input = not np.any(half)
    value = op.apply(center)
    spread = 0.0 if exact_input else op.apply_abs(half)
    error = slack(op.fan_in) * op.apply_abs(np.abs(center) + half) + slack(1) * np.abs(bias)
    magnitude = np.maximum(np.abs(lo), np.abs(hi))
    drive = up(np.sqrt(up(up(op.patch_energy(up(magnitude * magnitude)) * (1 + slack(op.fan_in))) + 1.0)))
    width = up(up(spread + error) + radius * drive * (1 + 4 * slack(1)))
    base = value + bias
    return down(base - width), up(base + width), drive


def _reset(reset: str, theta: float, lo: np.ndarray, hi: np.ndarray, s_lo: np.ndarray, s_hi: np.ndarray):
    if reset == "none":
        return lo, hi
    if reset == "subtract":
        return down(lo - up(theta * s_hi)), up(hi - down(theta * s_lo))
    keep_lo, keep_hi = down(1.0 - s_hi), up(1.0 - s_lo)
    products = np.stack([lo * keep_lo, lo * keep_hi, hi * keep_lo, hi * keep_hi])
    return down(products.min(axis=0)), up(products.max(axis=0))


def layer_box(layer: LocalLayer, table: SlopeTable | None, in_lo: np.ndarray, in_hi: np.ndarray,
              radius: float) -> LayerBox:
    """Propagate one layer: input boxes (N, T, n_in) -> LayerBox."""
    samples, steps = in_lo.shape[:2]
    op = Operator(layer)
    flat = (samples * steps, -1)
    i_lo, i_hi, drive = _currents(op, in_lo.reshape(flat), in_hi.reshape(flat), _row_bias(layer), radius)
    shape = (samples, steps, layer.n_neurons)
    i_lo, i_hi, drive = i_lo.reshape(shape), i_hi.reshape(shape), drive.reshape(shape)
    u_lo, u_hi = np.empty(shape), np.empty(shape)
    u_lo[:, 0], u_hi[:, 0] = i_lo[:, 0], i_hi[:, 0]  # u[1] = I[1]: the reset term of step 1 is exactly 0
    tau = layer.tau
    for t in range(1, steps):
        lo, hi = u_lo[:, t - 1], u_hi[:, t - 1]
        if layer.spiking:
            s_lo, s_hi = table.spike_range(lo, hi)
        else:
            s_lo = s_hi = None
        r_lo, r_hi = _reset(layer.reset, layer.theta, lo, hi, s_lo, s_hi)
        u_lo[:, t] = down(down(tau * r_lo) + i_lo[:, t])
        u_hi[:, t] = up(up(tau * r_hi) + i_hi[:, t])
    if not layer.spiking:
        return LayerBox(in_lo, in_hi, u_lo, u_hi, drive, {}, u_lo, u_hi)
    slopes = table.bounds(u_lo, u_hi)
    pooled = (samples * steps, -1)
    factor = slack(layer.pool**2)
    out_lo = np.maximum(pool(slopes["s_lo"].reshape(pooled), layer) * (1 - factor), 0.0)
    out_hi = np.minimum(pool(slopes["s_hi"].reshape(pooled), layer) * (1 + factor), 1.0)
    return LayerBox(in_lo, in_hi, u_lo, u_hi, drive, slopes, out_lo.reshape(samples, steps, -1),
                    out_hi.reshape(samples, steps, -1))


def _row_bias(layer: LocalLayer) -> np.ndarray:
    """The bias of every neuron (a conv channel's bias at each of its positions)."""
    return layer.bias[layer.channel_of()]


def tables(net: LocalNetwork) -> list[SlopeTable | None]:
    return [SlopeTable(net.surrogate, net.beta, layer.theta, layer.reset) if layer.spiking else None
            for layer in net.layers]


def propagate(net: LocalNetwork, x: np.ndarray, radius: float,
              slope_tables: list[SlopeTable | None] | None = None) -> list[LayerBox]:
    """Boxes of every layer for the samples x (N, T, *input_shape) over the ball of `radius`."""
    slope_tables = tables(net) if slope_tables is None else slope_tables
    samples, steps = x.shape[:2]
    lo = hi = np.asarray(x, dtype=np.float64).reshape(samples, steps, -1)
    boxes = []
    for layer, table in zip(net.layers, slope_tables, strict=True):
        box = layer_box(layer, table, lo, hi, radius)
        boxes.append(box)
        lo, hi = box.out_lo, box.out_hi
    return boxes
