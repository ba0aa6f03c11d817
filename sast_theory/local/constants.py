"""Local constants of a checkpoint on a parameter ball, for a dataset (docs/theory.md sec. 12).

    local_constants(net, x, y, radius) -> LocalConstants

Per sample i: G_i >= sup_ball ||grad l_i||, L_i >= sup_ball ||hess l_i||. The mean loss F = (1/N) sum_i l_i then
satisfies ||grad F|| <= mean G_i and ||hess F|| <= mean L_i on the ball, so F is (mean L_i)-smooth there (the
ball is convex); max L_i is the per-sample form. The minibatch gradient of |B| samples drawn with replacement
has variance sigma^2 <= mean_i ||grad l_i||^2 / |B| <= mean G_i^2 / |B| (certified).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sast_core.errors import InputError

from .network import LocalNetwork
from .propagate import propagate, tables
from .sensitivity import loss_upper, sample_bounds


@dataclass(frozen=True)
class LocalConstants:
    radius: float
    gradient: np.ndarray  # (N,) G_i
    hessian: np.ndarray  # (N,) L_i
    eps: np.ndarray  # (N,) 1 - inf p_y over the ball
    gauss_newton: np.ndarray  # (N,) h ||D||^2, the Gauss-Newton part of L_i's quadratic form
    loss: np.ndarray  # (N,) upper bounds of l_i at the checkpoint (F(theta_0) - F_inf <= their mean)
    seconds: float

    @property
    def smoothness(self) -> float:
        """L of the mean loss on the ball: mean_i L_i."""
        return float(np.mean(self.hessian))

    @property
    def smoothness_per_sample(self) -> float:
        return float(np.max(self.hessian))

    @property
    def gradient_bound(self) -> float:
        """sup over the ball of ||grad F||: mean_i G_i."""
        return float(np.mean(self.gradient))

    @property
    def gradient_per_sample(self) -> float:
        """sup over the ball and the samples of ||grad l_i||: every minibatch gradient is below it."""
        return float(np.max(self.gradient))

    def sigma2(self, batch: int) -> float:
        """Certified minibatch-gradient variance bound mean_i G_i^2 / |B| (samples drawn with replacement)."""
        return float(np.mean(self.gradient**2)) / batch

    def summary(self) -> dict[str, Any]:
        return {
            "radius": self.radius,
            "samples": int(self.hessian.size),
            "L_theta_mean": self.smoothness,
            "L_theta_max": self.smoothness_per_sample,
            "G_mean": self.gradient_bound,
            "G_max": self.gradient_per_sample,
            "eps_median": float(np.median(self.eps)),
            "gauss_newton_share": float(np.mean(self.gauss_newton) / max(self.smoothness, 1e-300)),
            "sigma2_per_batch_size_1": self.sigma2(1),
            "F0_upper": float(np.mean(self.loss)),
            "seconds": self.seconds,
        }


# float64 arrays per (sample, step) alive at once, upper counts measured with tracemalloc (tests/sast_theory/
# test_local.py): per neuron (boxes, slopes, tangents, adjoints of both propagations), per input entry (the input
# box, its centre, radius and magnitude, and temporaries), per input Gram entry (the Gram and its copies)
PER_NEURON, PER_INPUT, PER_GRAM = 32, 8, 4
TABLE_BYTES = 48e6  # one slope table while it is built (the grid's enclosures and sparse tables), an upper count


def memory_estimate(net: LocalNetwork, samples: int, steps: int, chunk: int = 100) -> dict[str, float]:
    """About the bytes `local_constants` allocates for `samples` samples of `steps` steps: the float64 samples,
    per chunk of samples every layer's per-neuron, per-input and input-Gram (N, 1 or n, T, T) arrays, and the
    slope tables of the spiking layers."""
    batch = min(samples, chunk)
    inputs = samples * steps * math.prod(net.input_shape) * 8.0
    working = 0.0
    for layer in net.layers:
        gram_rows = layer.n_neurons if layer.conv else 1
        per_step = PER_NEURON * layer.n_neurons + PER_INPUT * math.prod(layer.in_shape) + PER_GRAM * gram_rows * steps
        working += batch * steps * per_step * 8.0 + 4 * layer.weight.size * 8.0
    spiking = sum(layer.spiking for layer in net.layers)
    return {"samples (float64)": inputs, "local-constant arrays per chunk": working,
            "slope tables": TABLE_BYTES * spiking}


def local_constants(net: LocalNetwork, x: np.ndarray, y: np.ndarray, radius: float, chunk: int = 100,
                    progress=None) -> LocalConstants:
    """Per-sample local constants of samples x (N, T, *input_shape) in [0, X] with labels y on the ball."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if not (math.isfinite(radius) and radius >= 0):
        raise InputError(f"ball radius {radius}: expected a finite number >= 0")
    if x.ndim < 3 or x.shape[0] != y.shape[0] or tuple(x.shape[2:]) != net.input_shape:
        raise InputError(f"samples of shape {x.shape}: expected (N, T, {', '.join(map(str, net.input_shape))})")
    if x.size and (x.min() < 0 or x.max() > net.input_bound):
        raise InputError(f"sample values reach [{x.min():g}, {x.max():g}], outside [0, X = {net.input_bound:g}] (A1)")
    classes = net.layers[-1].n_neurons
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise InputError(f"labels must lie in [0, {classes})")
    start = time.process_time()
    slope_tables = tables(net)
    parts, losses = [], []
    chunks = range(0, x.shape[0], chunk)
    for first in (progress(chunks) if progress else chunks):
        xs, ys = x[first:first + chunk], y[first:first + chunk]
        boxes = propagate(net, xs, radius, slope_tables)
        center = propagate(net, xs, 0.0, slope_tables) if radius > 0 else boxes
        parts.append(sample_bounds(net, boxes, ys, radius, center))
        losses.append(loss_upper(net, center, ys))
    return LocalConstants(
        radius=float(radius),
        gradient=np.concatenate([p.gradient for p in parts]),
        hessian=np.concatenate([p.hessian for p in parts]),
        eps=np.concatenate([p.eps for p in parts]),
        gauss_newton=np.concatenate([p.parts["gauss_newton"] for p in parts]),
        loss=np.concatenate(losses),
        seconds=time.process_time() - start,
    )
